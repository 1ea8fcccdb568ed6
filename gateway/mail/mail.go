// Package mail sends Baton's emails to visitors over SMTP: it implements
// session.MailSender. BATON_SMTP_URL says where: smtp://user:pass@host:587
// (STARTTLS when the server offers it; required for a password unless the
// server is on loopback) or smtps://user:pass@host:465 (TLS from the start).
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/batonchat/baton/session"
)

// Sender sends emails through one SMTP server.
type Sender struct {
	addr     string // host:port
	host     string
	implicit bool // smtps: TLS from the first byte
	user     string
	pass     string
	helo     string
	tls      *tls.Config
}

// New parses an smtp:// or smtps:// URL.
func New(raw, helo string) (*Sender, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, errors.New("want smtp://[user:pass@]host[:port] or smtps://…")
	}
	s := &Sender{host: u.Hostname(), implicit: u.Scheme == "smtps", helo: helo}
	port := u.Port()
	if port == "" {
		port = "587"
		if s.implicit {
			port = "465"
		}
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	if s.helo == "" {
		s.helo = "baton.localhost"
	}
	s.tls = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	return s, nil
}

// SendMail implements session.MailSender. A failure says whether the
// message could have gone: only once the server was given the whole
// message and its answer was lost is that so.
func (s *Sender) SendMail(ctx context.Context, m session.Mail) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	d := net.Dialer{Deadline: deadline}
	var conn net.Conn
	var err error
	if s.implicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return &session.MailError{Reason: "connecting to the mail server: " + err.Error()}
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return refused("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.helo); err != nil {
		return refused("HELO", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !s.implicit {
		if err := c.StartTLS(s.tls); err != nil {
			return refused("STARTTLS", err)
		}
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return refused("signing in", err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return refused("MAIL FROM", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return refused("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return refused("DATA", err)
	}
	if _, err := w.Write(message(m)); err != nil {
		return &session.MailError{MayHaveSent: true, Reason: "writing the message: " + err.Error()}
	}
	if err := w.Close(); err != nil {
		var tp *textproto.Error
		if errors.As(err, &tp) {
			return refused("the message", err) // the server answered: it did not take it
		}
		return &session.MailError{MayHaveSent: true, Reason: "the server's answer to the message was lost: " + err.Error()}
	}
	_ = c.Quit()
	return nil
}

// refused is a failure before the server took the message: safe to try
// again, unless the server said the address itself is no good (5xx).
func refused(step string, err error) error {
	e := &session.MailError{Reason: step + ": " + err.Error()}
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 {
		e.Permanent = true
	}
	return e
}

// message is the email as sent: headers, a blank line, the body as
// quoted-printable UTF-8 text.
func message(m session.Mail) []byte {
	var b strings.Builder
	from := mail.Address{Name: m.FromName, Address: m.From}
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from.String())
	header("To", (&mail.Address{Address: m.To}).String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+m.MessageID+"@baton>")
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-replied")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&crlfWriter{&b})
	_, _ = qp.Write([]byte(m.Text))
	_ = qp.Close()
	return []byte(b.String())
}

// crlfWriter turns the body's line breaks into CRLF, as SMTP wants.
type crlfWriter struct{ b *strings.Builder }

func (w *crlfWriter) Write(p []byte) (int, error) {
	w.b.WriteString(strings.ReplaceAll(strings.ReplaceAll(string(p), "\r\n", "\n"), "\n", "\r\n"))
	return len(p), nil
}
