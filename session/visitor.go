package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// VisitorInfo is what a widget tells Baton about its visitor at the start.
type VisitorInfo struct {
	Email         string
	ProfileID     string
	Authenticated bool
	Locale        string // "" for the merchant's
	Page          string // the page the chat started on
}

// Turn identifies the conversation a visitor's frame belongs to, with what
// the socket already knows of it, so the common path needs no extra read.
type Turn struct {
	ConversationID string
	MerchantID     string
	Locale         string
	// Status is the last status the socket saw. It only picks the optimistic
	// path; the Lua script checks the real one.
	Status Status
	// Engaged: the visitor already wrote or asked for a person, so the
	// conversation is counted in the metrics (spares a write per message).
	Engaged bool
}

const tokenBytes = 24

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// StartConversation opens a new conversation for a visitor of merchant m and
// returns it with its resume token. Only a hash of the token is stored.
func (s *Service) StartConversation(ctx context.Context, m *Merchant, v VisitorInfo) (*Conversation, string, error) {
	now := s.now()
	id := newID("c", 15)
	raw := make([]byte, tokenBytes)
	_, _ = rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	locale := v.Locale
	if !SupportedLocale(locale) {
		locale = m.Settings.Locale
	}
	day := now.In(m.Schedule.Location()).Format(time.DateOnly)
	fields := map[string]any{
		fMerchant: m.ID, fStatus: string(StatusAssistant), fVersion: 1, fSeq: 0,
		fCreated: now.UnixMilli(), fUpdated: now.UnixMilli(), fDay: day,
		fLocale: locale, fTokenHash: hashToken(token),
	}
	if v.Email != "" {
		fields[fEmail] = v.Email
	}
	if v.ProfileID != "" {
		fields[fProfile] = v.ProfileID
	}
	if v.Authenticated {
		fields[fAuth] = "1"
	}
	if v.Page != "" {
		fields[fPage] = truncate(v.Page, 2048)
	}
	pipe := s.rdb.Pipeline()
	// The index first: a conversation must never exist unlisted.
	pipe.ZAdd(ctx, s.keys.active(m.ID), zmember(float64(now.UnixMilli()), id))
	pipe.HSet(ctx, s.keys.convMeta(id), fields)
	pipe.PExpire(ctx, s.keys.convMeta(id), liveTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, "", err
	}
	c, _ := conversationFromMeta(id, stringify(fields))
	return c, token, nil
}

// ResumeConversation checks a resume token and returns the conversation.
// Another merchant's conversation is not found, whatever the token.
func (s *Service) ResumeConversation(ctx context.Context, merchantID, convID, token string) (*Conversation, error) {
	if !validID(convID) {
		return nil, ErrNotFound
	}
	c, m, err := s.loadConversation(ctx, convID)
	if err != nil {
		return nil, err
	}
	if c.MerchantID != merchantID {
		return nil, ErrNotFound
	}
	if subtle.ConstantTimeCompare([]byte(hashToken(token)), []byte(m[fTokenHash])) != 1 {
		return nil, &Error{Kind: KindUnauthorized, Code: "invalid_resume_token", Message: "the resume token does not match this conversation"}
	}
	c.prompt = m[fPrompt]
	return c, nil
}

// Identify records who the visitor is, when they sign in mid-conversation,
// and tells the team. A visitor who was being asked for an address and now
// has one goes on to the team at once.
func (s *Service) Identify(ctx context.Context, t Turn, v VisitorInfo) error {
	var fields []string
	if v.Email != "" {
		fields = append(fields, fEmail, v.Email)
	}
	if v.ProfileID != "" {
		fields = append(fields, fProfile, v.ProfileID)
	}
	if v.Authenticated {
		fields = append(fields, fAuth, "1")
	}
	if len(fields) == 0 || !validID(t.ConversationID) {
		return nil
	}
	live := liveStatuses()
	res, err := s.apply(ctx, applyOp{convID: t.ConversationID, need: live, cond: live, now: s.now(),
		fields: fields, wantMeta: true, announce: t.MerchantID})
	if err != nil {
		return err
	}
	if res.code == "state" {
		return nil // ended: nothing to update
	}
	if err := s.refusal(res); err != nil {
		return err
	}
	if res.status == StatusAwaitingEmail && v.Email != "" {
		c, ok := conversationFromMeta(t.ConversationID, res.meta)
		if ok {
			return s.route(ctx, t, c, v.Email)
		}
	}
	return nil
}

func (s *Service) assistantEntry(text string, now time.Time) entryTail {
	return entryTail{ID: newID("m", 10), Role: RoleAssistant, Text: text, TS: Time{now}}
}

func (s *Service) systemEntry(text string, now time.Time) entryTail {
	return entryTail{ID: newID("m", 10), Role: RoleSystem, Text: text, TS: Time{now}}
}

