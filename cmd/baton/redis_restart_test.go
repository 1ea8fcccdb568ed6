package main

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session/sessiontest"
)

// TestRedisRestart: Redis goes away mid-conversation and comes back (with
// its append-only file). Meanwhile sockets stay open, frames that cannot be
// stored are refused with `unavailable`, /healthz says 503; afterwards
// everything works again by itself, including live delivery to the agent.
func TestRedisRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restart test skipped in -short")
	}
	srv := sessiontest.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: 300 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	e := newEnvOn(t, rdb, sessiontest.Prefix())
	s := e.shop("Restart Shop")
	agentToken := e.addAgent(s, "restart@example.com", "Rita")
	console := e.console(agentToken)
	v := e.visitor(s.m.WidgetKey)
	convID := queueToHandoff(t, v, "restart@example.com")
	code, _ := e.do("POST", "/v1/agent/conversations/"+convID+"/claim", agentToken, nil)
	require.Equal(t, 200, code)
	v.Expect("agent_joined")
	v.Send(map[string]any{"type": "message", "client_id": "before", "text": "before the outage"})
	require.Equal(t, "before the outage", console.ExpectMessage("visitor")["message"].(map[string]any)["text"])

	srv.Stop()
	code, body := e.do("GET", "/healthz", "", nil)
	require.Equal(t, 503, code, "%v", body)
	v.Send(map[string]any{"type": "message", "client_id": "during", "text": "during the outage"})
	f := v.ExpectError("unavailable")
	require.Equal(t, "during", f["client_id"])
	console.Send(map[string]any{"type": "message", "conversation_id": convID, "client_id": "a-during", "text": "agent during"})
	require.Equal(t, "unavailable", console.Expect("error")["code"])

	srv.Restart()
	require.Eventually(t, func() bool {
		c, _ := e.do("GET", "/healthz", "", nil)
		return c == 200
	}, 10*time.Second, 50*time.Millisecond)

	// The same sockets carry on. The widget resends what was refused.
	v.Send(map[string]any{"type": "message", "client_id": "during", "text": "during the outage"})
	echo := v.ExpectMessage("visitor")
	require.Equal(t, "during", echo["client_id"])
	// The agent's console hears it live: its node resubscribed and caught up.
	got := console.ExpectMessage("visitor")["message"].(map[string]any)
	require.Equal(t, "during the outage", got["text"])
	console.Send(map[string]any{"type": "message", "conversation_id": convID, "client_id": "a-after", "text": "agent after"})
	require.Equal(t, "agent after", v.ExpectMessage("agent")["text"])

	_, entries, err := e.app.svc.Conversation(context.Background(), s.m.ID, convID)
	require.NoError(t, err)
	seen := map[string]int{}
	for i, en := range entries {
		m, err := en.Decode()
		require.NoError(t, err)
		require.EqualValues(t, i+1, m.Seq)
		seen[m.ClientID]++
	}
	require.Equal(t, 1, seen["before"], "kept across the restart")
	require.Equal(t, 1, seen["during"])
	require.Equal(t, 1, seen["a-after"])
	require.Zero(t, seen["a-during"], "a refused message is not stored")
}
