package session

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// MerchantWatcher receives a merchant's team-facing events. Calls must not
// block.
type MerchantWatcher interface {
	// ConversationChanged: a conversation of the merchant changed status or
	// assignment. frame is the ready-encoded {"type":"conversation",...}.
	ConversationChanged(c *Conversation, frame []byte)
	// QueueChanged delivers a fresh snapshot of the merchant's queue.
	QueueChanged(q *QueueSnapshot)
	// Resync: signals may have been missed; re-read what you show.
	Resync()
}

// room is one subscribed channel and the local watchers behind it.
type room struct {
	channel    string
	convID     string // conversation rooms
	merchantID string // merchant rooms

	feeds    map[*Feed]struct{}
	watchers map[MerchantWatcher]struct{}

	ready     chan struct{} // closed when Redis confirms the subscription
	confirmed bool
	stale     bool      // signals may have been missed since the last confirmation
	emptyAt   time.Time // when the last watcher left
	leaving   bool      // swept as idle: unsubscribed unless watched again first

	// merchant rooms: queue snapshots are built one at a time, each from
	// the last one and the conversations announced as changed since.
	building bool
	again    bool
	full     bool // the next build checks every entry: changes may have gone unannounced
	snap     *QueueSnapshot
	dirty    map[string]bool
	shown    *QueueSnapshot // the last delivered: the next one's deltas are from it
}

func (r *room) empty() bool { return len(r.feeds) == 0 && len(r.watchers) == 0 }

// Hub holds this process's one Redis subscription and fans its messages out
// to local watchers; one loop makes its SUBSCRIBEs and UNSUBSCRIBEs
// (subscriptions.go). Lock order: Hub.mu, then Feed.mu.
type Hub struct {
	svc    *Service
	log    *slog.Logger
	nodeID string
	ctx    context.Context
	wg     sync.WaitGroup

	spawnMu sync.Mutex // guards stopped and every wg.Add after run (see track)
	stopped bool

	psMu     sync.Mutex    // guards ps and psClosed: the subscription loop replaces ps (renew)
	ps       *redis.PubSub // the classic subscription
	psClosed bool
	renew    chan *redis.PubSub // the receive loop asks the subscription loop to replace this one
	shards   *shardSubs         // conversation channels on a cluster's shards; nil: all on ps

	mu    sync.Mutex
	rooms map[string]*room    // by channel
	wants map[string]struct{} // channels whose rooms were made or swept since the subscription loop looked
	wake  chan struct{}       // tells the subscription loop to look

	// Timing, fixed at newHub; internal tests shorten them before Run.
	sweepEvery time.Duration // how often idle rooms are looked for
	idleAfter  time.Duration // how long a room stays subscribed with no watcher
	readyWait  time.Duration // how long a watch waits for its subscription
	quietAfter time.Duration // a subscription read this long without a word is asked for a pong

	// subscribe and unsubscribe are the classic subscription's unless a
	// test stands in for a slow Redis. step, when set, is told of steps a test may hold: a join
	// has done its part ("joined", channel), a feed has read the transcript
	// ("read", conversation) or is told to read again ("kick", conversation).
	subscribe   func(ctx context.Context, channels ...string) error
	unsubscribe func(ctx context.Context, channels ...string) error
	step        func(name, id string)
}

func newHub(svc *Service) *Hub {
	return &Hub{svc: svc, log: svc.log, nodeID: svc.nodeID,
		rooms: make(map[string]*room), wants: make(map[string]struct{}), wake: make(chan struct{}, 1),
		renew:      make(chan *redis.PubSub, 1),
		sweepEvery: 5 * time.Second, idleAfter: 10 * time.Second, readyWait: 3 * time.Second, quietAfter: 15 * time.Second}
}

// run receives from Redis until ctx ends.
func (h *Hub) run(ctx context.Context) {
	h.ctx = ctx
	h.ps = h.svc.rdb.Subscribe(ctx)
	if cc, ok := h.svc.rdb.(*redis.ClusterClient); ok && h.svc.pub.sharded {
		h.shards = newShardSubs(h, cc)
	}
	if h.subscribe == nil {
		h.subscribe = func(ctx context.Context, channels ...string) error {
			return h.classic().Subscribe(ctx, channels...)
		}
	}
	if h.unsubscribe == nil {
		h.unsubscribe = func(ctx context.Context, channels ...string) error {
			return h.classic().Unsubscribe(ctx, channels...)
		}
	}
	// The control channel is subscribed at once, not with the first watch:
	// a node serving only REST, or a console between its "ready" and its
	// watch, must hear every invalidation. Born stale, so that its
	// confirmation has every account and merchant read again: what changed
	// before it was not heard.
	control := h.svc.keys.control()
	h.mu.Lock()
	h.rooms[control] = &room{channel: control, ready: make(chan struct{}), stale: true}
	h.wants[control] = struct{}{}
	h.mu.Unlock()
	h.wakeSubscriptions()

	h.wg.Add(2)
	go h.subscriptions(ctx)
	go func() {
		defer h.wg.Done()
		h.receive(ctx)
	}()
}

