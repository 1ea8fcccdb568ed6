package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// queueConsole is a console socket that follows the queue as a console
// built from docs/protocol.md would: opted in, it applies queue_delta
// frames to its view and asks for a snapshot (queue_sync) when a version
// is missing; otherwise it takes each full queue frame. It counts the
// bytes it is sent.
type queueConsole struct {
	t      *testing.T
	conn   *websocket.Conn
	deltas bool
	bytes  atomic.Int64
	closed chan struct{}

	mu      sync.Mutex
	err     error
	synced  bool // holds a snapshot
	version int64
	total   int
	list    []json.RawMessage
	ids     []string
	gaps    int
}

func dialQueueConsole(t *testing.T, e *env, token string, deltas bool) *queueConsole {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(e.wsURL("/v1/agent/ws"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	c := &queueConsole{t: t, conn: conn, deltas: deltas, closed: make(chan struct{})}
	auth := map[string]any{"type": "auth", "token": token}
	if deltas {
		auth["queue_deltas"] = true
	}
	require.NoError(t, conn.WriteJSON(auth))
	go c.read()
	return c
}

type queueFrame struct {
	Type          string            `json:"type"`
	Op            string            `json:"op"`
	Version       *int64            `json:"version"`
	Total         int               `json:"total"`
	Position      int               `json:"position"`
	Conversation  json.RawMessage   `json:"conversation"`
	Conversations []json.RawMessage `json:"conversations"`
}

func idOf(raw json.RawMessage) string {
	var c struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.ID
}

func (c *queueConsole) read() {
	defer close(c.closed)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		c.bytes.Add(int64(len(data)))
		if !bytes.HasPrefix(data, []byte(`{"type":"queue`)) {
			continue // counted, not read: the test's own work stays small
		}
		var f queueFrame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch f.Type {
		case "queue":
			c.mu.Lock()
			if c.deltas && f.Version == nil {
				c.err = fmt.Errorf("an opted-in console got a snapshot without a version")
			}
			if f.Version != nil {
				c.version = *f.Version
			}
			c.synced, c.total, c.list = true, f.Total, f.Conversations
			c.ids = make([]string, len(c.list))
			for i, raw := range c.list {
				c.ids[i] = idOf(raw)
			}
			c.mu.Unlock()
		case "queue_delta":
			c.apply(f)
		}
	}
}

func (c *queueConsole) apply(f queueFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.deltas {
		c.err = fmt.Errorf("a console that did not opt in got a queue_delta")
		return
	}
	if !c.synced || f.Version == nil || *f.Version <= c.version {
		return // waiting for a snapshot, or already applied
	}
	if *f.Version != c.version+1 {
		// A gap: what is held can no longer be trusted.
		c.gaps++
		c.synced = false
		_ = c.conn.WriteJSON(map[string]any{"type": "queue_sync"})
		return
	}
	c.version, c.total = *f.Version, f.Total
	id := idOf(f.Conversation)
	at := -1
	for i, x := range c.ids {
		if x == id {
			at = i
			break
		}
	}
	switch f.Op {
	case "removed":
		if at >= 0 {
			c.list = append(c.list[:at], c.list[at+1:]...)
			c.ids = append(c.ids[:at], c.ids[at+1:]...)
		}
	case "added", "changed":
		if at >= 0 {
			c.list = append(c.list[:at], c.list[at+1:]...)
			c.ids = append(c.ids[:at], c.ids[at+1:]...)
		}
		p := min(max(f.Position-1, 0), len(c.list))
		c.list = append(c.list[:p], append([]json.RawMessage{f.Conversation}, c.list[p:]...)...)
		c.ids = append(c.ids[:p], append([]string{id}, c.ids[p:]...)...)
	}
}

// order is which conversations the console shows, in order, and the total.
func (c *queueConsole) order() (string, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.ids, ","), c.total, c.err
}

// view is what the console shows: each conversation without its position
// (derived from the order).
func (c *queueConsole) view() string {
	c.mu.Lock()
	list := c.list
	c.mu.Unlock()
	return normalQueue(list)
}

