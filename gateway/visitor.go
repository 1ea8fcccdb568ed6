package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/batonchat/baton/gateway/socket"
	"github.com/batonchat/baton/session"
)

// visitor is one widget socket.
type visitor struct {
	g    *Gateway
	conn *socket.Conn
	m    *session.Merchant
	addr string // the client's address, for the limits on new conversations
	rid  string // the upgrade request's id, in every log line about the socket

	msgLimit   *rate.Limiter // BATON_VISITOR_RATE_LIMIT, messages only; nil when off
	frameLimit *rate.Limiter // any frame, against floods; nil when limits are off
	refused    int           // frames refused for flooding, in a row

	lastTyping     time.Time
	lastTypingFlag bool
	watchdog       *time.Timer // until hello
	lastFrame      time.Time   // when the reader last got a frame
	chatty         int         // frames in a row within chattyGap of the one before

	// Set once by hello, read by the reader goroutine only.
	feed *session.Feed

	mu            sync.Mutex // guards below; watcher calls come from feeds
	turn          session.Turn
	started       bool
	gotState      bool
	state         session.State
	welcomeStatus session.Status
	queuePos      int
	estimate      *int   // the last wait estimate shown, seconds
	queueGen      int    // bumped whenever the queue watch should change
	stopQueue     func() // the open queue watch, if any
	finished      bool
}

const (
	maxRefused   = 200 // frames refused in a row for flooding before the socket is closed
	helloTimeout = 10 * time.Second
	opTimeout    = 5 * time.Second
)

func (g *Gateway) newVisitor(conn *socket.Conn, m *session.Merchant, addr, rid string) *visitor {
	return &visitor{g: g, conn: conn, m: m, addr: addr, rid: rid}
}

// run reads frames until the socket ends.
func (v *visitor) run(ctx context.Context) {
	if v.g.log.Enabled(ctx, slog.LevelDebug) {
		v.logger().Debug("visitor socket opened", "addr", v.addr)
	}
	v.conn.SetReadDeadline(time.Now().Add(helloTimeout + time.Second))
	v.helloWatchdog()
	v.loop(ctx, true, false)
}

// A socket that has sent chattyRun frames in a row, each within chattyGap
// of the one before, is chatty: its reader goes straight on to the next
// Read. Any other, after each frame, asks whether its next Read would wait
// (socket.Conn.Idle, one peek) and if so goes on in a fresh goroutine that
// rests (socket.Conn.Rest): handling a frame grows the stack (Redis, JSON,
// the feeds), a fresh goroutine starts small again, and one that rests stays
// small. A chatty socket is spared the peek and the goroutine per frame,
// which would cost more than they save (at 10,000 messages per second they
// would be one system call and one goroutine more per message); one that
// goes quiet after a run rests from its next frame on.
const (
	chattyGap = 200 * time.Millisecond
	chattyRun = 3
)

// loop reads frames until the socket ends. Until the hello is done it runs
// on the upgrade's goroutine; from then on as above (chattyRun).
func (v *visitor) loop(ctx context.Context, beforeHello, rest bool) {
	defer v.recover()
	for {
		if beforeHello {
			v.mu.Lock()
			started := v.started
			v.mu.Unlock()
			if started {
				go v.loop(ctx, false, true)
				return
			}
		}
		if rest {
			v.conn.Rest()
			rest = false
		}
		data, binary, err := v.conn.Read()
		if err != nil {
			v.mu.Lock()
			started := v.started
			v.mu.Unlock()
			if !started && socket.IsTimeout(err) {
				v.logger().Debug("visitor socket never said hello")
			}
			v.finish()
			return
		}
		now := time.Now()
		if now.Sub(v.lastFrame) < chattyGap {
			v.chatty++
		} else {
			v.chatty = 0
		}
		v.lastFrame = now
		if binary {
			v.sendError("bad_frame", "frames must be JSON text", "")
		} else {
			v.handle(ctx, data)
		}
		if !beforeHello && v.chatty < chattyRun && v.conn.Idle() {
			go v.loop(ctx, false, true)
			return
		}
	}
}