// track counts one more goroutine of the Hub's, unless the Hub is closing:
// a watch that starts while the service stops (a socket's last frame) must
// not add to the WaitGroup that close is already waiting on (the race
// detector failed CI once on exactly that).
func (h *Hub) track() bool {
	h.spawnMu.Lock()
	defer h.spawnMu.Unlock()
	if h.stopped {
		return false
	}
	h.wg.Add(1)
	return true
}

func (h *Hub) close() {
	h.spawnMu.Lock()
	h.stopped = true
	h.spawnMu.Unlock()
	h.psMu.Lock()
	h.psClosed = true
	if h.ps != nil {
		_ = h.ps.Close()
	}
	h.psMu.Unlock()
	if h.shards != nil {
		h.shards.close()
	}
	h.wg.Wait()
}

// classic is the classic subscription as it is now.
func (h *Hub) classic() *redis.PubSub {
	h.psMu.Lock()
	defer h.psMu.Unlock()
	return h.ps
}

func (h *Hub) receive(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for {
		ps := h.classic()
		err := pump(ctx, ps, h.quietAfter, func(msg any) {
			backoff = 50 * time.Millisecond
			switch m := msg.(type) {
			case *redis.Subscription:
				switch m.Kind {
				case "subscribe":
					h.confirmed(m.Channel)
				case "unsubscribe":
					h.unsubscribed(m.Channel)
				}
			case *redis.Message:
				h.dispatch(m.Channel, m.Payload)
			}
		})
		if ctx.Err() != nil {
			return
		}
		classic := func(r *room) bool { return !h.sharded(r.channel) }
		if h.classic() != ps {
			// Replaced (renew). Marked here, by the only reader, so that
			// no late confirmation read from the old one can clear the
			// mark: what was published while neither heard it is read
			// back when the new one's confirmations come.
			h.markStale(classic)
			continue
		}
		h.markStale(classic)
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "read" && op.Timeout() {
			// Silent through a ping: a connection that went dark without
			// a reset (a NAT or firewall forgot it, a partition). go-redis
			// takes timeouts for quiet, not for failure, and would read
			// the same dead connection until TCP gives up, a quarter of an
			// hour; so the subscription is replaced with a new one. (Not
			// on a dial that timed out: a new one would fare no better.)
			h.log.Warn("redis subscription silent; subscribing again on a new connection", "err", err)
			select {
			case h.renew <- ps:
			default:
			}
		} else {
			// go-redis reconnects and subscribes the classic channels
			// again; their confirmations have the rooms catch up.
			h.log.Warn("redis subscription lost; will catch up from the transcripts", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// renewClassic replaces the classic subscription with a new one, which it
// subscribes to what the old one had been told; the receive loop marks the
// rooms stale as it moves to the new one, so its confirmations catch them
// up. Only the subscription loop calls it (it owns told).
func (h *Hub) renewClassic(ctx context.Context, told map[string]bool, silent *redis.PubSub) {
	h.psMu.Lock()
	if h.psClosed || h.ps != silent {
		h.psMu.Unlock() // closing, or a late word of one replaced already
		return
	}
	old := h.ps
	h.ps = h.svc.rdb.Subscribe(ctx) // no channels yet: no I/O under the lock
	h.psMu.Unlock()
	var channels []string
	for ch := range told {
		if !h.sharded(ch) {
			channels = append(channels, ch)
		}
	}
	_ = old.Close() // ends the receive loop's read of it
	if len(channels) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.subscribe(cctx, channels...); err != nil {
		// Kept in go-redis's set: subscribed again on its reconnect.
		h.log.Warn("subscribing on a new connection", "channels", len(channels), "err", err)
	}
}

// pump hands what a subscription receives to handle until ctx ends or a
// read fails, and returns why it stopped. A quiet connection is fine, a dead
// one is not: after a read timeout it asks for a pong, and a second timeout
// in a row counts as a failure.
func pump(ctx context.Context, ps *redis.PubSub, quietAfter time.Duration, handle func(any)) error {
	quiet := 0
	for {
		msg, err := ps.ReceiveTimeout(ctx, quietAfter)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() && quiet == 0 {
				quiet++
				_ = ps.Ping(ctx)
				continue
			}
			return err
		}
		quiet = 0
		handle(msg)
	}
}

// WatchConversation opens a feed of convID for w, starting after cursor: the
// watcher first receives every entry with seq > cursor and the current
// state, then live events.
func (h *Hub) WatchConversation(ctx context.Context, convID string, cursor int64, w ConversationWatcher) *Feed {
	f := &Feed{hub: h, convID: convID, w: w, cursor: cursor, stateV: -1}
	f.filling = true // nothing live reaches w before the first fill
	r := h.join(h.svc.keys.convChannel(convID), convID, "", func(r *room) {
		if r.feeds == nil {
			r.feeds = make(map[*Feed]struct{}, 2)
		}
		r.feeds[f] = struct{}{}
	})
	f.room = r
	h.awaitReady(ctx, r)
	// Still marked filling: what arrived meanwhile only raised the wants.
	if h.track() {
		go f.fill()
	}
	return f
}

func (h *Hub) leaveConversation(f *Feed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f.room == nil {
		return
	}
	delete(f.room.feeds, f)
	if f.room.empty() {
		f.room.emptyAt = time.Now()
	}
}

// WatchMerchant subscribes w to a merchant's team events and delivers the
// current queue snapshot. Call the returned function to stop.
func (h *Hub) WatchMerchant(ctx context.Context, merchantID string, w MerchantWatcher) (stop func()) {
	r := h.join(h.svc.keys.merchantChannel(merchantID), "", merchantID, func(r *room) {
		if r.watchers == nil {
			r.watchers = map[MerchantWatcher]struct{}{}
		}
		r.watchers[w] = struct{}{}
	})
	h.awaitReady(ctx, r)
	h.mu.Lock()
	snap := r.shown
	h.mu.Unlock()
	if snap != nil {
		w.QueueChanged(snap)
	}
	h.rebuildQueue(r)
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			delete(r.watchers, w)
			if r.empty() {
				r.emptyAt = time.Now()
			}
			h.mu.Unlock()
		})
	}
}

