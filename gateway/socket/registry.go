package socket

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Options tune every socket of a registry.
type Options struct {
	// ReadLimit is the largest frame accepted; bigger ones close the socket
	// with 1009.
	ReadLimit int64
	// MaxQueueBytes is how much may wait to be written before the client
	// counts as too slow.
	MaxQueueBytes int
	WriteTimeout  time.Duration
	// PongWait is how long a socket may stay silent (no frame, no pong).
	PongWait time.Duration
	// PingEvery is the period of the shared ping timer; below PongWait.
	PingEvery time.Duration
	Logger    *slog.Logger
	// WriteWait, when set, is asked once per kind of socket where to report
	// how long the oldest frame of each write waited, the write's system
	// call included: the last hop inside the node.
	WriteWait func(kind string) func(time.Duration)
}

func (o *Options) defaults() {
	if o.ReadLimit == 0 {
		o.ReadLimit = 64 << 10
	}
	if o.MaxQueueBytes == 0 {
		o.MaxQueueBytes = 1 << 20
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PongWait == 0 {
		o.PongWait = 60 * time.Second
	}
	if o.PingEvery == 0 {
		o.PingEvery = o.PongWait * 4 / 10
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Registry holds every open socket of a process.
type Registry struct {
	opts     Options
	upgrader websocket.Upgrader
	bufs     sync.Pool // *[]byte: the writers' buffers

	mu        sync.Mutex
	conns     map[*Conn]struct{}
	tallies   map[string]*tally // by kind; never shrinks (the kinds are the adapters')
	nextSlice int               // the ping slice the next socket joins
	draining  bool
	empty     chan struct{} // closed when draining and the last conn goes
}

// ErrDraining is returned by Upgrade while the process shuts down.
var ErrDraining = errors.New("socket: shutting down")

// NewRegistry returns a registry; call Run to start its ping timer.
func NewRegistry(opts Options) *Registry {
	opts.defaults()
	return &Registry{
		bufs:    sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }},
		opts:    opts,
		conns:   map[*Conn]struct{}{},
		tallies: map[string]*tally{},
		upgrader: websocket.Upgrader{
			// No size: gorilla reads through the hijacked reader, which
			// hijackWriter makes (readBufferSize).
			// Gorilla never writes after the handshake (the writer frames
			// and writes itself); a pool keeps it from holding a buffer.
			WriteBufferPool:  &sync.Pool{},
			HandshakeTimeout: 10 * time.Second,
			// Origins are the adapters' business: they know the merchant.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
}

// tally counts one kind of socket with atomics, so that counting a frame
// costs neither a lock nor an allocation.
type tally struct {
	open      atomic.Int64
	in, out   atomic.Uint64
	writeWait func(time.Duration) // nil: not reported
}

// Tally is what a kind of socket has done in this process.
type Tally struct {
	Kind    string
	Open    int64  // sockets open now
	In, Out uint64 // frames read and written since the start
}

// Tallies returns every kind's counts, for metrics.
func (r *Registry) Tallies() []Tally {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Tally, 0, len(r.tallies))
	for kind, t := range r.tallies {
		out = append(out, Tally{Kind: kind, Open: t.open.Load(), In: t.in.Load(), Out: t.out.Load()})
	}
	return out
}

// Upgrade turns an HTTP request into a registered socket of the given kind
// ("visitor", "console": what Tallies counts it under). On failure the
// upgrader has already answered the request.
func (r *Registry) Upgrade(w http.ResponseWriter, req *http.Request, kind string) (*Conn, error) {
	r.mu.Lock()
	draining := r.draining
	t := r.tallies[kind]
	if t == nil {
		t = &tally{}
		if r.opts.WriteWait != nil {
			t.writeWait = r.opts.WriteWait(kind)
		}
		r.tallies[kind] = t
	}
	r.mu.Unlock()
	if draining {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return nil, ErrDraining
	}
	hw := &hijackWriter{ResponseWriter: w}
	ws, err := r.upgrader.Upgrade(hw, req, upgradeHeader(w.Header()))
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(r.opts.ReadLimit)
	c := &Conn{ws: ws, raw: hw.conn.Conn, wrc: inlineWrites(hw.conn.Conn), br: hw.br, reg: r, tally: t}
	hw.conn.owner.Store(c)
	// Gorilla's own handlers would write from the reader; these hand the
	// pong or the close reply to the writer.
	ws.SetPingHandler(func(data string) error {
		c.pongTo(data)
		return nil
	})
	ws.SetCloseHandler(func(code int, _ string) error {
		c.peerClosed(code)
		return nil
	})
	ws.SetPongHandler(func(string) error {
		c.extendDeadline()
		return nil
	})
	_ = ws.SetReadDeadline(time.Now().Add(r.opts.PongWait))
	r.mu.Lock()
	if r.draining {
		r.mu.Unlock()
		// No reader will run: the writer finishes the socket after the
		// close frame.
		c.CloseNow(websocket.CloseServiceRestart, "shutting down")
		return nil, ErrDraining
	}
	c.pingSlice = r.nextSlice
	r.nextSlice = (r.nextSlice + 1) % pingSlices
	r.conns[c] = struct{}{}
	t.open.Add(1)
	r.mu.Unlock()
	return c, nil
}

func (r *Registry) remove(c *Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.conns[c]; ok {
		c.tally.open.Add(-1)
	}
	delete(r.conns, c)
	if r.draining && len(r.conns) == 0 && r.empty != nil {
		close(r.empty)
		r.empty = nil
	}
}

// Len returns the number of open sockets.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// pingSlices spreads pings over the period: each tick pings one slice of
// the sockets, so 19,000 of them are not pinged in one burst.
const pingSlices = 16

// Run pings every socket from one timer until ctx ends. It only asks each
// socket's writer for a ping, so a socket stuck in a write delays no other.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.PingEvery / pingSlices)
	defer t.Stop()
	for tick := 0; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			slice := tick % pingSlices
			r.mu.Lock()
			conns := make([]*Conn, 0, len(r.conns)/pingSlices+1)
			for c := range r.conns {
				// By the slice fixed at registration: map order is random,
				// so counting positions would skip some sockets for long.
				if c.pingSlice == slice {
					conns = append(conns, c)
				}
			}
			r.mu.Unlock()
			for _, c := range conns {
				c.ping()
			}
		}
	}
}

// Drain refuses new sockets, asks every open one to reconnect elsewhere with
// 1012 (service restart), and waits until they are gone or ctx ends, when
// the rest are cut.
func (r *Registry) Drain(ctx context.Context) {
	r.mu.Lock()
	r.draining = true
	conns := make([]*Conn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	var empty chan struct{}
	if len(r.conns) > 0 {
		empty = make(chan struct{})
		r.empty = empty
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.Close(websocket.CloseServiceRestart, "server restarting; reconnect")
	}
	if empty == nil {
		return
	}
	select {
	case <-empty:
	case <-ctx.Done():
		r.mu.Lock()
		left := len(r.conns)
		r.mu.Unlock()
		r.opts.Logger.Warn("drain timed out; cutting the sockets left", "left", left)
		for _, c := range conns {
			c.finish()
		}
	}
}

// upgradeHeader is what the handler set on the response before the
// upgrade (such as its request id), for the 101 answer; gorilla writes the
// WebSocket headers itself and refuses to be given them.
func upgradeHeader(h http.Header) http.Header {
	if len(h) == 0 {
		return nil
	}
	out := make(http.Header, len(h))
	for k, v := range h {
		if !strings.HasPrefix(http.CanonicalHeaderKey(k), "Sec-Websocket-") {
			out[k] = v
		}
	}
	return out
}
