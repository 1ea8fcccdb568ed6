package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// relayTarget is a system the relay shape runs against: Baton, or the bare
// baseline relay. Both put visitors on node A and agent consoles on node B.
type relayTarget interface {
	name() string
	// consoles opens n agent console sockets on node B, signed in.
	consoles(ctx context.Context, n int) ([]*console, error)
	// open starts a conversation with its visitor on node A and routes it to
	// the console of agent, so that the visitor's messages reach it.
	open(ctx context.Context, agent int, c *console) (convID string, visitor *websocket.Conn, err error)
	// procs are the processes whose CPU a step is charged with.
	procs() []proc
	// debug are debug base URLs by node name, for RSS after each step.
	debug() map[string]string
	close()
}

// console is one agent console socket; writes are serialised because setup
// goroutines share it.
type console struct {
	conn *websocket.Conn
	wmu  sync.Mutex

	mu      sync.Mutex
	follows map[string]chan struct{} // baseline: conversation → follow acknowledged
}

// awaitFollow returns a channel closed when the baseline node acknowledges
// that this console follows convID.
func (c *console) awaitFollow(convID string) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.follows == nil {
		c.follows = map[string]chan struct{}{}
	}
	ch := c.follows[convID]
	if ch == nil {
		ch = make(chan struct{})
		c.follows[convID] = ch
	}
	return ch
}

func (c *console) followed(convID string) {
	ch := c.awaitFollow(convID)
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (c *console) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return writeJSON(c.conn, v)
}

// rconv is one conversation of the pool.
type rconv struct {
	idx     int
	id      string
	agent   int
	visitor *websocket.Conn
	budget  int64      // messages it may take before its transcript fills
	warm    chan int64 // the transcript seq of its warm-up message

	// Sender side: touched only by the sender that owns its slot.
	sent   int64
	broken bool

	// Receiver side: touched only by its agent's reader, under its mutex.
	seen   []uint64
	maxSeq int64
}

// relayRun is the relay shape against one target: a pool of conversations,
// slots that carry the load (each using one pool conversation at a time),
// and one reader per agent console.
type relayRun struct {
	t        relayTarget
	proto    peerProto // nil for Baton's protocol (Baton and the baseline)
	o        *relayOpts
	cap      int // transcript cap, 0 for none
	epoch    time.Time
	convs    []*rconv
	slots    []*rconv
	nextFree atomic.Int64
	readers  []*reader
	consoles []*console
	closed   atomic.Int64 // steps below this are accounted; later arrivals count as late
	windows  []window
	nextStep int  // the accounting slot of the next step (o.attempts() in all)
	backlog  bool // the last step left messages in flight: wait for quiet first

	echoMu sync.Mutex
	echo   []*hist // per step: latency of the visitors' own echoes

	arrivals     atomic.Int64 // every load message received, for quiescence
	visitorErrs  atomic.Int64
	visitorDrops atomic.Int64
	consoleDrops atomic.Int64
	exhausted    atomic.Int64
	lastErr      atomic.Value // string
}

type window struct{ end atomic.Int64 } // offset from epoch, ns

func newRelayRun(t relayTarget, o *relayOpts, pool, cap int) *relayRun {
	proto, _ := t.(peerProto)
	r := &relayRun{t: t, proto: proto, o: o, cap: cap, epoch: time.Now(), convs: make([]*rconv, pool),
		slots: make([]*rconv, o.conversations), windows: make([]window, o.attempts()), echo: make([]*hist, o.attempts())}
	for i := range r.echo {
		r.echo[i] = newHist()
	}
	r.lastErr.Store("")
	return r
}

