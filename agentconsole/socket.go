package agentconsole

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/batonchat/baton/gateway/rest"
	"github.com/batonchat/baton/gateway/socket"
	"github.com/batonchat/baton/session"
)

// liveDesk is what the console socket needs.
type liveDesk interface {
	Agent(ctx context.Context, merchantID, agentID string) (*session.Agent, error)
	Presence(ctx context.Context, a session.Actor) (string, error)
	SetPresence(ctx context.Context, a session.Actor, status string) error
	ConsoleOpened(ctx context.Context, a session.Actor) (func(), error)
	AssignedTo(ctx context.Context, a session.Actor) ([]*session.Conversation, error)
	IsAssigned(ctx context.Context, a session.Actor, convID string) (bool, error)
	AgentMessage(ctx context.Context, a session.Actor, convID, clientID, text string) (session.RawEntry, bool, error)
	Typing(ctx context.Context, convID string, role session.Role, active bool) error
}

const (
	authTimeout = 10 * time.Second
	opTimeout   = 5 * time.Second
	// DefaultFrameLimit is frames per second per console socket, against
	// floods; a console sends a few a minute (typing, pings, lines).
	DefaultFrameLimit = 30
)

// WithFrameLimit sets the frames per second one console socket may send,
// with a burst of two seconds' worth; 0 turns the limit off.
func (c *Console) WithFrameLimit(perSecond int) *Console {
	c.frameLimit = max(perSecond, 0)
	return c
}

func (c *Console) newFrameLimiter() *rate.Limiter {
	if c.frameLimit == 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(c.frameLimit), 2*c.frameLimit)
}

// consoleSocket is one agent's console connection.
type consoleSocket struct {
	c       *Console
	conn    *socket.Conn
	actor   session.Actor
	version int64 // the token's: the session this socket belongs to
	log     *slog.Logger
	limit   *rate.Limiter // nil: no frame limit

	cursors map[string]int64 // from the auth frame: what the console already holds
	queue   queueStream      // how the queue reaches this console (queue_stream.go)

	mu       sync.Mutex // guards below; taken inside Feed calls (lock order: Feed, then this)
	follows  map[string]*following
	stop     func()
	finished bool
}

// following is one conversation assigned to the agent, as this socket
// follows it. Feeds come and go (reassignments, stale events); delivered
// and version make sure the console never sees an entry twice nor acts on
// an older change after a newer one.
type following struct {
	wanted    bool
	opening   bool // a feed is being opened
	feed      *session.Feed
	delivered int64 // last seq sent to the console
	version   int64 // newest conversation version seen
}

type consoleIn struct {
	Type           string `json:"type"`
	Token          string `json:"token"`
	ConversationID string `json:"conversation_id"`
	ClientID       string `json:"client_id"`
	Text           string `json:"text"`
	Active         *bool  `json:"active"`
	Status         string `json:"status"`
	// Cursors (auth only) are the last seq a reconnecting console holds per
	// conversation: its feeds resume from there instead of from now.
	Cursors map[string]int64 `json:"cursors"`
	// QueueDeltas (auth only): the console follows the queue as
	// queue_delta frames after one versioned snapshot (an extra).
	QueueDeltas bool `json:"queue_deltas"`
}

type consoleError struct {
	Type           string `json:"type"`
	Code           string `json:"code"`
	Message        string `json:"message"`
	ConversationID string `json:"conversation_id,omitempty"`
	ClientID       string `json:"client_id,omitempty"`
}

