package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
)

// batonTarget is `baton serve` nodes on one Redis (or one Redis Cluster):
// visitors on the A nodes, agents on the B nodes (two nodes by default;
// comma lists for scale-out runs: agent j's console on B[j mod |B|], the
// visitors of its conversations on A[j mod |A|], so that with the B list a
// rotation of the A list every conversation crosses nodes). Everything goes
// through the public protocol.
type batonTarget struct {
	a, b   []string
	dbg    map[string]string
	d      *dialer
	apiB   []*api // per B node
	creds  *credentials
	agents []*agentSession
	ps     []proc
}

func newBatonTarget(ctx context.Context, o *relayOpts, d *dialer, rdb *redis.Client, logf func(string, ...any)) (*batonTarget, error) {
	t := &batonTarget{a: splitList(o.a), b: splitList(o.b), d: d, dbg: map[string]string{}}
	if len(t.a) == 0 || len(t.b) == 0 {
		return nil, fmt.Errorf("--a and --b each need at least one node")
	}
	for _, u := range t.b {
		t.apiB = append(t.apiB, newAPI(u))
	}
	for i, u := range splitList(o.debugA) {
		t.dbg[nodeName("baton-a", i)] = u
	}
	for i, u := range splitList(o.debugB) {
		t.dbg[nodeName("baton-b", i)] = u
	}
	t.ps = nodeProcs(ctx, t.dbg, rdb, o.baton.redis, logf)
	creds, err := o.baton.prepare(ctx, o.agents)
	if err != nil {
		return nil, err
	}
	t.creds = creds
	return t, nil
}

// nodeName is baton-a, baton-a2, baton-a3…: the first keeps the two-node
// runs' name.
func nodeName(base string, i int) string {
	if i == 0 {
		return base
	}
	return base + strconv.Itoa(i+1)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// nodeProcs finds the PIDs of the nodes (from their debug endpoints) and of
// Redis: every node of a cluster when redisURL is one (redis+cluster://),
// each charged under its own name (redis-PORT). A process named twice (a
// node in both lists) is counted once. What cannot be found is left out of
// the CPU figures, with a note.
func nodeProcs(ctx context.Context, dbg map[string]string, rdb *redis.Client, redisURL string, logf func(string, ...any)) []proc {
	var ps []proc
	seen := map[int]bool{}
	names := make([]string, 0, len(dbg))
	for name := range dbg {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f, err := readDebug(ctx, dbg[name], false)
		if err != nil {
			logf("note: %s debug endpoint %s: %v (its CPU is not reported)", name, dbg[name], err)
			continue
		}
		if seen[f.PID] {
			continue
		}
		seen[f.PID] = true
		ps = append(ps, proc{Name: name, PID: f.PID})
	}
	if len(dbg) == 0 {
		logf("note: no --debug-a/--debug-b: the nodes' CPU and RSS are not reported")
	}
	if isClusterURL(redisURL) {
		shards, err := clusterPIDs(ctx, rdb)
		if err != nil {
			logf("note: Redis CPU is not reported: %v", err)
		}
		return append(ps, shards...)
	}
	if pid, err := redisPID(ctx, rdb); err == nil {
		ps = append(ps, proc{Name: "redis", PID: pid})
	} else {
		logf("note: Redis CPU is not reported: %v", err)
	}
	return ps
}

func (t *batonTarget) name() string             { return "baton" }
func (t *batonTarget) procs() []proc            { return t.ps }
func (t *batonTarget) debug() map[string]string { return t.dbg }
func (t *batonTarget) close()                   {}

func (t *batonTarget) consoles(ctx context.Context, n int) ([]*console, error) {
	t.agents = make([]*agentSession, n)
	for i, api := range t.apiB {
		var mine []agentLogin
		for j := i; j < n; j += len(t.apiB) {
			mine = append(mine, t.creds.Agents[j])
		}
		sessions, err := loginAll(ctx, api, mine)
		if err != nil {
			return nil, err
		}
		for k, s := range sessions {
			t.agents[i+k*len(t.apiB)] = s
		}
	}
	var out []*console
	for i, s := range t.agents {
		c, err := openConsole(ctx, t.d, t.b[i%len(t.b)], s.Token)
		if err != nil {
			return out, err // the caller closes those opened
		}
		out = append(out, c)
	}
	return out, nil
}

// openConsole signs a console socket in and waits for its ready frame.
func openConsole(ctx context.Context, d *dialer, base, token string) (*console, error) {
	conn, err := d.dial(ctx, base, "/v1/agent/ws")
	if err != nil {
		return nil, err
	}
	if err := writeJSON(conn, map[string]string{"type": "auth", "token": token}); err != nil {
		return nil, err
	}
	if _, _, err := expectFrame(conn, 10*time.Second, "ready"); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("console: %w", err)
	}
	return &console{conn: conn}, nil
}

// open walks a visitor through the handoff (hello, ask for a person, accept,
// give an email) on its A node and has the agent claim the conversation on
// the agent's B node and answer once; the agent's console then follows it.
func (t *batonTarget) open(ctx context.Context, agent int, _ *console) (string, *websocket.Conn, error) {
	a := t.a[agent%len(t.a)]
	v, id, err := startHandoff(ctx, t.d, a, t.creds.WidgetKey)
	if err != nil {
		return "", nil, err
	}
	api := t.apiB[agent%len(t.apiB)]
	code, err := api.claim(ctx, t.agents[agent], id)
	if err != nil || code != 200 {
		_ = v.Close()
		return "", nil, fmt.Errorf("claim %s: HTTP %d %v", id, code, err)
	}
	if code, err := api.greet(ctx, t.agents[agent], id); err != nil || code != 201 {
		_ = v.Close()
		return "", nil, fmt.Errorf("first reply in %s: HTTP %d %v", id, code, err)
	}
	return id, v, nil
}

// startHandoff opens a visitor socket and takes its conversation to the
// queue. It returns the socket and the conversation id.
func startHandoff(ctx context.Context, d *dialer, base, key string) (*websocket.Conn, string, error) {
	v, err := d.dial(ctx, base, "/v1/widget/ws?key="+key)
	if err != nil {
		return nil, "", err
	}
	id, err := queueVisitor(v, nil)
	if err != nil {
		_ = v.Close()
		return nil, "", err
	}
	return v, id, nil
}

// queueVisitor says hello and asks for a person; emailSent (when not nil)
// is called just before the email that queues the conversation goes out.
func queueVisitor(v *websocket.Conn, emailSent func(convID string)) (string, error) {
	const wait = 10 * time.Second
	if err := writeJSON(v, map[string]string{"type": "hello"}); err != nil {
		return "", err
	}
	w, _, err := expectFrame(v, wait, "welcome")
	if err != nil {
		return "", err
	}
	steps := []struct {
		frame map[string]any
		want  string
	}{
		{map[string]any{"type": "handoff_request"}, "handoff_offer"},
		{map[string]any{"type": "handoff_reply", "accept": true}, "email_request"},
	}
	for _, s := range steps {
		if err := writeJSON(v, s.frame); err != nil {
			return "", err
		}
		if _, _, err := expectFrame(v, wait, s.want); err != nil {
			return "", err
		}
	}
	if emailSent != nil {
		emailSent(w.ConversationID)
	}
	if err := writeJSON(v, map[string]string{"type": "email", "email": "visitor-" + randHex(4) + "@loadgen.example"}); err != nil {
		return "", err
	}
	for {
		h, _, err := expectFrame(v, wait, "status")
		if err != nil {
			return "", err
		}
		if h.Status == "queued" {
			return w.ConversationID, nil
		}
	}
}