// setup opens the consoles and every pool conversation, and proves each
// path end to end with a warm-up message.
func (r *relayRun) setup(ctx context.Context, logf func(string, ...any)) error {
	start := time.Now()
	cs, err := r.t.consoles(ctx, r.o.agents)
	r.consoles = cs
	if err != nil {
		return err
	}
	// Every conversation exists before the readers start: they look them
	// up by index, and the network is no synchronisation the race detector
	// knows of.
	for i := range r.convs {
		r.convs[i] = &rconv{idx: i, agent: i % len(cs), warm: make(chan int64, 1), budget: math.MaxInt64}
	}
	for i, c := range cs {
		rd := &reader{r: r, c: c, agent: i, acc: make([]*stepAcc, r.o.attempts())}
		for s := range rd.acc {
			rd.acc[s] = &stepAcc{lat: newHist()}
		}
		r.readers = append(r.readers, rd)
		go func() {
			_ = readLoop(c.conn, r.in(c, rd.handle))
			if ctx.Err() == nil {
				r.consoleDrops.Add(1)
			}
		}()
	}
	logf("%s: %d consoles open; setting up %d conversations (%d at a time)…", r.t.name(), len(cs), len(r.convs), r.o.baton.setupCC)
	sem := make(chan struct{}, max(1, r.o.baton.setupCC))
	errc := make(chan error, len(r.convs))
	var wg sync.WaitGroup
	for i := range r.convs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := r.setupConv(ctx, i, cs[i%len(cs)]); err != nil {
				errc <- fmt.Errorf("conversation %d: %w", i, err)
			}
		}()
		if len(errc) > 0 || ctx.Err() != nil {
			break
		}
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	for s := range r.slots {
		r.slots[s] = r.convs[s]
	}
	r.nextFree.Store(int64(len(r.slots)))
	logf("%s: %d conversations ready in %v", r.t.name(), len(r.convs), time.Since(start).Round(time.Millisecond))
	return nil
}