// VisitorMessage stores what the visitor said and, while the assistant has
// the conversation, its reply or the handoff the merchant chose, all in one
// atomic step. A client_id already stored is a no-op: its entry was or will
// be delivered to the visitor's feed.
func (s *Service) VisitorMessage(ctx context.Context, t Turn, clientID, text string) error {
	if err := ValidateClientID(clientID); err != nil {
		return err
	}
	if err := ValidateText(text); err != nil {
		return err
	}
	m, err := s.Merchant(ctx, t.MerchantID)
	if err != nil {
		return err
	}
	now := s.now()
	op := applyOp{
		convID:   t.ConversationID,
		need:     liveStatuses(),
		clientID: clientID,
		now:      now,
		once:     []string{fCounted},
		base:     []entryTail{{ID: newID("m", 10), ClientID: clientID, Role: RoleVisitor, Text: text, TS: Time{now}}},
	}
	var follow func() error
	switch t.Status {
	case StatusAssistant:
		s.planAnswer(ctx, m, t, text, &op)
	case StatusHandoffOffered:
		switch yesNo(text) {
		case 1:
			follow = func() error { return s.ReplyToOffer(ctx, t, true) }
		case -1:
			follow = func() error { return s.ReplyToOffer(ctx, t, false) }
		default:
			// A new question instead of an answer: the offer lapses and the
			// assistant takes the question.
			op.cond = []Status{StatusHandoffOffered}
			op.newStatus = StatusAssistant
			op.state = State{Status: StatusAssistant}
			next := t
			next.Status = StatusAssistant
			follow = func() error { return s.answerOnly(ctx, m, next, text) }
		}
	case StatusAwaitingEmail:
		if addr, ok := ParseEmail(strings.TrimSpace(text)); ok {
			follow = func() error { return s.SubmitEmail(ctx, t, addr) }
		}
	}
	var res *applyResult
	if op.cond == nil {
		// Nothing but the entry: the lean script.
		res, err = s.appendEntry(ctx, appendOp{convID: op.convID, need: op.need, clientID: clientID,
			now: now, entry: op.base[0], engage: !t.Engaged})
	} else {
		res, err = s.apply(ctx, op)
	}
	if err != nil {
		return err
	}
	if err := s.refusal(res); err != nil || res.code == "dup" {
		return err
	}
	if len(res.once) > 0 && res.once[0] {
		s.count(ctx, t.MerchantID, res.day, metricConversations)
	}
	if follow != nil {
		return follow()
	}
	return nil
}

// answerOnly runs the assistant on text already stored.
func (s *Service) answerOnly(ctx context.Context, m *Merchant, t Turn, text string) error {
	op := applyOp{convID: t.ConversationID, need: []Status{StatusAssistant}, now: s.now()}
	s.planAnswer(ctx, m, t, text, &op)
	res, err := s.apply(ctx, op)
	if err != nil {
		return err
	}
	if res.code == "state" {
		return nil // the conversation moved on meanwhile; nothing to answer
	}
	return s.refusal(res)
}

// planAnswer asks the assistant and adds its reply, or the merchant's handoff,
// to op as the part that runs only while the assistant has the conversation.
func (s *Service) planAnswer(ctx context.Context, m *Merchant, t Turn, text string, op *applyOp) {
	ans, err := s.assistant.Answer(ctx, Question{MerchantID: m.ID, Locale: t.Locale, Text: text, Knowledge: m.Knowledge})
	if err != nil {
		s.log.Warn("assistant failed; treating as unsure", "conversation", t.ConversationID, "err", err)
		ans = Answer{Kind: Unsure}
	}
	op.cond = []Status{StatusAssistant}
	switch ans.Kind {
	case Answered, SmallTalk:
		op.condEntries = append(op.condEntries, s.assistantEntry(ans.Text, op.now))
	default:
		s.planHandoff(m, t, ans.Kind == WantsPerson, op)
	}
}

// planHandoff adds the merchant's handoff to op: an offer of a person, or
// the custom message.
func (s *Service) planHandoff(m *Merchant, t Turn, requested bool, op *applyOp) {
	tx := textsFor(t.Locale)
	if !m.Settings.Handoff.Method.OffersPerson() {
		msg := m.Settings.Handoff.Message
		if strings.TrimSpace(msg) == "" {
			msg = tx.CustomDefault
		}
		op.condEntries = append(op.condEntries, s.assistantEntry(msg, op.now))
		return
	}
	prompt, reason := tx.OfferUnsure, "no_answer"
	if requested {
		prompt, reason = tx.OfferRequested, "visitor_request"
	}
	op.newStatus = StatusHandoffOffered
	op.state = State{Status: StatusHandoffOffered, Prompt: prompt}
	op.fields = append(op.fields, fPrompt, prompt, fHandoff, reason)
}