func normalQueue(list []json.RawMessage) string {
	out := make([]map[string]any, len(list))
	for i, raw := range list {
		_ = json.Unmarshal(raw, &out[i])
		delete(out[i], "queue_position")
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// TestQueueDeltasBurst: a team of consoles on two nodes (the 200,
// opted in to deltas, and a few that did not opt in) through a burst of
// handoffs (the 500) with claims among them: no console is cut,
// and every console's view ends equal to GET
// /v1/agent/conversations?status=queued. Bytes sent to each console per
// handoff do not grow with the queue (measured at about 10 and about 400
// queued; logged). Sizes: BATON_TEST_QUEUE_AGENTS, BATON_TEST_QUEUE_HANDOFFS
// (smaller by default under the race detector).
func TestQueueDeltasBurst(t *testing.T) {
	agents, handoffs := 200, 500
	if raceDetector {
		agents, handoffs = 30, 120
	}
	agents = envInt("BATON_TEST_QUEUE_AGENTS", agents)
	handoffs = envInt("BATON_TEST_QUEUE_HANDOFFS", handoffs)
	const legacy = 10   // consoles that did not opt in
	const measured = 20 // handoffs per measurement
	const small = 10    // the queue's length at the first measurement

	begin := time.Now()
	ns := nodes(t, 2)
	s := ns[0].shop("Burst Shop")
	ctx := context.Background()
	svc := ns[0].app.svc
	tokens := make([]string, agents+legacy)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var setupErr error
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := fmt.Sprintf("agent%d@burst.example", i)
			if _, err := svc.CreateAgent(ctx, s.m.ID, email, fmt.Sprintf("Agent %d", i), "agent-password", false); err != nil {
				mu.Lock()
				setupErr = err
				mu.Unlock()
				return
			}
			tokens[i] = ns[i%2].login(email, "agent-password")
		}()
		if i%16 == 15 {
			wg.Wait()
		}
	}
	wg.Wait()
	require.NoError(t, setupErr)

	consoles := make([]*queueConsole, len(tokens))
	for i, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			consoles[i] = dialQueueConsole(t, ns[i%2], tok, i < agents)
		}()
		if i%16 == 15 {
			wg.Wait()
		}
	}
	wg.Wait()
	t.Logf("setup: %d agents signed in, their consoles open, in %v", len(consoles), time.Since(begin).Round(time.Millisecond))
	opted, old := consoles[:agents], consoles[agents:]

	m, err := svc.Merchant(ctx, s.m.ID)
	require.NoError(t, err)
	var queued atomic.Int64
	// handoff takes a new visitor on node n through the offer and the
	// email to the queue.
	handoff := func(n int) (string, error) {
		sv := ns[n%2].app.svc
		conv, token, err := sv.StartConversation(ctx, m, session.VisitorInfo{Locale: "en"})
		if err != nil {
			return "", err
		}
		turn := conv.Turn()
		for _, step := range []func(session.Turn) error{
			func(tn session.Turn) error { return sv.RequestHandoff(ctx, tn) },
			func(tn session.Turn) error { return sv.ReplyToOffer(ctx, tn, true) },
			func(tn session.Turn) error { return sv.SubmitEmail(ctx, tn, "v"+conv.ID+"@example.com") },
		} {
			if err := step(turn); err != nil {
				return "", err
			}
			c, err := sv.ResumeConversation(ctx, m.ID, conv.ID, token)
			if err != nil {
				return "", err
			}
			turn = c.Turn()
		}
		if turn.Status != session.StatusQueued {
			return "", fmt.Errorf("%s ended %s, not queued", conv.ID, turn.Status)
		}
		queued.Add(1)
		return conv.ID, nil
	}
	var claimed, claimNanos atomic.Int64
	claim := func(n int, convID string) error {
		from := time.Now()
		defer func() { claimNanos.Add(int64(time.Since(from))) }()
		code, body := ns[n%2].do("POST", "/v1/agent/conversations/"+convID+"/claim", tokens[n%agents], nil)
		if code != 200 {
			return fmt.Errorf("claim %s: %d %v", convID, code, body)
		}
		claimed.Add(1)
		return nil
	}
	// burst runs n handoffs on workers spread over both nodes, claiming
	// every claimEvery-th (none when 0).
	burst := func(n, claimEvery int) {
		t.Helper()
		var next atomic.Int64
		errs := make(chan error, 16)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1))
					if i > n {
						return
					}
					id, err := handoff(w + i)
					if err == nil && claimEvery > 0 && i%claimEvery == 0 {
						err = claim(i, id)
					}
					if err != nil {
						select {
						case errs <- err:
						default:
						}
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		require.NoError(t, <-errs)
	}
	// settled waits for every console to show what the REST listing does.
	settled := func(what string) {
		t.Helper()
		total := int(queued.Load() - claimed.Load())
		from := time.Now()
		defer func() {
			t.Logf("%s: every console showed the queue after %v", what, time.Since(from).Round(time.Millisecond))
		}()
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, body := ns[0].do("GET", "/v1/agent/conversations?status=queued", tokens[0], nil)
			require.Equal(t, 200, code)
			raw, _ := json.Marshal(body["conversations"])
			var list []json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &list))
			ids := make([]string, len(list))
			for i, raw := range list {
				ids[i] = idOf(raw)
			}
			wantOrder := strings.Join(ids, ",")
			behind := 0
			var sample string
			for i, c := range consoles {
				got, gotTotal, err := c.order()
				require.NoError(t, err, "console %d (opted in: %v) was closed or misled", i, c.deltas)
				if got != wantOrder || gotTotal != total {
					behind++
					sample = fmt.Sprintf("console %d: total %d, want %d; %d bytes of ids, want %d", i, gotTotal, total, len(got), len(wantOrder))
				}
			}
			if behind == 0 {
				// The same conversations in the same order: now their
				// content, field by field.
				want := normalQueue(list)
				for i, c := range consoles {
					if c.view() != want {
						behind++
						sample = fmt.Sprintf("console %d shows other content", i)
					}
				}
			}
			if behind == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d consoles do not show the queue; %s", what, behind, sample)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// perHandoff is the bytes each console of group was sent per handoff
	// while run ran, once everything settled.
	perHandoff := func(group []*queueConsole, before []int64, n int) float64 {
		var sum int64
		for i, c := range group {
			sum += c.bytes.Load() - before[i]
		}
		return float64(sum) / float64(len(group)) / float64(n)
	}
	mark := func(group []*queueConsole) []int64 {
		out := make([]int64, len(group))
		for i, c := range group {
			out[i] = c.bytes.Load()
		}
		return out
	}
	measure := func(what string) (float64, float64) {
		t.Helper()
		o, l := mark(opted), mark(old)
		from := time.Now()
		burst(measured, 0)
		t.Logf("%s: %d handoffs in %v", what, measured, time.Since(from).Round(time.Millisecond))
		settled(what)
		time.Sleep(300 * time.Millisecond) // the legacy consoles' last coalesced frame
		return perHandoff(opted, o, measured), perHandoff(old, l, measured)
	}

	burst(small, 0)
	settled("the first handoffs")
	smallOpted, smallOld := measure("handoffs at a short queue")

	start := time.Now()
	burst(handoffs, envInt("BATON_TEST_QUEUE_CLAIM_EVERY", 4))
	took := time.Since(start)
	settled("the burst")
	t.Logf("%d consoles (%d opted in) on 2 nodes; %d handoffs (%d claimed, %v a claim on average) in %v; %d queued after",
		len(consoles), agents, handoffs, claimed.Load(), (time.Duration(claimNanos.Load()) / time.Duration(max(claimed.Load(), 1))).Round(time.Millisecond),
		took.Round(time.Millisecond), queued.Load()-claimed.Load())

	length := queued.Load() - claimed.Load()
	largeOpted, largeOld := measure("handoffs at a long queue")
	t.Logf("bytes per handoff per console: opted in %.0f at %d queued, %.0f at %d queued; full frames (coalesced) %.0f and %.0f",
		smallOpted, small, largeOpted, length, smallOld, largeOld)

	// Claims at the head of a long queue: each brings the next into view.
	o := mark(opted)
	code, body := ns[1].do("GET", "/v1/agent/conversations?status=queued", tokens[1], nil)
	require.Equal(t, 200, code)
	heads, _ := body["conversations"].([]any)
	require.GreaterOrEqual(t, len(heads), measured)
	for i, h := range heads[:measured] {
		require.NoError(t, claim(i, h.(map[string]any)["id"].(string)))
	}
	settled("claims at the head")
	t.Logf("bytes per claim at the head per opted-in console: %.0f", perHandoff(opted, o, measured))

	gaps := 0
	for _, c := range opted {
		c.mu.Lock()
		gaps += c.gaps
		c.mu.Unlock()
	}
	t.Logf("gaps seen and resynced: %d", gaps)
	// Flat: the long queue costs an opted-in console no more per handoff
	// than the short one (a little slack for frame sizes and timing).
	require.Less(t, largeOpted, 1.5*smallOpted+200, "bytes per handoff grow with the queue")
	for i, c := range consoles {
		select {
		case <-c.closed:
			t.Fatalf("console %d was closed: %v", i, c.err)
		default:
		}
	}
}
