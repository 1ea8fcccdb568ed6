package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/sessiontest"
)

// routed is a visitor who has handed off, with the frames they saw.
type routed struct {
	v  *client
	id string
}

// queueVisitor opens a visitor on e and hands them off.
func queueVisitor(e *env, key, email string) routed {
	e.t.Helper()
	v := e.visitor(key)
	id := hello(v)["conversation_id"].(string)
	v.Send(map[string]any{"type": "handoff_request"})
	v.Expect("handoff_offer")
	v.Send(map[string]any{"type": "handoff_reply", "accept": true})
	v.Expect("email_request")
	v.Send(map[string]any{"type": "email", "email": email})
	return routed{v: v, id: id}
}

// assignments reads who has which conversation now.
func (e *env) assignments(s shop) map[string]string {
	e.t.Helper()
	_, body := e.do("GET", "/v1/agent/conversations?status=assigned", s.adminToken, nil)
	out := map[string]string{}
	for _, c := range body["conversations"].([]any) {
		c := c.(map[string]any)
		out[c["id"].(string)] = c["agent_id"].(string)
	}
	return out
}

func agentIDOf(e *env, token string) string {
	e.t.Helper()
	_, me := e.do("GET", "/v1/agent/me", token, nil)
	return me["agent"].(map[string]any)["id"].(string)
}

// TestAutoAssignment: three agents with capacity 2 on two nodes; eight
// handoffs → six assigned, two each, and two queued with their
// positions; a close gives the oldest queued to that agent at once; a new
// agent pulls the next; manual mode assigns nothing by itself.
func TestAutoAssignment(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	a, b := newEnvOn(t, rdb, prefix), newEnvOn(t, rdb, prefix)
	s := a.shop("Auto Shop")
	code, body := a.do("PUT", "/v1/admin/routing", s.adminToken, map[string]any{"mode": "auto", "capacity": 2})
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, "auto", body["mode"])
	var tokens []string
	for i := range 3 {
		tok := a.addAgent(s, fmt.Sprintf("auto%d@auto.example", i), fmt.Sprintf("Auto %d", i))
		tokens = append(tokens, tok)
		[]*env{a, b}[i%2].console(tok) // consoles on both nodes
	}
	var vs []routed
	for i := range 8 {
		vs = append(vs, queueVisitor([]*env{a, b}[i%2], s.m.WidgetKey, fmt.Sprintf("v%d@auto.example", i)))
	}
	require.Eventually(t, func() bool { return len(a.assignments(s)) == 6 }, 3*time.Second, 20*time.Millisecond)
	perAgent := map[string]int{}
	for _, ag := range a.assignments(s) {
		perAgent[ag]++
	}
	require.Len(t, perAgent, 3)
	for ag, n := range perAgent {
		require.Equal(t, 2, n, "agent %s", ag)
	}
	// The first six got a person, the last two wait at 1 and 2.
	for i, r := range vs[:6] {
		r.v.Expect("agent_joined")
		_ = i
	}
	_, body = a.do("GET", "/v1/agent/conversations?status=queued", s.adminToken, nil)
	queued := body["conversations"].([]any)
	require.Len(t, queued, 2)
	require.Equal(t, vs[6].id, queued[0].(map[string]any)["id"])
	require.EqualValues(t, 1, queued[0].(map[string]any)["queue_position"])
	require.EqualValues(t, 2, queued[1].(map[string]any)["queue_position"])

	// A close frees a slot: the oldest queued goes to that agent.
	owner := a.assignments(s)[vs[0].id]
	var ownerToken string
	for _, tok := range tokens {
		if agentIDOf(a, tok) == owner {
			ownerToken = tok
		}
	}
	start := time.Now()
	code, _ = b.do("POST", "/v1/agent/conversations/"+vs[0].id+"/close", ownerToken, nil)
	require.Equal(t, 200, code)
	vs[6].v.Expect("agent_joined")
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, owner, a.assignments(s)[vs[6].id])

	// A new agent with capacity 1 pulls the next one.
	extra := b.addAgent(s, "extra@auto.example", "Extra")
	code, _ = a.do("PUT", "/v1/admin/agents/"+agentIDOf(a, extra), s.adminToken, map[string]any{"capacity": 1})
	require.Equal(t, 200, code)
	b.console(extra)
	vs[7].v.Expect("agent_joined")
	require.Equal(t, agentIDOf(a, extra), a.assignments(s)[vs[7].id])
	_, me := a.do("GET", "/v1/agent/me", extra, nil)
	require.EqualValues(t, 1, me["load"])
	require.EqualValues(t, 1, me["capacity"])

	// Manual mode: nothing moves by itself.
	code, _ = a.do("PUT", "/v1/admin/routing", s.adminToken, map[string]any{"mode": "manual"})
	require.Equal(t, 200, code)
	more := queueVisitor(a, s.m.WidgetKey, "manual@auto.example")
	code, _ = b.do("POST", "/v1/agent/conversations/"+vs[1].id+"/close", tokens[0], nil)
	require.Contains(t, []int{200, 409}, code)
	more.v.Quiet(time.Second, func(f map[string]any) bool { return f["type"] == "agent_joined" })
	_, body = a.do("GET", "/v1/agent/conversations?status=queued", s.adminToken, nil)
	require.Len(t, body["conversations"].([]any), 1, "the manual-mode handoff waits")
}