func frame(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// socket serves GET /v1/agent/ws. The token comes in the first frame, never
// in the URL. Browsers must come from Baton's own origin.
func (c *Console) socket(g *gin.Context) {
	if o := g.GetHeader("Origin"); o != "" && !rest.SameOrigin(g.Request, o) {
		rest.Fail(g, http.StatusForbidden, "origin_not_allowed", "the console socket is for Baton's own pages")
		return
	}
	if !rest.RequireUpgrade(g) {
		return
	}
	conn, err := c.sockets.Upgrade(g.Writer, g.Request, "console")
	if err != nil {
		return
	}
	s := &consoleSocket{c: c, conn: conn, log: c.log.With("request_id", rest.RequestIDOf(g.Request.Context())), limit: c.newFrameLimiter(),
		follows: map[string]*following{}}
	// As for visitors: let the request go, keep only the socket.
	go s.run()
}

func (s *consoleSocket) send(b []byte) { s.conn.Send(b) }

func (s *consoleSocket) sendError(code, msg, convID, clientID string) {
	s.send(frame(consoleError{Type: "error", Code: code, Message: msg, ConversationID: convID, ClientID: clientID}))
}

func (s *consoleSocket) fatal(code, msg string) {
	s.sendError(code, msg, "", "")
	s.conn.Close(websocket.ClosePolicyViolation, code)
}

func (s *consoleSocket) run() {
	defer s.finish()
	defer func() {
		// A bug in one console's handling must not take the process down.
		if r := recover(); r != nil {
			s.log.Error("console socket panicked", "panic", r, "stack", string(debug.Stack()))
			s.conn.CloseNow(websocket.CloseInternalServerErr, "internal error")
		}
	}()
	// The deadline ends a silent socket; the timer, just before it, says
	// why (after a read timeout nothing could be written any more).
	s.conn.SetReadDeadline(time.Now().Add(authTimeout + time.Second))
	authed := make(chan struct{})
	timer := time.AfterFunc(authTimeout-200*time.Millisecond, func() {
		select {
		case <-authed:
		default:
			s.fatal("auth_timeout", `send {"type":"auth","token":...} first, within 10 seconds`)
		}
	})
	defer timer.Stop()
	data, binary, err := s.conn.Read()
	close(authed)
	if err != nil {
		return
	}
	var in consoleIn
	if binary || json.Unmarshal(data, &in) != nil || in.Type != "auth" || in.Token == "" {
		s.fatal("auth_required", `the first frame must be {"type":"auth","token":...}`)
		return
	}
	v, err := s.c.tokens.Verify(in.Token)
	if err != nil {
		s.fatal("invalid_token", "the token is not valid")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	actor, err := s.c.auth.Authorize(ctx, v.Actor, v.Version)
	var agent *session.Agent
	if err == nil {
		agent, err = s.c.live.Agent(ctx, actor.MerchantID, actor.ID)
	}
	cancel()
	if err != nil {
		if revoked(err) {
			s.actor = v.Actor
			s.revoke()
			return
		}
		e := session.ErrorOf(err)
		s.fatal(e.Code, e.Message)
		return
	}
	s.actor, s.version = actor, v.Version
	// Known as live before the session is checked once more: a change
	// between the first check and now is then not missed.
	s.c.open.add(s)
	s.conn.OnDone(func() { s.c.open.remove(s) })
	if st, err := s.c.auth.Authorize(context.Background(), v.Actor, v.Version); err != nil && revoked(err) {
		s.revoke()
		return
	} else if err == nil {
		s.actor = st
	}
	s.cursors = in.Cursors
	s.queue.deltas = in.QueueDeltas
	s.log = s.log.With("merchant", actor.MerchantID, "agent", actor.ID)
	if err := s.start(agent); err != nil {
		e := session.ErrorOf(err)
		s.fatal(e.Code, e.Message)
		return
	}
	for {
		data, binary, err := s.conn.Read()
		if err != nil {
			return
		}
		if binary {
			s.sendError("bad_frame", "frames must be JSON text", "", "")
			continue
		}
		s.handle(data)
	}
}

func (s *consoleSocket) start(agent *session.Agent) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	presence, err := s.c.live.Presence(ctx, s.actor)
	if err != nil {
		return err
	}
	closed, err := s.c.live.ConsoleOpened(ctx, s.actor)
	if err != nil {
		return err
	}
	s.conn.OnDone(closed)
	s.send(frame(gin.H{"type": "ready", "agent": agentJSON(agent), "presence": presence}))
	stop := s.c.hub.WatchMerchant(ctx, s.actor.MerchantID, s)
	s.mu.Lock()
	s.stop = stop
	s.mu.Unlock()
	return s.syncAssigned(ctx)
}

// syncAssigned follows every conversation assigned to the agent and stops
// following the rest.
func (s *consoleSocket) syncAssigned(ctx context.Context) error {
	convs, err := s.c.live.AssignedTo(ctx, s.actor)
	if err != nil {
		return err
	}
	mine := map[string]bool{}
	for _, conv := range convs {
		mine[conv.ID] = true
		if s.newer(conv) {
			s.send(frame(gin.H{"type": "conversation", "conversation": conv}))
			s.follow(conv.ID, conv.LastSeq)
		}
	}
	s.mu.Lock()
	var drop []string
	for id, fl := range s.follows {
		if fl.wanted && !mine[id] {
			drop = append(drop, id)
		}
	}
	s.mu.Unlock()
	for _, id := range drop {
		s.unfollow(id)
	}
	return nil
}

// newer records c's version for a conversation this socket follows (or is
// about to) and reports whether c is news: not older than what it has.
func (s *consoleSocket) newer(c *session.Conversation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	fl := s.follows[c.ID]
	mine := c.Status == session.StatusAssigned && string(c.AgentID) == s.actor.ID
	if fl == nil {
		if !mine {
			return true // not ours: shown, not tracked
		}
		fl = &following{}
		s.follows[c.ID] = fl
	}
	if c.Version < fl.version {
		return false
	}
	fl.version = c.Version
	return true
}

// follow opens a feed of a conversation assigned to this agent, from cursor
// (what the console already fetched over REST), from earlier when the
// console said on auth that it holds less, and never from before what this
// socket already delivered.
func (s *consoleSocket) follow(convID string, cursor int64) {
	if c, ok := s.cursors[convID]; ok && c >= 0 && c < cursor {
		cursor = c
	}
	s.mu.Lock()
	fl := s.follows[convID]
	if s.finished || fl == nil {
		s.mu.Unlock()
		return
	}
	fl.wanted = true
	if fl.delivered > 0 {
		cursor = max(cursor, fl.delivered)
	}
	if fl.feed != nil || fl.opening {
		s.mu.Unlock()
		return
	}
	fl.opening = true
	s.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		f := s.c.hub.WatchConversation(ctx, convID, cursor, s)
		s.mu.Lock()
		fl.opening = false
		keep := fl.wanted && !s.finished && fl.feed == nil
		if keep {
			fl.feed = f
		}
		s.mu.Unlock()
		if !keep {
			f.Stop()
		}
	}()
}

