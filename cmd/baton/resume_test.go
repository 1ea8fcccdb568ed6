package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The visitor socket's own resume checks (refusals, replay, closed
// conversations) are in gateway; this one needs the console and REST too.

// replayed collects the message frames that follow a welcome until none
// arrives for a short while.
func replayed(v *client) []map[string]any {
	v.T.Helper()
	var out []map[string]any
	for {
		select {
		case f := <-v.Frames():
			if f["type"] == "message" {
				out = append(out, f)
			}
		case <-time.After(300 * time.Millisecond):
			return out
		}
	}
}

// TestResumeTokenStaysSecret: the resume token appears in the welcome
// frames and nowhere else: not in other visitor frames, not on any agent
// console, not in any REST answer.
func TestResumeTokenStaysSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Secret Shop")
	agent := e.addAgent(s, "agent@secret.example", "Sam")
	console := e.console(agent)
	adminConsole := e.console(s.adminToken)

	v := e.visitor(s.m.WidgetKey)
	w := hello(v)
	convID, token := w["conversation_id"].(string), w["resume_token"].(string)
	say(v, "s1", "hello")
	handoff(v, "visitor@example.com")
	code, _ := e.do("POST", "/v1/agent/conversations/"+convID+"/claim", agent, nil)
	require.Equal(t, 200, code)
	v.Expect("agent_joined")
	console.Send(map[string]any{"type": "message", "conversation_id": convID, "client_id": "a1", "text": "Hi"})
	v.ExpectMessage("agent")
	require.NoError(t, v.Conn.Close())

	// Resume twice: the welcomes carry it, the replays must not.
	v2 := e.visitor(s.m.WidgetKey)
	v2.Send(map[string]any{"type": "hello", "conversation_id": convID, "resume_token": token, "last_seq": 0})
	v2.Expect("welcome")
	v2.Expect("agent_joined")
	replayed(v2)

	for _, c := range []*client{v, v2} {
		for _, f := range c.Snapshot() {
			if f["type"] == "welcome" {
				continue
			}
			require.NotContains(t, mustJSON(t, f), token, "the resume token is in a %v frame", f["type"])
		}
	}
	require.NotContains(t, console.FramesJSON(), token, "the resume token reached an agent console")
	require.NotContains(t, adminConsole.FramesJSON(), token, "the resume token reached an admin console")

	for _, path := range []string{
		"/v1/agent/conversations/" + convID,
		"/v1/agent/conversations",
		"/v1/agent/conversations?status=assigned",
	} {
		for _, tok := range []string{agent, s.adminToken} {
			code, raw := e.doRaw("GET", path, tok, nil, nil)
			require.Equal(t, 200, code, "%s: %s", path, raw)
			require.NotContains(t, string(raw), token, "the resume token is in GET %s", path)
		}
	}
	code, raw := e.doRaw("POST", "/v1/agent/conversations/"+convID+"/close", agent, nil, nil)
	require.Equal(t, 200, code)
	require.NotContains(t, string(raw), token)
}