// Envelope kinds on the channels. Conversation channels: e (entry),
// s (state), t (typing), d and D (a streamed answer's draft grows or is
// dropped). Merchant channels: c (conversation changed), q
// (queue changed). Control: x (merchant configuration changed), a (an agent
// account changed).
func (h *Hub) dispatch(channel, payload string) {
	if payload == "" {
		return
	}
	h.mu.Lock()
	r := h.rooms[channel]
	h.mu.Unlock()
	if r == nil {
		return
	}
	switch {
	case channel == h.svc.keys.control():
		switch payload[0] {
		case 'x':
			h.svc.cfg.invalidate(payload[1:])
		case 'a': // a<merchant> <agent>: an account changed
			mid, aid, _ := strings.Cut(payload[1:], " ")
			h.svc.accounts.invalidate(mid, aid)
		}
	case r.convID != "":
		h.dispatchConversation(r, payload)
	case r.merchantID != "":
		h.dispatchMerchant(r, payload)
	}
}

func (h *Hub) feedsOf(r *room) []*Feed {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Feed, 0, len(r.feeds))
	for f := range r.feeds {
		out = append(out, f)
	}
	return out
}

func (h *Hub) dispatchConversation(r *room, payload string) {
	kind := payload[0]
	head, body, _ := strings.Cut(payload[1:], " ")
	switch kind {
	case 'e':
		seq, err := strconv.ParseInt(head, 10, 64)
		if err != nil {
			return
		}
		e := RawEntry{Seq: seq, JSON: []byte(body)}
		for _, f := range h.feedsOf(r) {
			f.entry(e)
		}
	case 's':
		v, err := strconv.ParseInt(head, 10, 64)
		if err != nil {
			return
		}
		var st State
		if json.Unmarshal([]byte(body), &st) != nil {
			return
		}
		st.Version = v
		for _, f := range h.feedsOf(r) {
			f.state(st)
		}
	case 't':
		// t<node> <role> <0|1>: this node already delivered its own.
		if head == h.nodeID {
			return
		}
		role, active, _ := strings.Cut(body, " ")
		for _, f := range h.feedsOf(r) {
			f.typing(Role(role), active == "1")
		}
	case 'd', 'D':
		// d<node> <draft> <text> adds to a streamed answer, D<node> <draft>
		// drops it; the writing node already delivered its own.
		if head == h.nodeID {
			return
		}
		id, text, _ := strings.Cut(body, " ")
		d := DraftEvent{ID: id, Delta: text, Dropped: kind == 'D'}
		for _, f := range h.feedsOf(r) {
			f.draft(d)
		}
	}
}

// localDraft delivers a draft event to this node's watchers.
func (h *Hub) localDraft(convID string, d DraftEvent) {
	h.mu.Lock()
	r := h.rooms[h.svc.keys.convChannel(convID)]
	h.mu.Unlock()
	if r == nil {
		return
	}
	for _, f := range h.feedsOf(r) {
		f.draft(d)
	}
}

