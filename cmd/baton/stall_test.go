package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/socket"
)

// The stall tests: one console whose peer stops reading must cost nobody
// else anything, whether delivery is local or goes through the Hub.
const (
	stallLive      = 30 // conversations that must not notice
	stallAgents    = 10 // live consoles, three conversations each
	stallStuck     = 10 // conversations of the console that reads nothing
	stallIdle      = 200
	stallLoad      = 6 * time.Second
	stallLiveEvery = 250 * time.Millisecond // per live conversation
	stallLongEvery = 100 * time.Millisecond // per stuck conversation, 4,000 characters each
)

// stallSockets: pings every half second and a pong wait of 2 s, so idle
// sockets whose pings are held up are dropped within the run. The queue
// (1 MiB) and the write timeout (10 s) keep their defaults.
func stallSockets(c *appConfig) {
	c.Sockets = socket.Options{PingEvery: 500 * time.Millisecond, PongWait: 2 * time.Second}
}

// TestStalledConsoleStallsNobody: visitors on node A talk with agents
// whose consoles are on node B (so delivery to them goes through B's Hub;
// with one node, A is B), while one agent's console stops reading and its
// conversations get long messages. The other conversations' messages,
// both ways, arrive within 50 ms at p99 (see stallBound) and none is lost; the stuck
// console is cut; 200 idle sockets on B are pinged on time and all stay.
//
// Latency is the machine's as much as Baton's: an attempt that misses a
// bound while other processes kept more than an eighth of the machine busy
// is repeated (at most three attempts), as loadgen repeats disturbed steps.
// An undisturbed miss fails at once; so does the last attempt, disturbed or
// not.
func TestStalledConsoleStallsNobody(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes int
	}{{"one node", 1}, {"two nodes", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			for attempt := 1; ; attempt++ {
				var res stallResult
				ok := t.Run(fmt.Sprintf("attempt %d", attempt), func(t *testing.T) {
					res = stallRun(t, nodes(t, tc.nodes, stallSockets))
				})
				if !ok {
					return // the set-up failed
				}
				missed := res.missed()
				disturbed := res.others > float64(runtime.NumCPU())/8
				switch {
				case len(missed) == 0:
					return
				case disturbed && attempt < 3:
					t.Logf("attempt %d missed %v while other processes used %.2f cores; again", attempt, missed, res.others)
				default:
					if disturbed {
						t.Logf("every attempt ran on a busy machine (other processes: %.2f cores in the last)", res.others)
					}
					for _, m := range missed {
						t.Error(m)
					}
					return
				}
			}
		})
	}
}

// stallBound is the p99 the live conversations must keep: 50 ms, or 250 ms
// under the race detector, whose instrumentation alone costs several times
// that on this load. Either is far below what the stall did (a p99 of
// 1.9 s with two nodes, and every idle socket dropped).
func stallBound() time.Duration {
	if raceDetector {
		return 250 * time.Millisecond
	}
	return 50 * time.Millisecond
}

// stallResult is what one attempt measured.
type stallResult struct {
	toAgent, toVisitor latency
	cut                time.Duration // when the stuck console was cut; 0: it was not
	dropped            int           // idle sockets closed
	worstGap           time.Duration // the longest wait of an idle socket between pings
	others             float64       // cores the rest of the machine used meanwhile
}

// missed lists the bounds an attempt did not meet.
func (r stallResult) missed() []string {
	var out []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	check(r.toAgent.lost == 0, "%d visitor messages lost on the way to the consoles", r.toAgent.lost)
	check(r.toVisitor.lost == 0, "%d agent messages lost on the way to the visitors", r.toVisitor.lost)
	bound := stallBound()
	check(r.toAgent.p99 <= bound, "visitor -> console p99 %v > %v", r.toAgent.p99, bound)
	check(r.toVisitor.p99 <= bound, "console -> visitor p99 %v > %v", r.toVisitor.p99, bound)
	check(r.cut > 0, "the console that reads nothing was not cut within the run")
	check(r.dropped == 0, "%d idle sockets dropped", r.dropped)
	check(r.worstGap < 2*time.Second, "an idle socket went %v (a whole pong wait) without a ping", r.worstGap)
	return out
}

