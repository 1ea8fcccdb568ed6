package session

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Email continuity: when a person writes and the visitor has no socket
// open, the visitor gets the reply by email, with the recent transcript and
// a link that reopens the same conversation in the widget. The step that
// stores the agent's words marks the email owed (append.lua); a worker on
// any node sends what gathered once the batch window has passed, so a
// quick exchange is one email. An email is never sent twice: a failure
// before the message could have gone is retried with backoff; one that may
// have gone (the sender stopped mid-send) is not resent but shown to admins
// as failed, and they may send it again.

//go:embed scripts/mail.lua
var mailSource string

type mailArgs struct {
	Meta   string `lua:"meta,key"`
	Op     string `lua:"op"` // take, done, retry, fail, reset
	Holder string `lua:"holder"`
	Now    int64  `lua:"now"`
	Until  int64  `lua:"until"`
	Upto   int64  `lua:"upto"`
	Error  string `lua:"error"`
}

type mailReply struct {
	Code  string `lua:"code"`
	From  int64  `lua:"from"`
	Seq   int64  `lua:"seq"`
	Tries int64  `lua:"tries"`
}

// MailSender sends an email (package gateway/mail speaks SMTP).
type MailSender interface {
	SendMail(ctx context.Context, m Mail) error
}

// Mail is one email to a visitor.
type Mail struct {
	From      string // the merchant's from-address
	FromName  string // the merchant's name
	To        string
	Subject   string
	Text      string
	MessageID string // stable for the same batch of lines
}

// MailError is a failed send, saying whether the message could have gone.
type MailError struct {
	MayHaveSent bool
	Permanent   bool // the server refused for good (a bad address): not retried
	Reason      string
}

func (e *MailError) Error() string { return e.Reason }

// MailOptions configure email continuity.
type MailOptions struct {
	Sender MailSender
	From   string // the from-address when a merchant sets none
	// Window is how long after the first owed line the email waits for
	// more (a quick exchange is one email): 1m.
	Window time.Duration
	// LinkKey signs the links that reopen a conversation; LinkTTL is how
	// long they work (7 days).
	LinkKey []byte
	LinkTTL time.Duration
	Poll    time.Duration // 1s
	Timeout time.Duration // one send, 30s
	// MaxTries: retryable failures in a row before the email is failed (8).
	MaxTries int
}

func (o MailOptions) withDefaults() MailOptions {
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.LinkTTL <= 0 {
		o.LinkTTL = 7 * 24 * time.Hour
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxTries <= 0 {
		o.MaxTries = 8
	}
	return o
}

// owe schedules a conversation's owed email, keeping the first schedule
// (the batch window counts from the first owed line).
func (s *Service) owe(ctx context.Context, convID string) {
	at := s.now().Add(s.mailOpts.Window).UnixMilli()
	if err := s.rdb.ZAddNX(ctx, s.keys.mailDue(), zmember(float64(at), convID)).Err(); err != nil {
		s.log.WarnContext(ctx, "scheduling an email to the visitor", "conversation", convID, "err", err)
	}
}

func (s *Service) mailLoop(ctx context.Context) {
	every(ctx, s.mailOpts.Poll, func(ctx context.Context) {
		due, err := s.rdb.ZRangeByScore(ctx, s.keys.mailDue(), &redis.ZRangeBy{Min: "-inf", Max: itoa(s.now().UnixMilli()), Count: 20}).Result()
		if err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "reading owed emails", "err", err)
			}
			return
		}
		for _, conv := range due {
			s.sendOwed(ctx, conv)
		}
	})
}