// helloWatchdog closes a socket that has not said hello in time, with a clear
// error first; the read deadline alone would close it without a word. A
// timer, not a goroutine: an idle socket keeps only its reader.
func (v *visitor) helloWatchdog() {
	v.watchdog = time.AfterFunc(helloTimeout-200*time.Millisecond, func() {
		v.mu.Lock()
		started := v.started
		v.mu.Unlock()
		if !started {
			v.conn.Send(encode(errorFrame{Type: "error", Code: "hello_timeout", Message: "send hello first, within 10 seconds", Fatal: true}))
			v.conn.Close(websocket.ClosePolicyViolation, "hello timeout")
		}
	})
	v.conn.OnDone(func() { v.watchdog.Stop() })
}

func (v *visitor) finish() {
	v.mu.Lock()
	v.finished = true
	stopQueue := v.stopQueue
	v.stopQueue = nil
	turn := v.turn
	typing := v.lastTypingFlag
	v.mu.Unlock()
	if v.g.log.Enabled(context.Background(), slog.LevelDebug) {
		v.logger().Debug("visitor socket closed")
	}
	if v.feed != nil {
		v.feed.Stop()
	}
	if stopQueue != nil {
		stopQueue()
	}
	if typing && turn.ConversationID != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = v.g.svc.Typing(ctx, turn.ConversationID, session.RoleVisitor, false)
		cancel()
	}
}

func (v *visitor) send(frame []byte) { v.conn.Send(frame) }

// recover keeps a bug in one socket's handling from taking the process
// down: the socket is closed with 1011 and the panic logged.
func (v *visitor) recover() {
	if r := recover(); r != nil {
		v.logger().Error("visitor socket panicked", "panic", r, "stack", string(debug.Stack()))
		v.conn.CloseNow(websocket.CloseInternalServerErr, "internal error")
		v.finish()
	}
}

// logger is made when there is something to log, not kept per socket.
func (v *visitor) logger() *slog.Logger {
	v.mu.Lock()
	conv := v.turn.ConversationID
	v.mu.Unlock()
	return v.g.log.With("request_id", v.rid, "merchant", v.m.ID, "conversation", conv)
}

func (v *visitor) sendError(code, message, clientID string) {
	v.send(encode(errorFrame{Type: "error", Code: code, Message: message, ClientID: clientID}))
}

func (v *visitor) sendErr(err error, clientID string) {
	e := session.ErrorOf(err)
	if e.Kind == session.KindInternal || e.Kind == session.KindUnavailable {
		v.logger().Warn("visitor frame failed", "code", e.Code, "err", err)
	}
	v.sendError(e.Code, e.Message, clientID)
}

