package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// VisitorInfo is what a widget tells Baton about its visitor at the start.
type VisitorInfo struct {
	Email         string
	ProfileID     string
	Authenticated bool
	Locale        string // "" for the merchant's
	Page          string // the page the chat started on
	// Addr is where the visitor connects from (never stored): new
	// conversations are limited per address.
	Addr string
}

// Turn identifies the conversation a visitor's frame belongs to, with what
// the socket already knows of it, so the common path needs no extra read.
// Get one from Conversation.Turn.
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

	// create holds a new conversation's first fields until its first step
	// stores them: a hello alone writes nothing.
	create []string
	// created is when the new conversation began, for its index entry;
	// addr where its visitor connects from, for the limits on new ones.
	created time.Time
	addr    string
}

// Fresh reports whether the conversation is not stored yet. It is stored
// by its first step (a message, a request for a person); until then it has
// nothing to resume or close.
func (t Turn) Fresh() bool { return t.create != nil }

// Stored is the turn once a step has stored the conversation.
func (t Turn) Stored() Turn {
	t.create = nil
	return t
}

const tokenBytes = 24

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// StartConversation opens a new conversation for a visitor of merchant m and
// returns it with its resume token. Nothing is stored until the visitor
// does something: the first step stores the conversation (see Turn), so a
// hello costs nothing lasting. Only a hash of the token is ever stored.
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
	fields := map[string]string{
		fMerchant: m.ID, fStatus: string(StatusAssistant), fVersion: "1", fSeq: "0",
		fCreated: itoa(now.UnixMilli()), fUpdated: itoa(now.UnixMilli()),
		fDay: now.In(m.Schedule.Location()).Format(time.DateOnly), fLocale: locale, fTokenHash: hashToken(token),
	}
	visitorFields(fields, v)
	if v.Page != "" {
		fields[fPage], _ = Clip(v.Page, 2048)
	}
	c, _ := conversationFromMeta(id, fields)
	c.create, c.created, c.addr = flatten(fields), now, v.Addr
	return c, token, nil
}

// visitorFields records who the visitor is in a conversation's fields.
func visitorFields(fields map[string]string, v VisitorInfo) {
	if v.Email != "" {
		fields[fEmail] = v.Email
	}
	if v.ProfileID != "" {
		fields[fProfile] = v.ProfileID
	}
	if v.Authenticated {
		fields[fAuth] = "1"
	}
}

func flatten(fields map[string]string) []string {
	out := make([]string, 0, 2*len(fields))
	for k, v := range fields {
		out = append(out, k, v)
	}
	return out
}

// storing returns what a step needs to store a fresh conversation: its
// first fields, and its place among the merchant's live conversations,
// written first (a conversation must never exist unlisted). A new
// conversation must be within the limits on new ones.
func (s *Service) storing(ctx context.Context, t Turn) ([]string, []indexEdit, error) {
	if !t.Fresh() {
		return nil, nil, nil
	}
	if err := s.admitNew(ctx, t.MerchantID, t.addr); err != nil {
		return nil, nil, err
	}
	at := float64(t.created.UnixMilli())
	return t.create, []indexEdit{
		{kind: editZAdd, key: s.keys.active(t.MerchantID), member: t.ConversationID, score: at},
		{kind: editZAdd, key: s.keys.startedOn(t.MerchantID, exportDay(t.created)), member: t.ConversationID, score: at,
			ttl: dayIndexTTL},
	}, nil
}

// NewConversationLimits bound how many conversations may be stored in a
// window, per visitor address and per merchant; 0 is no limit. A script
// that opens conversations in a loop is refused long before Redis fills.
type NewConversationLimits struct {
	PerAddress  int
	PerMerchant int
	Window      time.Duration // 10 minutes when zero
}