func (s *consoleSocket) unfollow(convID string) {
	s.mu.Lock()
	var f *session.Feed
	if fl := s.follows[convID]; fl != nil {
		fl.wanted = false
		f, fl.feed = fl.feed, nil
	}
	s.mu.Unlock()
	if f != nil {
		f.Stop()
	}
}

func (s *consoleSocket) following(convID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	fl := s.follows[convID]
	return fl != nil && fl.wanted
}

func (s *consoleSocket) finish() {
	s.mu.Lock()
	s.finished = true
	var feeds []*session.Feed
	for _, fl := range s.follows {
		if fl.feed != nil {
			feeds = append(feeds, fl.feed)
			fl.feed = nil
		}
	}
	stop := s.stop
	s.mu.Unlock()
	s.queue.finish()
	for _, f := range feeds {
		f.Stop()
	}
	if stop != nil {
		stop()
	}
}

func (s *consoleSocket) handle(data []byte) {
	var in consoleIn
	err := json.Unmarshal(data, &in)
	if s.limit != nil && !s.limit.Allow() {
		// With the ids, so the console knows which line to send again.
		s.sendError("rate_limited", "too many frames; slow down and send it again", in.ConversationID, in.ClientID)
		return
	}
	if err != nil || in.Type == "" {
		s.sendError("bad_frame", `a frame must be a JSON object with a "type"`, "", "")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	switch in.Type {
	case "ping":
		s.send([]byte(`{"type":"pong"}`))
	case "message":
		_, _, err := s.c.live.AgentMessage(ctx, s.actor, in.ConversationID, in.ClientID, in.Text)
		if err != nil {
			e := session.ErrorOf(err)
			s.sendError(e.Code, e.Message, in.ConversationID, in.ClientID)
		}
		// The stored message reaches every console of this agent through
		// the conversation's feed, this one included.
	case "typing":
		if in.Active == nil {
			s.sendError("bad_frame", `typing needs "active": true or false`, in.ConversationID, "")
			return
		}
		if !s.following(in.ConversationID) {
			mine, err := s.c.live.IsAssigned(ctx, s.actor, in.ConversationID)
			if err != nil || !mine {
				s.sendError("not_assigned", "the conversation is not assigned to you", in.ConversationID, "")
				return
			}
		}
		if err := s.c.live.Typing(ctx, in.ConversationID, session.RoleAgent, *in.Active); err != nil {
			e := session.ErrorOf(err)
			s.sendError(e.Code, e.Message, in.ConversationID, "")
		}
	case "presence":
		if err := s.c.live.SetPresence(ctx, s.actor, in.Status); err != nil {
			e := session.ErrorOf(err)
			s.sendError(e.Code, e.Message, "", "")
			return
		}
		s.send(frame(gin.H{"type": "presence", "status": in.Status}))
	case "queue_sync":
		s.queueSync()
	case "auth":
		s.sendError("already_authenticated", "this socket is signed in already", "", "")
	default:
		s.sendError("unknown_type", "unknown frame type", "", "")
	}
}

// Entry implements session.ConversationWatcher.
func (s *consoleSocket) Entry(convID string, e session.RawEntry) {
	s.mu.Lock()
	fl := s.follows[convID]
	if fl != nil {
		if e.Seq <= fl.delivered {
			s.mu.Unlock()
			return // a second feed of the same conversation: already sent
		}
		fl.delivered = e.Seq
	}
	s.mu.Unlock()
	const head = `{"type":"message","conversation_id":`
	id, _ := json.Marshal(convID)
	b := make([]byte, 0, len(head)+len(id)+len(e.JSON)+16)
	b = append(b, head...)
	b = append(b, id...)
	b = append(b, `,"message":`...)
	b = append(b, e.JSON...)
	b = append(b, '}')
	s.send(b)
}

// State implements session.ConversationWatcher; consoles learn of changes
// through the merchant's conversation frames.
func (s *consoleSocket) State(string, session.State) {}

// Typing implements session.ConversationWatcher.
func (s *consoleSocket) Typing(convID string, role session.Role, active bool) {
	if role == session.RoleAgent {
		return
	}
	s.send(frame(gin.H{"type": "typing", "conversation_id": convID, "role": role, "active": active}))
}

// Gone implements session.ConversationWatcher.
func (s *consoleSocket) Gone(convID string) { go s.unfollow(convID) }

// ConversationChanged implements session.MerchantWatcher.
func (s *consoleSocket) ConversationChanged(c *session.Conversation, f []byte) {
	if !s.newer(c) {
		return // older than what this socket already acted on
	}
	s.send(f)
	if c.Status == session.StatusAssigned && string(c.AgentID) == s.actor.ID {
		s.follow(c.ID, c.LastSeq)
	} else if s.following(c.ID) {
		go s.unfollow(c.ID)
	}
}

// Resync implements session.MerchantWatcher: after missed signals, the
// assignments are read again.
func (s *consoleSocket) Resync() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := s.syncAssigned(ctx); err != nil {
			s.log.Warn("resyncing assignments", "err", err)
		}
	}()
}