// RequestHandoff is the visitor pressing "talk to a person".
func (s *Service) RequestHandoff(ctx context.Context, t Turn) error {
	m, err := s.Merchant(ctx, t.MerchantID)
	if err != nil {
		return err
	}
	op := applyOp{convID: t.ConversationID, need: []Status{StatusAssistant}, cond: []Status{StatusAssistant},
		now: s.now(), once: []string{fCounted}}
	s.planHandoff(m, t, true, &op)
	res, err := s.apply(ctx, op)
	if err != nil {
		return err
	}
	if res.code == "state" {
		switch {
		case res.status.Terminal():
			return ErrConversationClosed
		default:
			// Already offered, asked or with the team: the socket's state
			// already shows it.
			return nil
		}
	}
	if err := s.refusal(res); err != nil {
		return err
	}
	if len(res.once) > 0 && res.once[0] {
		s.count(ctx, t.MerchantID, res.day, metricConversations)
	}
	return nil
}

// ReplyToOffer is the visitor's answer to the handoff offer.
func (s *Service) ReplyToOffer(ctx context.Context, t Turn, accept bool) error {
	now := s.now()
	tx := textsFor(t.Locale)
	if !accept {
		op := applyOp{convID: t.ConversationID, need: []Status{StatusHandoffOffered}, cond: []Status{StatusHandoffOffered},
			now: now, newStatus: StatusAssistant, state: State{Status: StatusAssistant},
			fields:      []string{fPrompt, ""},
			condEntries: []entryTail{s.assistantEntry(tx.Declined, now)}}
		res, err := s.apply(ctx, op)
		if err != nil {
			return err
		}
		return s.refusal(res)
	}
	c, _, err := s.loadConversation(ctx, t.ConversationID)
	if err != nil {
		return err
	}
	if c.Status != StatusHandoffOffered {
		return s.stateError(c.Status)
	}
	if c.Visitor.Email == "" {
		op := applyOp{convID: t.ConversationID, need: []Status{StatusHandoffOffered}, cond: []Status{StatusHandoffOffered},
			now: now, newStatus: StatusAwaitingEmail, state: State{Status: StatusAwaitingEmail, Prompt: tx.EmailRequest},
			fields: []string{fPrompt, tx.EmailRequest}}
		res, err := s.apply(ctx, op)
		if err != nil {
			return err
		}
		return s.refusal(res)
	}
	return s.route(ctx, t, c, "")
}

// SubmitEmail is the visitor's answer to the email request.
func (s *Service) SubmitEmail(ctx context.Context, t Turn, email string) error {
	addr, ok := ParseEmail(strings.TrimSpace(email))
	if !ok {
		return &Error{Kind: KindInvalid, Code: "invalid_email", Message: "that does not look like an email address"}
	}
	c, _, err := s.loadConversation(ctx, t.ConversationID)
	if err != nil {
		return err
	}
	if c.Status != StatusAwaitingEmail {
		return s.stateError(c.Status)
	}
	return s.route(ctx, t, c, addr)
}

// route hands an accepted conversation to the merchant's team the way the
// merchant chose. email is the address just given, if any.
func (s *Service) route(ctx context.Context, t Turn, c *Conversation, email string) error {
	m, err := s.Merchant(ctx, t.MerchantID)
	if err != nil {
		return err
	}
	switch method := m.Settings.Handoff.Method; method {
	case MethodZendesk, MethodGorgias:
		if m.Integrations.Connected(method) {
			return s.routeHelpdesk(ctx, m, t, c, email)
		}
		// Settings refuse a helpdesk that is not connected; should one be
		// stored anyway, the inbox takes the conversation rather than
		// leaving the visitor waiting on a ticket nobody can make.
		s.log.Warn("helpdesk not connected; using the inbox", "merchant", m.ID, "method", method)
	}
	return s.routeInbox(ctx, m, t, c, email)
}

