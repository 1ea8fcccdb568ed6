package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
)

// batonTarget is two `baton serve` nodes on one Redis: visitors on A,
// agents on B. Everything goes through the public protocol.
type batonTarget struct {
	a, b   string
	dbg    map[string]string
	d      *dialer
	apiB   *api
	creds  *credentials
	agents []*agentSession
	ps     []proc
}

func newBatonTarget(ctx context.Context, o *relayOpts, d *dialer, rdb *redis.Client, logf func(string, ...any)) (*batonTarget, error) {
	t := &batonTarget{a: o.a, b: o.b, d: d, apiB: newAPI(o.b), dbg: map[string]string{}}
	if o.debugA != "" {
		t.dbg["baton-a"] = o.debugA
	}
	if o.debugB != "" {
		t.dbg["baton-b"] = o.debugB
	}
	t.ps = nodeProcs(ctx, t.dbg, rdb, logf)
	creds, err := o.baton.prepare(ctx, o.agents)
	if err != nil {
		return nil, err
	}
	t.creds = creds
	return t, nil
}

// nodeProcs finds the PIDs of the nodes (from their debug endpoints) and of
// Redis. What cannot be found is left out of the CPU figures, with a note.
func nodeProcs(ctx context.Context, dbg map[string]string, rdb *redis.Client, logf func(string, ...any)) []proc {
	var ps []proc
	for _, name := range []string{"baton-a", "baton-b", "baseline-a", "baseline-b"} {
		u, ok := dbg[name]
		if !ok {
			continue
		}
		f, err := readDebug(ctx, u, false)
		if err != nil {
			logf("note: %s debug endpoint %s: %v (its CPU is not reported)", name, u, err)
			continue
		}
		ps = append(ps, proc{Name: name, PID: f.PID})
	}
	if len(dbg) == 0 {
		logf("note: no --debug-a/--debug-b: the nodes' CPU and RSS are not reported")
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
	sessions, err := loginAll(ctx, t.apiB, t.creds.Agents[:n])
	if err != nil {
		return nil, err
	}
	t.agents = sessions
	var out []*console
	for _, s := range sessions {
		c, err := openConsole(ctx, t.d, t.b, s.Token)
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
// give an email) and has the agent claim the conversation on node B and
// answer once; the agent's console then follows it.
func (t *batonTarget) open(ctx context.Context, agent int, _ *console) (string, *websocket.Conn, error) {
	v, id, err := startHandoff(ctx, t.d, t.a, t.creds.WidgetKey)
	if err != nil {
		return "", nil, err
	}
	code, err := t.apiB.claim(ctx, t.agents[agent], id)
	if err != nil || code != 200 {
		_ = v.Close()
		return "", nil, fmt.Errorf("claim %s: HTTP %d %v", id, code, err)
	}
	if code, err := t.apiB.greet(ctx, t.agents[agent], id); err != nil || code != 201 {
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