func (v *visitor) handle(ctx context.Context, data []byte) {
	var f inFrame
	err := json.Unmarshal(data, &f)
	if v.frameLimit == nil && v.g.opts.VisitorFrameLimit > 0 {
		// Made at the first frame after hello, not per idle socket.
		n := v.g.opts.VisitorFrameLimit
		v.frameLimit = rate.NewLimiter(rate.Limit(n), 3*n)
	}
	if v.frameLimit != nil && !v.frameLimit.Allow() {
		v.refused++
		if v.refused > maxRefused {
			v.send(encode(errorFrame{Type: "error", Code: "rate_limited", Message: "too many frames; closing", Fatal: true}))
			v.conn.Close(websocket.ClosePolicyViolation, "flood")
			return
		}
		// With the client_id, so the widget knows which message to resend.
		v.sendError("rate_limited", "too many frames; slow down", f.ClientID)
		return
	}
	v.refused = 0
	if err != nil {
		v.sendError("bad_frame", "a frame must be a JSON object with a \"type\"", "")
		return
	}
	if f.Type == "" {
		v.sendError("bad_frame", "a frame must be a JSON object with a \"type\"", "")
		return
	}
	v.mu.Lock()
	started := v.started
	turn := v.turn
	v.mu.Unlock()

	if f.Type == "ping" {
		v.send([]byte(`{"type":"pong"}`))
		return
	}
	if f.Type == "hello" {
		if started {
			v.sendError("already_started", "hello may come only once per socket", "")
			return
		}
		v.hello(ctx, &f)
		return
	}
	if !started {
		if isKnownType(f.Type) {
			v.sendError("hello_required", "send hello first", f.ClientID)
		} else {
			v.sendError("unknown_type", "unknown frame type "+quote(f.Type), "")
		}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	svc := v.g.svc
	switch f.Type {
	case "message":
		if v.msgLimit == nil && v.g.opts.VisitorRateLimit > 0 {
			v.msgLimit = rate.NewLimiter(rate.Limit(float64(v.g.opts.VisitorRateLimit)/60), v.g.opts.VisitorBurst)
		}
		if v.msgLimit != nil && !v.msgLimit.Allow() {
			v.sendError("rate_limited", "you are sending messages too fast; nothing was stored", f.ClientID)
			return
		}
		err = svc.VisitorMessageThen(ctx, turn, f.ClientID, f.Text, func() { v.engaged(ctx) })
		if err != nil {
			v.sendErr(err, f.ClientID)
		}
		return
	case "handoff_request":
		err = svc.RequestHandoff(ctx, turn)
		if err == nil {
			v.engaged(ctx)
		}
	case "handoff_reply":
		if f.Accept == nil {
			v.sendError("bad_frame", "handoff_reply needs \"accept\": true or false", "")
			return
		}
		err = svc.ReplyToOffer(ctx, turn, *f.Accept)
	case "email":
		err = svc.SubmitEmail(ctx, turn, f.Email)
	case "typing":
		if f.Active == nil {
			v.sendError("bad_frame", "typing needs \"active\": true or false", "")
			return
		}
		v.typing(ctx, turn, *f.Active)
		return
	case "close":
		if turn.Fresh() {
			// Nothing was said, so nothing was stored: the end is this
			// socket's alone to show.
			v.send(encode(statusFrame{Type: "status", Status: session.StatusClosed}))
			v.send(encode(closedFrame{Type: "closed", Reason: "visitor_closed"}))
			return
		}
		err = svc.CloseByVisitor(ctx, turn)
	case "identify":
		err = v.identify(ctx, turn, f.Identity)
	case "csat":
		if f.Score == nil {
			v.sendError("bad_frame", "csat needs \"score\": 1 to 5", "")
			return
		}
		err = svc.Rate(ctx, turn, *f.Score, f.Comment)
		if err == nil {
			v.send([]byte(`{"type":"csat_thanks"}`))
		}
	default:
		v.sendError("unknown_type", "unknown frame type "+quote(f.Type), "")
		return
	}
	if err != nil {
		v.sendErr(err, "")
	}
}

// engaged notes that the conversation now counts in the metrics, and is
// stored: a fresh conversation's socket starts following it now.
func (v *visitor) engaged(ctx context.Context) {
	v.mu.Lock()
	fresh := v.turn.Fresh()
	v.turn.Engaged = true
	v.turn = v.turn.Stored()
	id := v.turn.ConversationID
	v.mu.Unlock()
	if fresh {
		v.follow(ctx, id, 0)
	}
}

func isKnownType(t string) bool {
	switch t {
	case "message", "handoff_request", "handoff_reply", "email", "typing", "close", "identify", "csat":
		return true
	}
	return false
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// typing forwards changes at once and repeats at most every two seconds.
func (v *visitor) typing(ctx context.Context, t session.Turn, active bool) {
	now := time.Now()
	if active == v.lastTypingFlag && now.Sub(v.lastTyping) < 2*time.Second {
		return
	}
	v.lastTyping, v.lastTypingFlag = now, active
	if err := v.g.svc.Typing(ctx, t.ConversationID, session.RoleVisitor, active); err != nil {
		v.sendErr(err, "")
	}
}

func (v *visitor) identify(ctx context.Context, t session.Turn, token string) error {
	info, err := verifyIdentity(v.m, token, time.Now())
	if err != nil {
		return &session.Error{Kind: session.KindInvalid, Code: "invalid_identity", Message: "the identity token is not valid: " + err.Error()}
	}
	next, err := v.g.svc.Identify(ctx, t, info)
	if err == nil && t.Fresh() {
		v.mu.Lock()
		if v.turn.Fresh() {
			v.turn = next // who the visitor is goes with the first step
		}
		v.mu.Unlock()
	}
	return err
}

func (v *visitor) hello(ctx context.Context, f *inFrame) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	svc := v.g.svc
	info := session.VisitorInfo{Locale: session.MatchLocale(f.Locale), Page: f.Page, Addr: v.addr}
	if f.Identity != "" {
		id, err := verifyIdentity(v.m, f.Identity, time.Now())
		if err != nil {
			v.sendError("invalid_identity", "the identity token is not valid ("+err.Error()+"); continuing as a guest", "")
		} else {
			info.ProfileID, info.Email, info.Authenticated = id.ProfileID, id.Email, true
		}
	}
	var (
		conv      *session.Conversation
		token     string
		cursor    int64
		recovered *bool
		err       error
	)
	if f.Reopen != "" {
		// An email's link: the whole conversation again, with a fresh
		// resume token.
		conv, token, err = svc.ReopenConversation(ctx, v.m.ID, f.Reopen)
		if err != nil {
			v.sendErr(err, "")
			return
		}
		ok := true
		recovered = &ok
	} else if f.ConversationID != "" {
		conv, err = svc.ResumeConversation(ctx, v.m.ID, f.ConversationID, f.ResumeToken)
		if err != nil {
			v.sendErr(err, "")
			return
		}
		token = f.ResumeToken
		ok := true
		if f.LastSeq != nil {
			cursor = max(*f.LastSeq, 0)
		}
		if cursor > conv.LastSeq {
			// The client holds more than the transcript has: its history is
			// not ours. Start it over from the beginning.
			ok, cursor = false, 0
		}
		recovered = &ok
		if info.Authenticated {
			if _, err := svc.Identify(ctx, conv.Turn(), info); err != nil {
				v.logger().Warn("recording identity", "err", err)
			}
		}
	} else {
		conv, token, err = svc.StartConversation(ctx, v.m, info)
		if err != nil {
			v.sendErr(err, "")
			return
		}
	}
	office := svc.Office(v.m)
	v.watchdog.Stop()
	v.mu.Lock()
	v.started = true
	v.turn = conv.Turn()
	v.welcomeStatus = conv.Status
	v.mu.Unlock()
	v.send(encode(welcomeFrame{
		Type: "welcome", ConversationID: conv.ID, ResumeToken: token, Status: conv.Status,
		LastSeq: conv.LastSeq, Office: officeJSON{Open: office.Open, NextOpen: session.Time{Time: office.NextOpen}},
		Recovered: recovered, Locale: conv.Locale, Merchant: v.m.Name,
		HandoffAvailable: v.m.Settings.Handoff.Method.OffersPerson(),
		Authenticated:    conv.Visitor.Authenticated || info.Authenticated,
	}))
	if !v.turn.Fresh() {
		v.follow(ctx, conv.ID, cursor)
	}
}

// follow watches a stored conversation, and counts this socket as the
// visitor being there (someone who writes meanwhile is read here, not
// emailed).
func (v *visitor) follow(ctx context.Context, convID string, cursor int64) {
	v.feed = v.g.hub.WatchConversation(ctx, convID, cursor, v)
	closed, err := v.g.svc.VisitorOnline(ctx, convID)
	if err != nil {
		v.logger().Warn("recording the visitor's socket", "err", err)
		return
	}
	v.conn.OnDone(closed)
}

// Entry implements session.ConversationWatcher.
func (v *visitor) Entry(_ string, e session.RawEntry) { v.send(messageFrame(e.JSON)) }

// Typing implements session.ConversationWatcher.
func (v *visitor) Typing(_ string, role session.Role, active bool) {
	if role == session.RoleVisitor {
		return
	}
	v.send(encode(typingFrame{Type: "typing", Role: role, Active: active}))
}

// Draft implements session.DraftWatcher: the model's answer as it is
// written.
func (v *visitor) Draft(_ string, d session.DraftEvent) {
	if d.Dropped {
		v.send(encode(draftFrame{Type: "draft_dropped", DraftID: d.ID}))
		return
	}
	v.send(encode(draftFrame{Type: "message_delta", DraftID: d.ID, Text: d.Delta}))
}

// Gone implements session.ConversationWatcher.
func (v *visitor) Gone(string) {
	v.send(encode(closedFrame{Type: "closed", Reason: "expired"}))
}

// State implements session.ConversationWatcher: it tells the visitor what
// changed since the last state this socket showed.
func (v *visitor) State(_ string, st session.State) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.finished {
		return
	}
	prev := v.state
	first := !v.gotState
	if first {
		// The welcome showed the status; the prompt and the agent are
		// shown again so a returning visitor sees them.
		prev = session.State{Status: v.welcomeStatus}
	}
	v.gotState = true
	v.state = st
	v.turn.Status = st.Status

	if st.Status != prev.Status {
		if st.Status == session.StatusQueued {
			if st.QueuePosition > 0 {
				v.queuePos = st.QueuePosition
			}
			// The estimate comes with the first queue snapshot.
			v.send(encode(queuedFrame{Type: "status", Status: st.Status, QueuePosition: st.QueuePosition, WaitEstimateS: v.estimate}))
		} else {
			v.send(encode(statusFrame{Type: "status", Status: st.Status}))
		}
	}
	switch st.Status {
	case session.StatusHandoffOffered:
		if first || prev.Status != st.Status || prev.Prompt != st.Prompt {
			v.send(encode(promptFrame{Type: "handoff_offer", Text: st.Prompt}))
		}
	case session.StatusAwaitingEmail:
		if first || prev.Status != st.Status || prev.Prompt != st.Prompt {
			v.send(encode(promptFrame{Type: "email_request", Text: st.Prompt}))
		}
	}
	if prev.Agent != nil && (st.Agent == nil || st.Agent.ID != prev.Agent.ID) {
		v.send(encode(agentFrame{Type: "agent_left", Agent: prev.Agent}))
	}
	if st.Agent != nil && (prev.Agent == nil || prev.Agent.ID != st.Agent.ID) {
		v.send(encode(agentFrame{Type: "agent_joined", Agent: st.Agent}))
	}
	if st.Status.Terminal() && (first || !prev.Status.Terminal()) {
		reason := st.Reason
		if reason == "" {
			reason = string(st.Status)
		}
		if st.Status == session.StatusTicketed {
			reason = "ticketed"
		}
		v.send(encode(closedFrame{Type: "closed", Reason: reason}))
		if st.CSAT {
			v.send(encode(promptFrame{Type: "csat_request", Text: session.CSATRequest(v.turn.Locale)}))
		}
	}
	// A queued visitor follows the queue to learn their place in it.
	wasQueued := !first && prev.Status == session.StatusQueued
	switch {
	case st.Status == session.StatusQueued && (first || !wasQueued):
		v.queueGen++
		go v.watchQueue(v.queueGen)
	case st.Status != session.StatusQueued && (first || wasQueued):
		v.queueGen++
		v.queuePos, v.estimate = 0, nil
		if stop := v.stopQueue; stop != nil {
			v.stopQueue = nil
			go stop()
		}
	}
}