func stallRun(t *testing.T, ns []*env) stallResult {
	a, b := ns[0], ns[len(ns)-1]
	s := a.shop("Stall Shop")
	tokens := make([]string, stallAgents)
	consoles := make([]*client, stallAgents)
	for i := range tokens {
		tokens[i] = a.addAgent(s, fmt.Sprintf("live%d@stall.example", i), fmt.Sprintf("Live %d", i))
		consoles[i] = b.console(tokens[i])
	}
	stuckToken := a.addAgent(s, "stuck@stall.example", "Stuck")

	claim := func(tok string, i int) (*client, string) {
		v := a.visitor(s.m.WidgetKey)
		id := queueToHandoff(t, v, fmt.Sprintf("v%d@stall.example", i))
		code, body := b.do("POST", "/v1/agent/conversations/"+id+"/claim", tok, nil)
		require.Equal(t, 200, code, "claim: %v", body)
		v.Expect("agent_joined")
		return v, id
	}
	visitors := make([]*client, stallLive)
	convs := make([]string, stallLive)
	for i := range visitors {
		visitors[i], convs[i] = claim(tokens[i%stallAgents], i)
	}
	// The stuck console's conversations: their visitors leave, and the
	// agent writes long messages into them over REST on node A, which reach
	// the console as frames (through B's Hub with two nodes).
	stuckConvs := make([]string, stallStuck)
	for i := range stuckConvs {
		var v *client
		v, stuckConvs[i] = claim(stuckToken, stallLive+i)
		_ = v.Conn.Close()
	}
	// Every live console follows its conversations before the clock starts.
	for i, v := range visitors {
		say(v, "warm", "hello")
		consoles[i%stallAgents].Next("the warm-up message", func(f map[string]any) bool {
			return f["type"] == "message" && f["conversation_id"] == convs[i]
		})
	}
	idle := make([]*idleSocket, stallIdle)
	for i := range idle {
		idle[i] = dialIdle(t, b, s.m.WidgetKey)
	}
	for _, w := range idle {
		w.waitWelcome(t)
	}
	stuck := stuckConsole(t, b, stuckToken)

	rec := newDeliveries()
	stop := make(chan struct{})
	var senders, readers sync.WaitGroup
	for i, c := range consoles {
		readers.Add(1)
		go func() { defer readers.Done(); rec.agentSide(t, c, i, stop) }()
	}
	for i, v := range visitors {
		readers.Add(1)
		go func() { defer readers.Done(); rec.visitorSide(v, i, stop) }()
		senders.Add(1)
		go func() { defer senders.Done(); rec.visitorSends(t, v, i, stop) }()
	}
	rpid := redisPID(a.ctx, a.cfg.Redis)
	busy0 := sampleBusy(rpid)
	start := time.Now()
	cut := make(chan time.Duration, 2)
	stuckGone := make(chan struct{})
	senders.Add(1)
	go func() { defer senders.Done(); keepAlive(stuck, start, cut, stuckGone, stop) }()
	// The server's own account of the cut: node B's console count falls
	// back to the live ones. The stuck client does not always see it (in
	// about one run in eight its pings kept being accepted after the server
	// had closed the socket: the close waits behind data the client never
	// reads), so both are watched.
	senders.Add(1)
	go func() { defer senders.Done(); watchCut(b, stallAgents, start, cut, stop) }()
	for _, id := range stuckConvs {
		senders.Add(1)
		go func() { defer senders.Done(); longSends(t, a, stuckToken, id, stuckGone, stop) }()
	}

	time.Sleep(stallLoad) // the length of the load, not a wait for an event
	close(stop)
	res := stallResult{others: sampleBusy(rpid).others(busy0)}
	senders.Wait()
	// Every message sent arrives, or counts as lost.
	deadline := time.Now().Add(5 * time.Second)
	for !rec.complete() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	rec.finish()
	readers.Wait()

	res.toAgent, res.toVisitor = rec.report()
	select {
	case res.cut = <-cut:
	default:
	}
	for _, w := range idle {
		g, closed := w.state()
		res.worstGap = max(res.worstGap, g)
		if closed {
			res.dropped++
		}
	}
	t.Logf("visitor -> console: %s", res.toAgent)
	t.Logf("console -> visitor: %s", res.toVisitor)
	t.Logf("stuck console cut %v into the load (0: not cut); idle sockets: %d of %d dropped, longest wait between pings %v; other processes used %.2f cores",
		res.cut.Round(time.Millisecond), res.dropped, stallIdle, res.worstGap.Round(time.Millisecond), res.others)
	return res
}

