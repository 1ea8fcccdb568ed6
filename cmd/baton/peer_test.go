package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// peer is a resilient test client, visitor or agent console, that follows
// one conversation across drops and nodes the way the widget and console do:
// it resumes from the last seq it saw, resends unacknowledged messages with
// the same client_id, and checks that what it receives is contiguous and
// never repeated.
type peer struct {
	t     testing.TB
	name  string
	agent bool
	nodes []string // base URLs of the gateway nodes (a load balancer's pool)
	key   string   // visitor: widget key
	token string   // visitor: resume token; agent: JWT
	conv  string

	mu       sync.Mutex
	conn     *websocket.Conn
	gen      int   // connection generation; frames of old ones are ignored
	lastSeq  int64 // highest contiguous seq received
	received int
	dups     int
	gaps     []string
	acked    map[string]int64 // client_id → seq of our own messages
	ready    chan int         // gen of each welcome/ready
	errs     []string
	resumes  []time.Duration // drop → welcome
	down     time.Time
}

func newPeer(t testing.TB, name string, nodes []string) *peer {
	return &peer{t: t, name: name, nodes: nodes, acked: map[string]int64{}, ready: make(chan int, 64)}
}

func wsBase(u string) string { return "ws" + strings.TrimPrefix(u, "http") }

// connect dials a random live node and says hello (or auth), retrying other
// nodes until one answers or the deadline passes.
func (p *peer) connect() error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		p.mu.Lock()
		node := p.nodes[rand.IntN(len(p.nodes))]
		p.mu.Unlock()
		err := p.dialOnce(node)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no node accepted us: %w", p.name, err)
		}
		time.Sleep(time.Duration(20+rand.IntN(60)) * time.Millisecond)
	}
}

func (p *peer) dialOnce(node string) error {
	path := "/v1/agent/ws"
	if !p.agent {
		path = "/v1/widget/ws?key=" + p.key
	}
	d := websocket.Dialer{HandshakeTimeout: 3 * time.Second}
	conn, _, err := d.Dial(wsBase(node)+path, http.Header{})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.gen++
	gen := p.gen
	p.conn = conn
	last := p.lastSeq
	p.mu.Unlock()
	var first map[string]any
	if p.agent {
		first = map[string]any{"type": "auth", "token": p.token}
		if p.conv != "" {
			first["cursors"] = map[string]int64{p.conv: last}
		}
	} else {
		first = map[string]any{"type": "hello"}
		if p.conv != "" {
			first["conversation_id"], first["resume_token"], first["last_seq"] = p.conv, p.token, last
		}
	}
	go p.read(conn, gen)
	if err := conn.WriteJSON(first); err != nil {
		_ = conn.Close()
		return err
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case g := <-p.ready:
			if g == gen {
				return nil
			}
		case <-timeout:
			_ = conn.Close()
			return fmt.Errorf("%s: no welcome", p.name)
		}
	}
}

func (p *peer) read(conn *websocket.Conn, gen int) {
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			p.mu.Lock()
			if gen == p.gen {
				p.conn = nil
				if p.down.IsZero() {
					p.down = time.Now()
				}
			}
			p.mu.Unlock()
			return
		}
		var f map[string]any
		if json.Unmarshal(data, &f) != nil {
			p.fail("not JSON: %q", data)
			continue
		}
		p.mu.Lock()
		current := gen == p.gen
		p.mu.Unlock()
		if !current {
			continue
		}
		switch f["type"] {
		case "welcome":
			p.mu.Lock()
			if p.conv == "" {
				p.conv, p.token = f["conversation_id"].(string), f["resume_token"].(string)
			}
			if !p.down.IsZero() {
				p.resumes = append(p.resumes, time.Since(p.down))
				p.down = time.Time{}
			}
			p.mu.Unlock()
			p.ready <- gen
		case "ready":
			p.mu.Lock()
			if !p.down.IsZero() {
				p.resumes = append(p.resumes, time.Since(p.down))
				p.down = time.Time{}
			}
			p.mu.Unlock()
			p.ready <- gen
		case "message":
			m := f
			if p.agent {
				if f["conversation_id"] != p.conv {
					continue
				}
				m, _ = f["message"].(map[string]any)
			}
			p.entry(m)
		case "error":
			p.fail("error frame %v", f)
		}
	}
}

func (p *peer) entry(m map[string]any) {
	seq := num(m["seq"])
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case seq <= p.lastSeq:
		p.dups++
	case seq != p.lastSeq+1:
		p.gaps = append(p.gaps, fmt.Sprintf("after %d got %d", p.lastSeq, seq))
		p.lastSeq = seq
	default:
		p.lastSeq = seq
	}
	p.received++
	if id, _ := m["client_id"].(string); id != "" && strings.HasPrefix(id, p.name+"-") {
		p.acked[id] = seq
	}
}

func (p *peer) fail(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, fmt.Sprintf(format, args...))
}

// drop cuts the connection like a network failure: no close frame.
func (p *peer) drop() {
	p.mu.Lock()
	c := p.conn
	p.down = time.Now()
	p.mu.Unlock()
	if c != nil {
		_ = c.UnderlyingConn().Close()
	}
}

// lost marks the connection as gone (its node died) without touching it.
func (p *peer) lost() {
	p.mu.Lock()
	p.down = time.Now()
	p.mu.Unlock()
}

// say sends one message and waits for its acknowledgement, reconnecting and
// resending with the same client_id when the connection fails meanwhile.
func (p *peer) say(id, text string) {
	deadline := time.Now().Add(30 * time.Second)
	for attempt := 0; ; attempt++ {
		p.mu.Lock()
		_, done := p.acked[id]
		c := p.conn
		p.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			p.fail("%s never acknowledged", id)
			return
		}
		var f map[string]any
		if p.agent {
			f = map[string]any{"type": "message", "conversation_id": p.conv, "client_id": id, "text": text}
		} else {
			f = map[string]any{"type": "message", "client_id": id, "text": text}
		}
		if c == nil || c.WriteJSON(f) != nil {
			if err := p.connect(); err != nil {
				p.fail("%v", err)
				return
			}
			continue
		}
		// Wait for the echo; a silent connection means it died.
		wait := time.Now().Add(2 * time.Second)
		for time.Now().Before(wait) {
			p.mu.Lock()
			_, done = p.acked[id]
			same := p.conn == c
			p.mu.Unlock()
			if done || !same {
				break
			}
			time.Sleep(time.Millisecond)
		}
		p.mu.Lock()
		_, done = p.acked[id]
		p.mu.Unlock()
		if !done {
			_ = c.Close()
			if err := p.connect(); err != nil {
				p.fail("%v", err)
				return
			}
		}
	}
}

func (p *peer) close() {
	p.mu.Lock()
	c := p.conn
	p.gen++
	p.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// ensure reconnects if the connection is down (a drop after the last send).
func (p *peer) ensure() {
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c == nil {
		if err := p.connect(); err != nil {
			p.fail("%v", err)
		}
	}
}

// askForPerson presses "talk to a person" on a visitor peer's socket, as the
// widget does, and waits until the core has stored the offer: a
// conversation is stored at its first step, not at the hello.
func (p *peer) askForPerson(t *testing.T, svc *session.Service, merchantID string) {
	t.Helper()
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	require.NoError(t, c.WriteJSON(map[string]any{"type": "handoff_request"}))
	require.Eventually(t, func() bool {
		conv, _, err := svc.Conversation(context.Background(), merchantID, p.conv)
		return err == nil && conv.Status == session.StatusHandoffOffered
	}, 5*time.Second, 5*time.Millisecond)
}