func (r *relayRun) setupConv(ctx context.Context, i int, c *console) error {
	conv := r.convs[i]
	id, v, err := r.t.open(ctx, conv.agent, c)
	if err != nil {
		return err
	}
	conv.id, conv.visitor = id, v
	go func() {
		_ = readLoop(v, r.in(nil, r.visitorFrame))
		if ctx.Err() == nil {
			r.visitorDrops.Add(1)
		}
	}()
	buf := r.frame(nil, conv, 0, -1, 0)
	_ = v.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := v.WriteMessage(websocket.TextMessage, buf); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	select {
	case seq := <-conv.warm:
		if r.cap > 0 {
			conv.budget = int64(r.cap) - seq - 2
		}
	case <-time.After(15 * time.Second):
		return fmt.Errorf("warm-up message of %s never reached its agent (last error frame: %s)", id, r.lastErr.Load())
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// frame builds the visitor's message frame of conv (see appendFrame), in
// the target's own protocol.
func (r *relayRun) frame(b []byte, conv *rconv, seq int64, step int, due time.Duration) []byte {
	if r.proto == nil {
		return appendFrame(b, conv.idx, seq, step, due, r.o.size)
	}
	b = r.proto.head(b, conv.id)
	b = appendFrame(b, conv.idx, seq, step, due, r.o.size)
	return r.proto.tail(b)
}

// in is handle behind the target's own protocol: c is the agent's console,
// nil for a visitor.
func (r *relayRun) in(c *console, handle func([]byte, time.Time)) func([]byte, time.Time) {
	if r.proto == nil {
		return handle
	}
	return r.proto.frames(c, handle)
}

// visitorFrame takes a frame on a visitor's socket: an error is counted; a
// load message's echo has its latency recorded.
func (r *relayRun) visitorFrame(data []byte, at time.Time) {
	if bytes.HasPrefix(data, errPrefix) {
		r.visitorErrs.Add(1)
		r.lastErr.Store(string(data))
		return
	}
	i := bytes.Index(data, textMark)
	if i < 0 {
		return
	}
	_, _, step, due, ok := parseMark(data[i+len(textMark):])
	if !ok || step < r.closed.Load() || step >= int64(len(r.echo)) {
		return
	}
	r.echoMu.Lock()
	r.echo[step].record(at.Sub(r.epoch) - time.Duration(due))
	r.echoMu.Unlock()
}

// quiesce waits until no message has arrived for quiet (at most limit): a
// step that overloaded the server leaves a backlog that would otherwise
// spill into the next step.
func (r *relayRun) quiesce(ctx context.Context, quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, since := r.arrivals.Load(), time.Now()
	for time.Since(since) < quiet && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if n := r.arrivals.Load(); n != last {
			last, since = n, time.Now()
		}
	}
}

// close ends every socket the run opened; their readers end with them.
func (r *relayRun) close() {
	for _, c := range r.convs {
		if c != nil && c.visitor != nil {
			_ = c.visitor.Close()
		}
	}
	for _, c := range r.consoles {
		_ = c.conn.Close()
	}
}

func (r *relayRun) lateTotal() int64 {
	var n int64
	for _, rd := range r.readers {
		rd.mu.Lock()
		n += rd.late
		rd.mu.Unlock()
	}
	return n
}

// appendFrame builds a visitor message frame whose text carries the
// conversation, its sequence, the step and the intended send time (an
// offset from the run's epoch), padded to size characters.
func appendFrame(b []byte, idx int, seq int64, step int, due time.Duration, size int) []byte {
	b = append(b, `{"type":"message","client_id":"`...)
	if step < 0 {
		b = append(b, 'w')
	}
	b = appendInt(b, int64(idx))
	b = append(b, '-')
	b = appendInt(b, seq)
	b = append(b, `","text":"`...)
	start := len(b)
	b = append(b, "lg|"...)
	b = appendInt(b, int64(idx))
	b = append(b, '|')
	b = appendInt(b, seq)
	b = append(b, '|')
	b = appendInt(b, int64(step))
	b = append(b, '|')
	b = appendInt(b, int64(due))
	b = append(b, '|')
	for len(b)-start < size {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

var (
	msgPrefix    = []byte(`{"type":"message"`)
	errPrefix    = []byte(`{"type":"error"`)
	followPrefix = []byte(`{"type":"following"`)
	textMark     = []byte(`"text":"lg|`)
)

// parseMark reads idx|seq|step|due| after the text mark.
func parseMark(b []byte) (idx, seq, step, due int64, ok bool) {
	var vals [4]int64
	for k := range vals {
		neg := false
		if len(b) > 0 && b[0] == '-' {
			neg, b = true, b[1:]
		}
		var v int64
		n := 0
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			v = v*10 + int64(b[n]-'0')
			n++
		}
		if n == 0 || n >= len(b) || b[n] != '|' {
			return 0, 0, 0, 0, false
		}
		if neg {
			v = -v
		}
		vals[k], b = v, b[n+1:]
	}
	return vals[0], vals[1], vals[2], vals[3], true
}

// stepAcc is what one reader saw of one step.
type stepAcc struct {
	lat       *hist
	delivered int64 // distinct messages
	inWindow  int64 // of which arrived while the step was offering load
	dups      int64
	reordered int64
}

// reader takes one agent console's frames: it checks each message against
// its conversation (duplicates, order) and records its latency.
type reader struct {
	r     *relayRun
	c     *console
	agent int

	mu        sync.Mutex
	acc       []*stepAcc
	late      int64
	misrouted int64
	errs      int64
	lastErr   string
}

func (rd *reader) handle(data []byte, at time.Time) {
	if !bytes.HasPrefix(data, msgPrefix) {
		switch {
		case bytes.HasPrefix(data, errPrefix):
			rd.mu.Lock()
			rd.errs++
			rd.lastErr = string(data)
			rd.mu.Unlock()
		case bytes.HasPrefix(data, followPrefix):
			var f head
			if json.Unmarshal(data, &f) == nil {
				rd.c.followed(f.ConversationID)
			}
		}
		return
	}
	i := bytes.Index(data, textMark)
	if i < 0 {
		return // a system message, or someone else's
	}
	idx, seq, step, due, ok := parseMark(data[i+len(textMark):])
	if !ok || idx < 0 || idx >= int64(len(rd.r.convs)) {
		return
	}
	conv := rd.r.convs[idx]
	rd.r.arrivals.Add(1)
	if conv.agent != rd.agent {
		rd.mu.Lock()
		rd.misrouted++
		rd.mu.Unlock()
		return
	}
	if step < 0 {
		var f struct {
			Message struct {
				Seq int64 `json:"seq"`
			} `json:"message"`
		}
		_ = json.Unmarshal(data, &f)
		select {
		case conv.warm <- f.Message.Seq:
		default:
		}
		return
	}
	if step >= int64(len(rd.acc)) {
		return
	}
	off := at.Sub(rd.r.epoch)
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if step < rd.r.closed.Load() {
		rd.late++
		return
	}
	a := rd.acc[step]
	w, bit := seq/64, uint64(1)<<(seq%64)
	for int64(len(conv.seen)) <= w {
		conv.seen = append(conv.seen, 0)
	}
	if conv.seen[w]&bit != 0 {
		a.dups++
		return
	}
	conv.seen[w] |= bit
	a.delivered++
	if seq < conv.maxSeq {
		a.reordered++
	} else {
		conv.maxSeq = seq
	}
	a.lat.record(off - time.Duration(due))
	if int64(off) <= rd.r.windows[step].end.Load() {
		a.inWindow++
	}
}
