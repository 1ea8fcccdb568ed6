package main

import (
	"io"
	"mime/quotedprintable"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// smtpSink is a real SMTP server, in process, that keeps what it is given;
// refuse makes it answer a temporary failure to the next messages.
type smtpSink struct {
	addr string

	mu     sync.Mutex
	mails  []sunkMail
	refuse int
}

type sunkMail struct {
	from, to string
	raw      string
}

func newSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	sink := &smtpSink{addr: ln.Addr().String()}
	srv := smtp.NewServer(sink)
	srv.Domain = "sink.localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sink
}

func (k *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: k}, nil }

func (k *smtpSink) got() []sunkMail {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]sunkMail(nil), k.mails...)
}

type sinkSession struct {
	sink     *smtpSink
	from, to string
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = to; return nil }
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	defer s.sink.mu.Unlock()
	if s.sink.refuse > 0 {
		s.sink.refuse--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.sink.mails = append(s.sink.mails, sunkMail{from: s.from, to: s.to, raw: string(b)})
	return nil
}
func (s *sinkSession) Reset()        {}
func (s *sinkSession) Logout() error { return nil }

func (m sunkMail) body(t *testing.T) string {
	t.Helper()
	_, body, ok := strings.Cut(m.raw, "\r\n\r\n")
	require.True(t, ok)
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
	require.NoError(t, err)
	return string(b)
}

var reopenLink = regexp.MustCompile(`https?://\S+#baton-reopen=(\S+)`)

// TestRepliesReachAVisitorWhoLeft: a person writes after the visitor closed
// the tab; the lines of a quick exchange arrive at the SMTP server as one
// email, once, with the recent transcript and a link that reopens the same
// conversation; while the visitor is there, nothing is emailed; a server
// that refuses for a while is tried again.
func TestRepliesReachAVisitorWhoLeft(t *testing.T) {
	sink := newSMTPSink(t)
	e := newEnv(t, func(c *appConfig) {
		c.SMTPURL, c.SMTPFrom = "smtp://"+sink.addr, "chat@baton.test"
		c.Mail = session.MailOptions{Window: 400 * time.Millisecond, Poll: 50 * time.Millisecond}
	})
	s := e.shop("Mail Shop")
	agent := e.addAgent(s, "mia@mail.example", "Mia")

	v := e.visitor(s.m.WidgetKey)
	v.Send(map[string]any{"type": "hello", "page": "https://shop.example/basket?x=1"})
	conv := v.Expect("welcome")["conversation_id"].(string)
	handoff(v, "vera@example.com")
	code, _ := e.do("POST", "/v1/agent/conversations/"+conv+"/claim", agent, nil)
	require.Equal(t, 200, code)
	// While the visitor is there: read in the chat, not emailed.
	code, _ = e.do("POST", "/v1/agent/conversations/"+conv+"/messages", agent, map[string]any{"client_id": "m0", "text": "Hi Vera!"})
	require.Equal(t, 201, code)
	v.ExpectMessage("agent")

	require.NoError(t, v.Conn.Close())
	require.Eventually(t, func() bool {
		n, err := e.cfg.Redis.ZCard(e.ctx, e.cfg.Prefix+"{c:"+conv+"}:v").Result()
		return err == nil && n == 0
	}, 3*time.Second, 10*time.Millisecond, "the visitor's socket is still counted")
	sink.mu.Lock()
	sink.refuse = 1 // the first try is refused for now
	sink.mu.Unlock()
	for i, text := range []string{"Your parcel left today.", "Tracking: NL-123."} {
		code, _ := e.do("POST", "/v1/agent/conversations/"+conv+"/messages", agent, map[string]any{"client_id": cid("m", i+1), "text": text})
		require.Equal(t, 201, code)
	}
	require.Eventually(t, func() bool { return len(sink.got()) == 1 }, 10*time.Second, 20*time.Millisecond)
	time.Sleep(time.Second) // long enough for a second email to show itself
	mails := sink.got()
	require.Len(t, mails, 1, "one email for the quick exchange, once")
	m := mails[0]
	require.Equal(t, "vera@example.com", m.to)
	require.Equal(t, "chat@baton.test", m.from)
	body := m.body(t)
	require.Contains(t, body, "Mia: Your parcel left today.")
	require.Contains(t, body, "Mia: Tracking: NL-123.")
	require.Contains(t, body, "Mia: Hi Vera!", "the recent transcript")
	link := reopenLink.FindStringSubmatch(body)
	require.NotNil(t, link, "a reopen link in %q", body)
	require.True(t, strings.HasPrefix(link[0], "https://shop.example/basket?x=1#baton-reopen="))

	// The link opens the same conversation, with everything in it.
	back := e.visitor(s.m.WidgetKey)
	back.Send(map[string]any{"type": "hello", "reopen": link[1]})
	w := back.Expect("welcome")
	require.Equal(t, conv, w["conversation_id"])
	require.NotEmpty(t, w["resume_token"])
	last := back.Next("the last reply", func(f map[string]any) bool { return f["type"] == "message" && f["text"] == "Tracking: NL-123." })
	require.Equal(t, "agent", last["role"])
	// A tampered link opens nothing.
	bad := e.visitor(s.m.WidgetKey)
	bad.Send(map[string]any{"type": "hello", "reopen": link[1] + "x"})
	bad.ExpectError("invalid_reopen_link")
}