// deliveries times each live message from its send to its arrival.
type deliveries struct {
	mu        sync.Mutex
	sent      map[string]time.Time // by client_id (visitor) or "r"+id (reply)
	toAgent   []time.Duration
	toVisitor []time.Duration
	done      chan struct{}
}

func newDeliveries() *deliveries {
	return &deliveries{sent: map[string]time.Time{}, done: make(chan struct{})}
}

func (d *deliveries) mark(key string) {
	d.mu.Lock()
	d.sent[key] = time.Now()
	d.mu.Unlock()
}

// arrived records the arrival of key, once; false when it was not sent
// (a duplicate, or not part of the load).
func (d *deliveries) arrived(key string, into *[]time.Duration) bool {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.sent[key]
	if !ok {
		return false
	}
	delete(d.sent, key)
	*into = append(*into, now.Sub(at))

	return true
}

func (d *deliveries) complete() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.sent) == 0
}

func (d *deliveries) finish() { close(d.done) }

// visitorSends sends a short message every stallLiveEvery until stop.
func (d *deliveries) visitorSends(t *testing.T, v *client, conv int, stop chan struct{}) {
	// Spread over the period: a hiccup of the machine then delays a few
	// messages, not one of each conversation.
	select {
	case <-stop:
		return
	case <-time.After(stallLiveEvery * time.Duration(conv) / stallLive):
	}
	tick := time.NewTicker(stallLiveEvery)
	defer tick.Stop()
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		id := fmt.Sprintf("l%d-%d", conv, k)
		d.mark(id)
		if err := v.Conn.WriteJSON(map[string]any{"type": "message", "client_id": id, "text": "live " + id}); err != nil {
			t.Errorf("visitor %d: %v", conv, err)
			return
		}
	}
}

// agentSide answers every live visitor message the console gets with a
// reply that names it.
func (d *deliveries) agentSide(t *testing.T, c *client, agent int, stop chan struct{}) {
	for {
		var f map[string]any
		select {
		case f = <-c.Frames():
		case <-d.done:
			return
		}
		m, _ := f["message"].(map[string]any)
		if f["type"] != "message" || m["role"] != "visitor" {
			continue
		}
		id, _ := m["client_id"].(string)
		if !d.arrived(id, &d.toAgent) {
			continue
		}
		select {
		case <-stop:
			continue // no replies after the load
		default:
		}
		d.mark("r" + id)
		if err := c.Conn.WriteJSON(map[string]any{"type": "message", "conversation_id": f["conversation_id"],
			"client_id": "r" + id, "text": "reply r" + id}); err != nil {
			t.Errorf("console %d: %v", agent, err)
			return
		}
	}
}

// visitorSide times the agents' replies.
func (d *deliveries) visitorSide(v *client, conv int, stop chan struct{}) {
	for {
		var f map[string]any
		select {
		case f = <-v.Frames():
		case <-d.done:
			return
		}
		text, _ := f["text"].(string)
		if f["type"] == "message" && f["role"] == "agent" && strings.HasPrefix(text, "reply ") {
			d.arrived(strings.TrimPrefix(text, "reply "), &d.toVisitor)
		}
	}
}

type latency struct {
	n, lost       int
	p50, p99, max time.Duration
}

func (l latency) String() string {
	return fmt.Sprintf("%d delivered, %d lost, p50 %v, p99 %v, max %v", l.n, l.lost,
		l.p50.Round(10*time.Microsecond), l.p99.Round(10*time.Microsecond), l.max.Round(10*time.Microsecond))
}

func (d *deliveries) report() (toAgent, toVisitor latency) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.sent {
		if strings.HasPrefix(k, "r") {
			toVisitor.lost++
		} else {
			toAgent.lost++
		}
	}
	sum := func(ds []time.Duration, l *latency) {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		l.n = len(ds)
		if l.n == 0 {
			return
		}
		l.p50, l.p99, l.max = ds[l.n/2], ds[(l.n*99)/100], ds[l.n-1]
	}
	sum(d.toAgent, &toAgent)
	sum(d.toVisitor, &toVisitor)
	return toAgent, toVisitor
}