// watchQueue opens the queue watch for generation gen, unless the visitor
// has left the queue (or the socket ended) meanwhile.
func (v *visitor) watchQueue(gen int) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	stop := v.g.hub.WatchMerchant(ctx, v.m.ID, v)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.finished || v.queueGen != gen {
		go stop()
		return
	}
	v.stopQueue = stop
}

// QueueChanged implements session.MerchantWatcher.
func (v *visitor) QueueChanged(q *session.QueueSnapshot) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.finished || v.state.Status != session.StatusQueued {
		return
	}
	pos := q.Position(v.turn.ConversationID)
	if pos == 0 {
		return
	}
	est := q.WaitEstimate(pos)
	if pos != v.queuePos || !sameEstimate(est, v.estimate) {
		v.queuePos, v.estimate = pos, est
		v.send(encode(queuedFrame{Type: "status", Status: session.StatusQueued, QueuePosition: pos, WaitEstimateS: est}))
	}
}

// ConversationChanged implements session.MerchantWatcher; the visitor's own
// changes arrive on its feed.
func (v *visitor) ConversationChanged(*session.Conversation, []byte) {}

// Resync implements session.MerchantWatcher; the next snapshot corrects the
// position.
func (v *visitor) Resync() {}

func sameEstimate(a, b *int) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