func (s *Service) routeInbox(ctx context.Context, m *Merchant, t Turn, c *Conversation, email string) error {
	now := s.now()
	tx := textsFor(t.Locale)
	office := m.Schedule.At(now)
	ep := newEpisode(now)
	queuedAt := now.UnixMilli()
	member := queueMember(c.ID, ep)

	// Into the queue index before the conversation says "queued" (see the
	// package doc); the same round trip learns the position and who is on.
	pipe := s.rdb.Pipeline()
	pipe.ZAdd(ctx, s.keys.queue(m.ID), zmember(float64(queuedAt), member))
	rank := pipe.ZCount(ctx, s.keys.queue(m.ID), "-inf", strconv.FormatInt(queuedAt, 10))
	presence := pipe.HGetAll(ctx, s.keys.presence(m.ID))
	online := pipe.ZRangeByScore(ctx, s.keys.consoles(m.ID), &redis.ZRangeBy{Min: strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"})
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	available := countAvailable(presence.Val(), online.Val())
	pos := int(rank.Val())

	var text string
	switch {
	case !office.Open:
		text = m.Settings.AwayMessage
		if strings.TrimSpace(text) == "" {
			text = tx.AwayMessage
		}
		if !office.NextOpen.IsZero() {
			when := tx.formatOpening(office.NextOpen, m.Schedule.Location())
			if strings.Contains(text, "{next_open}") {
				text = strings.ReplaceAll(text, "{next_open}", when)
			} else {
				text += " " + strings.Replace(tx.NextOpen, "%s", when, 1)
			}
		}
	case available == 0:
		text = m.Settings.AutoResponse
		if strings.TrimSpace(text) == "" {
			text = tx.AutoResponse
		}
	default:
		text = tx.QueuedOpen
	}
	fields := []string{fQueuedAt, strconv.FormatInt(queuedAt, 10), fQueueEp, ep, fQueuePos, strconv.Itoa(pos),
		fPrompt, "", "method", string(MethodInbox)}
	if email != "" {
		fields = append(fields, fEmail, email)
	}
	op := applyOp{
		convID: c.ID, need: transitions[EventQueue].from, cond: transitions[EventQueue].from,
		now: now, newStatus: StatusQueued, state: State{Status: StatusQueued, QueuePosition: pos},
		fields: fields, once: []string{fRouted}, wantMeta: true,
		condEntries: []entryTail{s.systemEntry(text, now)},
		announce:    m.ID, queueChanged: true,
	}
	res, err := s.apply(ctx, op)
	if err != nil {
		return err
	}
	if res.code != "ok" {
		// This episode never became the conversation's: take it back out.
		_ = s.rdb.ZRem(ctx, s.keys.queue(m.ID), member).Err()
		return s.refusal(res)
	}
	if len(res.once) > 0 && res.once[0] {
		s.count(ctx, m.ID, res.day, metricRouted)
	}
	return nil
}

// CloseByVisitor ends the conversation at the visitor's request.
func (s *Service) CloseByVisitor(ctx context.Context, t Turn) error {
	_, err := s.close(ctx, t.MerchantID, t.ConversationID, "visitor_closed", "")
	return err
}

// Typing relays a typing indicator; it is never stored.
func (s *Service) Typing(ctx context.Context, convID string, role Role, active bool) error {
	flag := "0"
	if active {
		flag = "1"
	}
	s.hub.localTyping(convID, role, active)
	return s.rdb.Publish(ctx, s.keys.convChannel(convID), "t"+s.nodeID+" "+string(role)+" "+flag).Err()
}

// Office reports whether the merchant is open now.
func (s *Service) Office(m *Merchant) OfficeState { return m.Schedule.At(s.now()) }

// refusal turns apply.lua's refusals into errors.
func (s *Service) refusal(res *applyResult) error {
	switch res.code {
	case "ok", "dup":
		return nil
	case "nf":
		return ErrNotFound
	case "full":
		return &Error{Kind: KindTooLarge, Code: "transcript_full", Message: "this conversation is too long; please start a new one"}
	case "agent":
		return &Error{Kind: KindConflict, Code: "not_assigned", Message: "the conversation is not assigned to you"}
	}
	return s.stateError(res.status)
}

func (s *Service) stateError(st Status) error {
	if st.Terminal() {
		return ErrConversationClosed
	}
	return &Error{Kind: KindConflict, Code: "invalid_state", Message: "not possible while the conversation is " + string(st)}
}

// ParseEmail accepts a bare address with a dotted domain and returns it.
func ParseEmail(s string) (string, bool) {
	if len(s) > 254 || len(s) < 3 {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 {
		return "", false
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.ContainsAny(s, " \t\r\n<>\"") {
		return "", false
	}
	return s, true
}

// yesNo reads a typed answer to the offer: 1 yes, -1 no, 0 neither.
func yesNo(text string) int {
	t := strings.ToLower(strings.Trim(strings.TrimSpace(text), ".!?"))
	switch t {
	case "yes", "y", "yes please", "sure", "ok", "okay", "please", "yep", "yeah",
		"ja", "ja graag", "graag", "prima", "goed", "oké", "oke":
		return 1
	case "no", "n", "no thanks", "no thank you", "nope", "nee", "nee dank je", "nee bedankt", "liever niet":
		return -1
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func stringify(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case int:
			out[k] = strconv.Itoa(x)
		case int64:
			out[k] = strconv.FormatInt(x, 10)
		}
	}
	return out
}