// localApply delivers what apply.lua did to this node's watchers in the
// order the script published it: base entries, the state, the rest.
func (h *Hub) localApply(convID string, res *applyResult, op applyOp) {
	h.mu.Lock()
	r := h.rooms[h.svc.keys.convChannel(convID)]
	h.mu.Unlock()
	if r == nil {
		return
	}
	feeds := h.feedsOf(r)
	nBase := min(len(op.base), len(res.entries))
	for _, e := range res.entries[:nBase] {
		for _, f := range feeds {
			f.entry(e)
		}
	}
	if res.applied && op.newStatus != "" {
		st := op.state
		st.Version = res.version
		for _, f := range feeds {
			f.state(st)
		}
	}
	for _, e := range res.entries[nBase:] {
		for _, f := range feeds {
			f.entry(e)
		}
	}
}

// localEntry delivers an entry append.lua stored to this node's watchers.
func (h *Hub) localEntry(convID string, e RawEntry) {
	h.mu.Lock()
	r := h.rooms[h.svc.keys.convChannel(convID)]
	h.mu.Unlock()
	if r == nil {
		return
	}
	for _, f := range h.feedsOf(r) {
		f.entry(e)
	}
}

func (h *Hub) localTyping(convID string, role Role, active bool) {
	h.mu.Lock()
	r := h.rooms[h.svc.keys.convChannel(convID)]
	h.mu.Unlock()
	if r == nil {
		return
	}
	for _, f := range h.feedsOf(r) {
		f.typing(role, active)
	}
}

func (h *Hub) watchersOf(r *room) []MerchantWatcher {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]MerchantWatcher, 0, len(r.watchers))
	for w := range r.watchers {
		out = append(out, w)
	}
	return out
}

func (h *Hub) dispatchMerchant(r *room, payload string) {
	switch payload[0] {
	case 'c':
		// c<0|1>{"id":..,"meta":[field,value,...]}: 1 when the queue
		// changed too. Decoded and encoded once per node, not per socket.
		if len(payload) < 3 {
			return
		}
		var ann struct {
			ID   string   `json:"id"`
			Meta []string `json:"meta"`
		}
		if json.Unmarshal([]byte(payload[2:]), &ann) != nil {
			return
		}
		m := make(map[string]string, len(ann.Meta)/2)
		for i := 0; i+1 < len(ann.Meta); i += 2 {
			m[ann.Meta[i]] = ann.Meta[i+1]
		}
		c, ok := conversationFromMeta(ann.ID, m)
		if !ok {
			return
		}
		frame, err := json.Marshal(struct {
			Type         string        `json:"type"`
			Conversation *Conversation `json:"conversation"`
		}{"conversation", c})
		if err != nil {
			return
		}
		h.mu.Lock()
		if r.dirty == nil {
			r.dirty = map[string]bool{}
		}
		r.dirty[c.ID] = true
		h.mu.Unlock()
		for _, w := range h.watchersOf(r) {
			w.ConversationChanged(c, frame)
		}
		if payload[1] == '1' {
			h.rebuildQueue(r)
		}
	case 'q':
		h.rebuildQueue(r)
	}
}

// rebuildQueue builds a queue snapshot and hands it to the room's watchers;
// changes that arrive while one is being built fold into one more build.
func (h *Hub) rebuildQueue(r *room) {
	h.mu.Lock()
	if r.building {
		r.again = true
		h.mu.Unlock()
		return
	}
	if r.empty() {
		h.mu.Unlock()
		return
	}
	r.building = true
	h.mu.Unlock()
	if !h.track() {
		h.mu.Lock()
		r.building = false
		h.mu.Unlock()
		return
	}
	go func() {
		defer h.wg.Done()
		for {
			h.mu.Lock()
			prev, dirty, shown := r.snap, r.dirty, r.shown
			if r.full {
				prev, r.full = nil, false
			}
			r.dirty = nil
			h.mu.Unlock()
			ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
			snap, err := h.svc.queueSnapshot(ctx, r.merchantID, prev, dirty)
			cancel()
			if err == nil {
				diffQueue(shown, snap)
				h.mu.Lock()
				r.shown = snap
				h.mu.Unlock()
				// Delivered while still building, so no newer snapshot
				// can overtake this one.
				for _, w := range h.watchersOf(r) {
					w.QueueChanged(snap)
				}
			} else if h.ctx.Err() == nil {
				h.log.Warn("building queue snapshot", "merchant", r.merchantID, "err", err)
			}
			h.mu.Lock()
			if err == nil {
				r.snap = snap
			} else {
				r.stale = true // the next confirmation retries
				r.snap = nil   // and then checks every entry
				for id := range dirty {
					if r.dirty == nil {
						r.dirty = map[string]bool{}
					}
					r.dirty[id] = true
				}
			}
			again := r.again && h.ctx.Err() == nil
			r.again = false
			if !again {
				r.building = false
			}
			h.mu.Unlock()
			if !again {
				return
			}
		}
	}()
}