// sendOwed sends a conversation's owed email if this node can take it.
func (s *Service) sendOwed(ctx context.Context, convID string) {
	o := s.mailOpts
	now := s.now()
	lease := o.Timeout + 10*time.Second
	r, err := s.mailScript.run(ctx, s.rdb, &mailArgs{Meta: s.keys.convMeta(convID), Op: "take", Holder: s.nodeID,
		Now: now.UnixMilli(), Until: now.Add(lease).UnixMilli()})
	if err != nil {
		return
	}
	switch r.Code {
	case "nothing":
		_ = s.rdb.ZRem(ctx, s.keys.mailDue(), convID).Err()
		return
	case "busy":
		return
	case "died":
		s.mailFailed(ctx, convID)
		return
	}
	mail, upto, err := s.composeMail(ctx, convID, r.From, r.Seq)
	var sendErr error
	switch {
	case err != nil:
		sendErr = &MailError{Reason: "composing the email: " + err.Error()}
	case mail == nil:
		// Nothing a person said is owed (the visitor came back, or only
		// they wrote since): done without a message.
	default:
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.Timeout)
		sendErr = o.Sender.SendMail(sctx, *mail)
		cancel()
	}
	rctx, cancel := detached(ctx, 5*time.Second)
	defer cancel()
	args := mailArgs{Meta: s.keys.convMeta(convID), Holder: s.nodeID, Now: s.now().UnixMilli(), Upto: upto}
	var me *MailError
	switch {
	case sendErr == nil:
		args.Op = "done"
	case errors.As(sendErr, &me) && !me.MayHaveSent && !me.Permanent && int(r.Tries)+1 < o.MaxTries:
		args.Op, args.Error = "retry", me.Reason
	default:
		args.Op, args.Error = "fail", sendErr.Error()
	}
	res, err := s.mailScript.run(rctx, s.rdb, &args)
	if err != nil {
		s.log.WarnContext(ctx, "recording an email", "conversation", convID, "err", err)
		return
	}
	switch args.Op {
	case "done":
		if res.From > 0 {
			// Lines came in meanwhile: another email after a window.
			_ = s.rdb.ZAdd(rctx, s.keys.mailDue(), zmember(float64(s.now().Add(o.Window).UnixMilli()), convID)).Err()
		} else {
			_ = s.rdb.ZRem(rctx, s.keys.mailDue(), convID).Err()
		}
		if mail != nil {
			s.log.InfoContext(ctx, "emailed the visitor what the team wrote", "conversation", convID, "upto", upto)
		}
	case "retry":
		next := s.now().Add(min(o.Window*time.Duration(1<<min(r.Tries, 10)), time.Hour))
		_ = s.rdb.ZAdd(rctx, s.keys.mailDue(), zmember(float64(next.UnixMilli()), convID)).Err()
		s.log.InfoContext(ctx, "emailing the visitor failed; will retry", "conversation", convID, "reason", args.Error)
	default:
		s.mailFailed(rctx, convID)
		s.log.WarnContext(ctx, "emailing the visitor failed; an admin may retry", "conversation", convID, "reason", args.Error)
	}
}

// mailFailed lists a failed email for the merchant's admins.
func (s *Service) mailFailed(ctx context.Context, convID string) {
	mid, err := s.rdb.HGet(ctx, s.keys.convMeta(convID), fMerchant).Result()
	pipe := s.rdb.Pipeline()
	if err == nil && mid != "" {
		pipe.ZAdd(ctx, s.keys.failedMails(mid), zmember(float64(s.now().UnixMilli()), convID))
	}
	pipe.ZRem(ctx, s.keys.mailDue(), convID)
	_, _ = pipe.Exec(ctx)
}

// mailContext is how many earlier lines an email shows before the new ones.
const mailContext = 8

// composeMail writes the email for lines from..seq, or nil when no person
// wrote among them; upto is the last seq it covers.
func (s *Service) composeMail(ctx context.Context, convID string, from, seq int64) (*Mail, int64, error) {
	c, _, err := s.loadConversation(ctx, convID)
	if err != nil {
		return nil, 0, err
	}
	m, err := s.Merchant(ctx, c.MerchantID)
	if err != nil {
		return nil, 0, err
	}
	start := max(0, from-1-mailContext)
	raw, err := s.readEntries(ctx, convID, start)
	if err != nil {
		return nil, 0, err
	}
	var msgs []Message
	for _, e := range raw {
		if msg, err := e.Decode(); err == nil && msg.Seq <= seq {
			msgs = append(msgs, msg)
		}
	}
	upto := seq
	agentWrote := false
	for _, msg := range msgs {
		if msg.Seq >= from && msg.Role == RoleAgent {
			agentWrote = true
		}
	}
	if !agentWrote || string(c.Visitor.Email) == "" {
		return nil, upto, nil
	}
	tx := textsFor(c.Locale)
	var b strings.Builder
	b.WriteString(fmtText(tx.MailIntro, m.Name))
	b.WriteString("\n\n")
	for _, msg := range msgs {
		if msg.Seq == from {
			b.WriteString("—\n")
		}
		who := tx.MailYou
		switch msg.Role {
		case RoleAgent:
			who = msg.Author
		case RoleAssistant:
			who = tx.MailAssistant
		case RoleSystem:
			who = m.Name
		}
		b.WriteString(who + ": " + msg.Text + "\n")
	}
	if link := s.reopenLink(c, m); link != "" {
		b.WriteString("\n" + fmtText(tx.MailReopen, link) + "\n")
	}
	fromAddr := m.Settings.EmailFrom
	if fromAddr == "" {
		fromAddr = s.mailOpts.From
	}
	return &Mail{From: fromAddr, FromName: m.Name, To: string(c.Visitor.Email), Subject: fmtText(tx.MailSubject, m.Name),
		Text: b.String(), MessageID: "baton-" + convID + "-" + strconv.FormatInt(from, 10) + "-" + strconv.FormatInt(upto, 10)}, upto, nil
}