// TestAutoAssignmentUnderRace: 50 handoffs at once on two nodes, with
// agents coming and going: no conversation is given twice, nobody goes over
// capacity.
func TestAutoAssignmentUnderRace(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	a, b := newEnvOn(t, rdb, prefix), newEnvOn(t, rdb, prefix)
	s := a.shop("Race Shop")
	code, _ := a.do("PUT", "/v1/admin/routing", s.adminToken, map[string]any{"mode": "auto", "capacity": 3})
	require.Equal(t, 200, code)
	for i := range 10 {
		tok := a.addAgent(s, fmt.Sprintf("race%d@race.example", i), fmt.Sprintf("Race %d", i))
		[]*env{a, b}[i%2].console(tok)
	}
	var wg sync.WaitGroup
	ids := make([]string, 50)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = queueVisitor([]*env{a, b}[i%2], s.m.WidgetKey, fmt.Sprintf("r%d@race.example", i)).id
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return len(a.assignments(s)) == 30 }, 5*time.Second, 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // let any second assignment show itself
	got := a.assignments(s)
	require.Len(t, got, 30, "10 agents × capacity 3")
	perAgent := map[string]int{}
	for _, ag := range got {
		perAgent[ag]++
	}
	for ag, n := range perAgent {
		require.LessOrEqual(t, n, 3, "agent %s over capacity", ag)
	}
	// Every conversation's transcript says "joined" once at most.
	ctx := context.Background()
	for _, id := range ids {
		_, entries, err := a.app.svc.Conversation(ctx, s.m.ID, id)
		require.NoError(t, err)
		joined := 0
		for _, e := range entries {
			m, err := e.Decode()
			require.NoError(t, err)
			if m.Role == session.RoleSystem && strings.HasSuffix(m.Text, "joined the conversation.") {
				joined++
			}
		}
		require.LessOrEqual(t, joined, 1, "conversation %s given twice", id)
	}
}

// TestReassignment: an agent whose consoles are all gone for
// reassign_after_s loses their conversations to someone else; an agent who
// does not answer within reassign_after_s does too, and the visitor is
// told both times.
func TestReassignment(t *testing.T) {
	e := newEnv(t)
	s := e.shop("Reassign Shop")
	code, body := e.do("PUT", "/v1/admin/routing", s.adminToken, map[string]any{"mode": "auto", "capacity": 1, "reassign_after_s": 10})
	require.Equal(t, 200, code, "%v", body)
	first := e.addAgent(s, "first@reassign.example", "First")
	second := e.addAgent(s, "second@reassign.example", "Second")
	c1 := e.console(first)
	r := queueVisitor(e, s.m.WidgetKey, "wait@reassign.example")
	joined := r.v.Expect("agent_joined")
	require.Equal(t, "First", joined["agent"].(map[string]any)["name"])

	// First's console goes; Second comes. After reassign_after_s (the
	// routing pass runs every 5 s), the conversation moves.
	require.NoError(t, c1.Conn.Close())
	e.console(second)
	start := time.Now()
	left := r.v.NextWithin(25*time.Second, "agent_left", func(f map[string]any) bool { return f["type"] == "agent_left" })
	require.Equal(t, "First", left["agent"].(map[string]any)["name"])
	joined = r.v.Expect("agent_joined")
	require.Equal(t, "Second", joined["agent"].(map[string]any)["name"])
	took := time.Since(start)
	require.GreaterOrEqual(t, took, 8*time.Second, "not before reassign_after_s")
	require.Less(t, took, 20*time.Second)

	// Second never writes: after reassign_after_s it goes back (First is
	// gone, nobody else: back to the queue).
	st := r.v.NextWithin(25*time.Second, "queued again", func(f map[string]any) bool { return f["type"] == "status" && f["status"] == "queued" })
	require.Contains(t, st, "wait_estimate_s")
	left = r.v.Expect("agent_left")
	require.Equal(t, "Second", left["agent"].(map[string]any)["name"])
	ids := []string{}
	for id := range e.assignments(s) {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	require.Empty(t, ids)
}