// admitNew counts a new conversation against the limits, in one round trip
// on the merchant's slot; the counters expire with their window.
func (s *Service) admitNew(ctx context.Context, merchantID, addr string) error {
	l := s.newLimits
	if l.PerAddress <= 0 && l.PerMerchant <= 0 {
		return nil
	}
	win := l.Window
	if win <= 0 {
		win = 10 * time.Minute
	}
	n := s.now().UnixMilli() / win.Milliseconds()
	pipe := s.rdb.Pipeline()
	var perAddr, perMerchant *redis.IntCmd
	if l.PerAddress > 0 && addr != "" {
		key := s.keys.newConversations(merchantID, addr, n)
		perAddr = pipe.Incr(ctx, key)
		pipe.PExpire(ctx, key, 2*win)
	}
	if l.PerMerchant > 0 {
		key := s.keys.newConversations(merchantID, "", n)
		perMerchant = pipe.Incr(ctx, key)
		pipe.PExpire(ctx, key, 2*win)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	if perAddr != nil && perAddr.Val() > int64(l.PerAddress) || perMerchant != nil && perMerchant.Val() > int64(l.PerMerchant) {
		return &Error{Kind: KindRateLimited, Code: "too_many_conversations",
			Message: "too many new conversations from here; please try again in a few minutes"}
	}
	return nil
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
// has one goes on to the team at once. It returns the turn as it now is (a
// fresh conversation keeps who the visitor is for its first step).
func (s *Service) Identify(ctx context.Context, t Turn, v VisitorInfo) (Turn, error) {
	fields := map[string]string{}
	visitorFields(fields, v)
	if len(fields) == 0 || !validID(t.ConversationID) {
		return t, nil
	}
	res, err := s.apply(ctx, applyOp{convID: t.ConversationID, merchant: t.MerchantID, on: EventIdentify,
		now: s.now(), fields: flatten(fields), wantMeta: true})
	if err != nil {
		return t, err
	}
	if res.code == "nf" && t.Fresh() {
		// Not stored yet: who the visitor is goes with the first step.
		t.create = append(append([]string(nil), t.create...), flatten(fields)...)
		return t, nil
	}
	if res.code == "state" {
		return t, nil // ended: nothing to update
	}
	if err := s.refusal(res); err != nil {
		return t, err
	}
	if res.status == StatusAwaitingEmail && v.Email != "" {
		c, ok := conversationFromMeta(t.ConversationID, res.meta)
		if ok {
			return t, s.route(ctx, t, c, v.Email)
		}
	}
	return t, nil
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
	return s.VisitorMessageThen(ctx, t, clientID, text, nil)
}

// VisitorMessageThen is VisitorMessage calling stored, when not nil, once
// the message is stored and before what it sets off begins: the visitor's
// socket follows a conversation its first message has just stored there,
// so that it is already listening for what is not stored (the model's
// typing indicator and first words), which a socket that followed after
// the call returned missed when the answer began first.
func (s *Service) VisitorMessageThen(ctx context.Context, t Turn, clientID, text string, stored func()) error {
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
		merchant: t.MerchantID,
		on:       EventWrite,
		clientID: clientID,
		now:      now,
		once:     []string{fCounted},
		base:     []entryTail{{ID: newID("m", 10), ClientID: clientID, Role: RoleVisitor, Text: text, TS: Time{now}}},
	}
	if op.create, op.enter, err = s.storing(ctx, t); err != nil {
		return err
	}
	var follow func(seq int64) error
	switch t.Status {
	case StatusAssistant:
		if gen := s.planAnswer(ctx, m, t, text, &op); gen != nil {
			follow = gen
		}
	case StatusHandoffOffered:
		switch yesNo(text) {
		case 1:
			follow = func(int64) error { return s.ReplyToOffer(ctx, t, true) }
		case -1:
			follow = func(int64) error { return s.ReplyToOffer(ctx, t, false) }
		default:
			// A new question instead of an answer: the offer lapses and the
			// assistant takes the question.
			op.then = EventLapse
			next := t
			next.Status = StatusAssistant
			follow = func(seq int64) error { return s.answerOnly(ctx, m, next, text, seq) }
		}
	case StatusAwaitingEmail:
		if addr, ok := ParseEmail(strings.TrimSpace(text)); ok {
			follow = func(int64) error { return s.SubmitEmail(ctx, t, addr) }
		}
	}
	var res *applyResult
	if op.then == "" && op.create == nil {
		// Nothing but the entry: the lean script.
		res, err = s.appendEntry(ctx, appendOp{convID: op.convID, on: EventWrite, clientID: clientID,
			now: now, entry: op.base[0], engage: !t.Engaged})
	} else {
		res, err = s.apply(ctx, op)
	}
	if err != nil {
		return err
	}
	if err := s.refusal(res); err != nil {
		return err
	}
	if stored != nil {
		stored()
	}
	if res.code == "dup" {
		return nil
	}
	if len(res.once) > 0 && res.once[0] {
		s.count(ctx, t.MerchantID, res.day, metricConversations)
	}
	if follow != nil {
		return follow(res.entries[0].Seq)
	}
	return nil
}

// answerOnly runs the assistant on text already stored at seq.
func (s *Service) answerOnly(ctx context.Context, m *Merchant, t Turn, text string, seq int64) error {
	op := applyOp{convID: t.ConversationID, merchant: t.MerchantID, on: EventAnswer, now: s.now()}
	if gen := s.planAnswer(ctx, m, t, text, &op); gen != nil {
		return gen(seq)
	}
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
// to op as the part that runs only while the assistant has the
// conversation. When the merchant's answers come from the model, op only
// stores the visitor's message, and planAnswer returns what starts the
// model's answer once it is stored (at its seq).
func (s *Service) planAnswer(ctx context.Context, m *Merchant, t Turn, text string, op *applyOp) func(seq int64) error {
	ans, err := s.assistant.Answer(ctx, Question{MerchantID: m.ID, Locale: t.Locale, Text: text, Knowledge: m.Knowledge})
	if err != nil {
		s.log.WarnContext(ctx, "assistant failed; treating as unsure", "conversation", t.ConversationID, "err", err)
		ans = Answer{Kind: Unsure}
	}
	if ans.Kind != WantsPerson && s.usesModel(m) {
		at := op.now
		return func(seq int64) error {
			s.gen.start(ask{turn: t, merchant: m, text: text, cursor: seq, at: at, builtin: ans})
			return nil
		}
	}
	op.then = EventAnswer
	switch ans.Kind {
	case Answered, SmallTalk:
		e := s.assistantEntry(ans.Text, op.now)
		if ans.EntryID != "" {
			e.Sources = []string{ans.EntryID}
		}
		op.condEntries = append(op.condEntries, e)
	case WantsPerson:
		s.planHandoff(m, t, ReasonVisitorAsked, "", op)
	default:
		s.planHandoff(m, t, ReasonUnsure, "", op)
		op.after = append(op.after, s.gapEdit(m, t.ConversationID, text, op.now))
	}
	return nil
}

// planHandoff adds the merchant's handoff to op: an offer of a person, or
// the custom message. reason says why (the Reason constants); detail is the
// model's own words for a model_handoff.
func (s *Service) planHandoff(m *Merchant, t Turn, reason, detail string, op *applyOp) {
	tx := textsFor(t.Locale)
	op.handoff = handoffNote{method: m.Settings.Handoff.Method, outcome: HandoffOffered, reason: reason}
	if !m.Settings.Handoff.Method.OffersPerson() {
		op.handoff.outcome = HandoffMessaged
		msg := m.Settings.Handoff.Message
		if strings.TrimSpace(msg) == "" {
			msg = tx.CustomDefault
		}
		op.condEntries = append(op.condEntries, s.assistantEntry(msg, op.now))
		return
	}
	prompt := tx.OfferUnsure
	if reason == ReasonVisitorAsked {
		prompt = tx.OfferRequested
	}
	detail, _ = Clip(strings.TrimSpace(detail), maxDetail)
	op.then = EventOffer
	op.state = State{Prompt: prompt}
	op.fields = append(op.fields, fPrompt, prompt, fHandoff, reason, fHandoffInfo, detail)
}

// RequestHandoff is the visitor pressing "talk to a person". An answer the
// model is still writing is dropped at once.
func (s *Service) RequestHandoff(ctx context.Context, t Turn) error {
	if s.gen != nil {
		s.gen.cancelDraft(t.ConversationID)
	}
	m, err := s.Merchant(ctx, t.MerchantID)
	if err != nil {
		return err
	}
	op := applyOp{convID: t.ConversationID, merchant: t.MerchantID, on: EventAnswer, now: s.now(), once: []string{fCounted}}
	if op.create, op.enter, err = s.storing(ctx, t); err != nil {
		return err
	}
	s.planHandoff(m, t, ReasonVisitorAsked, "", &op)
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
		res, err := s.apply(ctx, applyOp{convID: t.ConversationID, merchant: t.MerchantID, on: EventDecline,
			now: now, fields: []string{fPrompt, ""}, condEntries: []entryTail{s.assistantEntry(tx.Declined, now)}})
		if err != nil {
			return err
		}
		if res.code == "ok" && res.applied {
			if m, err := s.Merchant(ctx, t.MerchantID); err == nil {
				s.obs.Handoff(m.Settings.Handoff.Method, HandoffDeclined, handoffReason(res.meta[fHandoff]))
			}
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
		res, err := s.apply(ctx, applyOp{convID: t.ConversationID, merchant: t.MerchantID, on: EventAskEmail,
			now: now, state: State{Prompt: tx.EmailRequest}, fields: []string{fPrompt, tx.EmailRequest}})
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
		s.log.WarnContext(ctx, "helpdesk not connected; using the inbox", "merchant", m.ID, "method", method)
	}
	return s.routeInbox(ctx, m, t, c, email)
}

func (s *Service) routeInbox(ctx context.Context, m *Merchant, t Turn, c *Conversation, email string) error {
	now := s.now()
	tx := textsFor(t.Locale)
	office := m.Schedule.At(now)
	ep := newEpisode(now)
	queuedAt := now.UnixMilli()
	op := applyOp{
		convID: c.ID, merchant: m.ID, on: EventQueue, now: now, once: []string{fRouted}, wantMeta: true,
		enter: []indexEdit{s.queueEntry(m.ID, c.ID, ep, queuedAt)},
	}
	// The round trip that lists the conversation in the queue also learns
	// its position and who is on.
	op.prepare = func(ctx context.Context, pipe redis.Pipeliner) func(*applyOp) {
		rank := pipe.ZCount(ctx, s.keys.queue(m.ID), "-inf", itoa(queuedAt))
		presence := pipe.HGetAll(ctx, s.keys.presence(m.ID))
		online := s.openConsoles(ctx, pipe, m.ID, now)
		transcript := pipe.LRange(ctx, s.keys.convLog(c.ID), 0, -1)
		return func(op *applyOp) {
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
			case countAvailable(presence.Val(), online.Val()) == 0:
				text = m.Settings.AutoResponse
				if strings.TrimSpace(text) == "" {
					text = tx.AutoResponse
				}
			default:
				text = tx.QueuedOpen
			}
			op.state = State{QueuePosition: pos}
			op.fields = []string{fQueuedAt, itoa(queuedAt), fQueueEp, ep, fQueuePos, strconv.Itoa(pos), fPrompt, "",
				fSummary, extractiveSummary(decodeAll(transcript.Val()), m.Settings.Locale), fHandedAt, itoa(queuedAt)}
			if email != "" {
				op.fields = append(op.fields, fEmail, email)
			}
			op.condEntries = []entryTail{s.systemEntry(text, now)}
		}
	}
	res, err := s.apply(ctx, op)
	if err != nil {
		return err
	}
	if err := s.refusal(res); err != nil {
		return err
	}
	if len(res.once) > 0 && res.once[0] {
		s.countRouted(ctx, m.ID, res.day, res.meta[fHandoff])
		s.obs.Handoff(MethodInbox, HandoffQueued, handoffReason(res.meta[fHandoff]))
	}
	s.assignSoon(m.ID)
	return nil
}

// decodeAll decodes stored transcript entries, skipping any that do not.
func decodeAll(vals []string) []Message {
	out := make([]Message, 0, len(vals))
	for i, v := range vals {
		if msg, err := (RawEntry{Seq: int64(i + 1), JSON: []byte(v)}).Decode(); err == nil {
			out = append(out, msg)
		}
	}
	return out
}

// queueEntry lists a conversation in its merchant's queue for one stay
// (episode) there, scored by when it joined.
func (s *Service) queueEntry(merchantID, convID, episode string, at int64) indexEdit {
	return indexEdit{kind: editZAdd, key: s.keys.queue(merchantID), member: queueMember(convID, episode), score: float64(at)}
}

// CloseByVisitor ends the conversation at the visitor's request.
func (s *Service) CloseByVisitor(ctx context.Context, t Turn) error {
	_, err := s.close(ctx, t.MerchantID, t.ConversationID, "visitor_closed")
	if t.Fresh() && errors.Is(err, ErrNotFound) {
		return nil // nothing was stored, nothing to end
	}
	return err
}

// Typing relays a typing indicator; it is never stored.
func (s *Service) Typing(ctx context.Context, convID string, role Role, active bool) error {
	flag := "0"
	if active {
		flag = "1"
	}
	s.hub.localTyping(convID, role, active)
	return s.pub.conversation(ctx, s.rdb, s.keys.convChannel(convID), "t"+s.nodeID+" "+string(role)+" "+flag)
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

// Clip shortens s to at most n bytes without cutting a character in two,
// and reports whether it had to.
func Clip(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}
