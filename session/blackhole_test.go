package session

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session/sessiontest"
)

// darkProxy forwards TCP connections to a Redis until it is told to go dark:
// then the connections open at that moment stay open but carry nothing
// either way, as when a NAT or a firewall forgets a connection or the
// network parts without a reset. Connections made after that work.
type darkProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]bool // client side → dark
	wg    sync.WaitGroup
}

func newDarkProxy(t *testing.T, target string) *darkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &darkProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *darkProxy) addr() string { return p.ln.Addr().String() }

func (p *darkProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c] = false
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up, c)
		go p.pipe(c, c, up)
	}
}

// pipe copies src to dst while the connection of client is not dark, and
// swallows what src sends once it is.
func (p *darkProxy) pipe(client, dst, src net.Conn) {
	defer p.wg.Done()
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.dark(client) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *darkProxy) dark(client net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns[client]
}

// goDark darkens every connection open now.
func (p *darkProxy) goDark() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		p.conns[c] = true
	}
}

func (p *darkProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestClassicSubscriptionSurvivesADarkConnection: the connection of the
// classic subscription goes dark (no reset, nothing arrives). The node must
// notice and subscribe again on a new connection: what another node writes
// afterwards reaches its watchers, and the account invalidations on the
// control channel reach it too. go-redis alone reads the dead connection
// until TCP gives up, a quarter of an hour.
func TestClassicSubscriptionSurvivesADarkConnection(t *testing.T) {
	b := sessiontest.Shared(t)
	if b.Embedded {
		t.Skip("about a real Redis server's connections")
	}
	opt, err := redis.ParseURL(b.URL)
	require.NoError(t, err)
	direct, prefix := sessiontest.Redis(t)
	proxy := newDarkProxy(t, opt.Addr)
	popt := *opt
	popt.Addr = proxy.addr()
	popt.ReadTimeout, popt.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	viaProxy := redis.NewClient(&popt)
	t.Cleanup(func() { _ = viaProxy.Close() })

	a := newNode(t, direct, prefix) // writes
	watcher := newTunedNode(t, viaProxy, prefix, func(h *Hub) { h.quietAfter = 200 * time.Millisecond })
	ctx := context.Background()
	m, err := a.CreateMerchant(ctx, "Dark", nil, "")
	require.NoError(t, err)
	turn := startTalking(t, a, m)
	n := transcriptLen(t, a, turn.ConversationID)
	rec := &recorder{}
	f := watcher.Hub().WatchConversation(ctx, turn.ConversationID, 0, rec)
	defer f.Stop()
	require.Eventually(t, func() bool { return len(rec.seqs()) == int(n) }, 5*time.Second, 5*time.Millisecond)

	proxy.goDark()
	for i, text := range []string{"one", "two", "three"} {
		require.NoError(t, a.VisitorMessage(ctx, turn, "dark"+text, text))
		require.Eventually(t, func() bool { return len(rec.seqs()) == int(n)+i+1 }, 10*time.Second, 10*time.Millisecond,
			"the watcher never heard entry %d written after its subscription went dark", i+1)
	}
	require.Equal(t, upTo(n+3), rec.seqs(), "each entry once, in order")

	// The control channel came back with it: a change of the merchant's
	// configuration, made on the other node, is seen here at once (not
	// after the cache's lifetime).
	cached := func() bool {
		watcher.cfg.mu.Lock()
		defer watcher.cfg.mu.Unlock()
		_, ok := watcher.cfg.byID[m.ID]
		return ok
	}
	require.Eventually(t, func() bool {
		_, err := watcher.Merchant(ctx, m.ID)
		return err == nil && cached()
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, a.rdb.Publish(ctx, a.keys.control(), "x"+m.ID).Err())
	require.Eventually(t, func() bool { return !cached() }, 5*time.Second, 10*time.Millisecond,
		"the invalidation on the control channel was not heard")
}