// reopenLink is the page the conversation started on, with a token that
// opens the widget on this conversation; "" when there is no page to go to.
func (s *Service) reopenLink(c *Conversation, m *Merchant) string {
	page := c.Page
	if page == "" && len(m.Settings.AllowedOrigins) > 0 {
		page = m.Settings.AllowedOrigins[0] + "/"
	}
	u, err := url.Parse(page)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || len(s.mailOpts.LinkKey) == 0 {
		return ""
	}
	u.Fragment = "baton-reopen=" + s.reopenToken(c.ID, s.now().Add(s.mailOpts.LinkTTL))
	return u.String()
}

func (s *Service) reopenToken(convID string, exp time.Time) string {
	body := convID + "." + strconv.FormatInt(exp.Unix(), 10)
	mac := hmac.New(sha256.New, s.mailOpts.LinkKey)
	mac.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

var errBadLink = &Error{Kind: KindUnauthorized, Code: "invalid_reopen_link", Message: "this link does not open a conversation (it is wrong or too old)"}

// ReopenConversation opens a conversation from an email's link, for the
// merchant's widget: the visitor gets a fresh resume token (the old one,
// on a device the visitor left, stops working).
func (s *Service) ReopenConversation(ctx context.Context, merchantID, token string) (*Conversation, string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(s.mailOpts.LinkKey) == 0 {
		return nil, "", errBadLink
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || s.now().Unix() > exp {
		return nil, "", errBadLink
	}
	mac := hmac.New(sha256.New, s.mailOpts.LinkKey)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(parts[2])) || !validID(parts[0]) {
		return nil, "", errBadLink
	}
	c, _, err := s.loadConversation(ctx, parts[0])
	if err != nil {
		return nil, "", err
	}
	if c.MerchantID != merchantID {
		return nil, "", errBadLink
	}
	raw := make([]byte, tokenBytes)
	_, _ = rand.Read(raw)
	resume := base64.RawURLEncoding.EncodeToString(raw)
	if err := s.rdb.HSet(ctx, s.keys.convMeta(c.ID), fTokenHash, hashToken(resume)).Err(); err != nil {
		return nil, "", err
	}
	return c, resume, nil
}

// FailedMail is an email to a visitor that did not go.
type FailedMail struct {
	ConversationID string `json:"conversation_id"`
	To             string `json:"to"`
	Error          string `json:"error"`
	At             Time   `json:"at"`
}

// FailedMails lists a merchant's emails that failed, newest first.
func (s *Service) FailedMails(ctx context.Context, merchantID string) ([]FailedMail, error) {
	zs, err := s.rdb.ZRevRangeWithScores(ctx, s.keys.failedMails(merchantID), 0, listLimit-1).Result()
	if err != nil {
		return nil, err
	}
	out := []FailedMail{}
	var stale []any
	for _, z := range zs {
		id, _ := z.Member.(string)
		v, err := s.rdb.HMGet(ctx, s.keys.convMeta(id), fMerchant, "mail_state", "mail_error", fEmail).Result()
		if err != nil {
			return nil, err
		}
		str := func(i int) string { x, _ := v[i].(string); return x }
		if str(0) != merchantID || str(1) != "failed" {
			stale = append(stale, id)
			continue
		}
		out = append(out, FailedMail{ConversationID: id, To: str(3), Error: str(2), At: msTime(itoa(int64(z.Score)))})
	}
	if len(stale) > 0 {
		_ = s.rdb.ZRem(ctx, s.keys.failedMails(merchantID), stale...).Err()
	}
	return out, nil
}

// RetryMail sends a failed email again.
func (s *Service) RetryMail(ctx context.Context, merchantID, convID string) error {
	if _, err := s.conversationOf(ctx, merchantID, convID); err != nil {
		return err
	}
	r, err := s.mailScript.run(ctx, s.rdb, &mailArgs{Meta: s.keys.convMeta(convID), Op: "reset", Now: s.now().UnixMilli()})
	if err != nil {
		return err
	}
	if r.Code != "ok" {
		return newErr(KindConflict, "not_failed", "this conversation's email has not failed")
	}
	pipe := s.rdb.Pipeline()
	pipe.ZRem(ctx, s.keys.failedMails(merchantID), convID)
	pipe.ZAdd(ctx, s.keys.mailDue(), zmember(float64(s.now().UnixMilli()), convID))
	_, err = pipe.Exec(ctx)
	return err
}
