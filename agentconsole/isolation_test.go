package agentconsole_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// TestMerchantIsolation: merchant B's agents and admins, over REST and the
// console socket, never reach or see merchant A's conversations, queue,
// settings, hours, knowledge, metrics or team.
func TestMerchantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.shop("Isolation A")
	b := e.shop("Isolation B")
	aliceTok := e.addAgent(a, "alice@a.example", "Alice-of-A")
	bobTok := e.addAgent(b, "bob@b.example", "Bob-of-B")

	// B's consoles watch from before anything happens at A.
	bobConsole := e.console(bobTok)
	bAdminConsole := e.console(b.adminToken)
	aliceConsole := e.console(aliceTok)

	// A's things, each marked with a string that must never reach B.
	secrets := []string{"A-AWAY-SECRET", "A-AUTO-SECRET", "A-KNOWLEDGE-SECRET", "A-VISITOR-SECRET",
		"A-AGENT-SECRET", "a-visitor@example.com", "Alice-of-A", a.m.ID, a.m.WidgetKey, "Asia/Tokyo"}
	code, body := e.do("PUT", "/v1/admin/settings", a.adminToken, map[string]any{
		"away_message": "A-AWAY-SECRET", "auto_response": "A-AUTO-SECRET"})
	require.Equal(t, 200, code, "%v", body)
	code, body = e.do("PUT", "/v1/admin/knowledge", a.adminToken, map[string]any{"entries": []map[string]string{
		{"question": "What is the secret?", "answer": "A-KNOWLEDGE-SECRET"}}})
	require.Equal(t, 200, code, "%v", body)
	code, body = e.do("PUT", "/v1/admin/office-hours", a.adminToken, map[string]any{"timezone": "Asia/Tokyo",
		"weekly": alwaysOpenWeek()})
	require.Equal(t, 200, code, "%v", body)

	convs := map[string]string{} // name -> id
	for _, name := range []string{"assigned", "queued", "closed", "assistant"} {
		v := e.visitor(a)
		id := v.id
		convs[name] = id
		v.say("s-"+name, "A-VISITOR-SECRET "+name)
		seen := v.watch()
		switch name {
		case "assigned", "queued":
			v.handoff("a-visitor@example.com")
		case "closed":
			require.NoError(t, v.close())
			require.Equal(t, session.StatusClosed, v.status())
		}
		if name == "assigned" {
			code, body := e.do("POST", "/v1/agent/conversations/"+id+"/claim", aliceTok, nil)
			require.Equal(t, 200, code, "%v", body)
			seen.expectAgentJoined()
			code, body = e.do("POST", "/v1/agent/conversations/"+id+"/messages", aliceTok,
				map[string]string{"client_id": "a1", "text": "A-AGENT-SECRET"})
			require.Equal(t, 201, code, "%v", body)
			seen.ExpectMessage("agent")
		}
	}
	before := map[string]int{}
	for name, id := range convs {
		before[name] = len(e.transcript(a.adminToken, id))
	}

	noSecrets := func(t *testing.T, where string, raw string) {
		t.Helper()
		for _, s := range secrets {
			require.NotContains(t, raw, s, "%s shows A's %q", where, s)
		}
		for _, id := range convs {
			require.NotContains(t, raw, id, "%s shows A's conversation id", where)
		}
	}

	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/agent/conversations/%s", nil},
		{"POST", "/v1/agent/conversations/%s/claim", nil},
		{"POST", "/v1/agent/conversations/%s/messages", map[string]string{"client_id": "intrusion", "text": "B-INTRUSION"}},
		{"POST", "/v1/agent/conversations/%s/release", nil},
		{"POST", "/v1/agent/conversations/%s/close", nil},
	}
	for _, who := range []struct{ name, token string }{{"B admin", b.adminToken}, {"B agent", bobTok}} {
		for convName, id := range convs {
			for _, r := range routes {
				name := fmt.Sprintf("%s %s %s", who.name, r.method, strings.ReplaceAll(fmt.Sprintf(r.path, convName), "/", "_"))
				t.Run(name, func(t *testing.T) {
					e := e.withT(t)
					code, raw := e.doRaw(r.method, fmt.Sprintf(r.path, id), who.token, r.body, nil)
					require.Contains(t, []int{403, 404}, code, "%s: %s", name, raw)
					requireAPIError(t, raw)
					noSecrets(t, name, string(raw))
				})
			}
		}
	}

	// A's conversations are as they were.
	for name, id := range convs {
		msgs := e.transcript(a.adminToken, id)
		require.Len(t, msgs, before[name], "B changed A's %s conversation: %v", name, msgs)
		require.NotContains(t, mustJSON(t, msgs), "B-INTRUSION")
	}
	_, body = e.do("GET", "/v1/agent/conversations/"+convs["assigned"], a.adminToken, nil)
	conv := body["conversation"].(map[string]any)
	require.Equal(t, "assigned", conv["status"])
	require.Equal(t, "Alice-of-A", conv["agent"].(map[string]any)["name"])
	_, body = e.do("GET", "/v1/agent/conversations/"+convs["queued"], a.adminToken, nil)
	require.Equal(t, "queued", body["conversation"].(map[string]any)["status"])

	t.Run("listings", func(t *testing.T) {
		e := e.withT(t)
		for _, tok := range []string{b.adminToken, bobTok} {
			for _, st := range []string{"", "assistant", "handoff_offered", "awaiting_email", "queued", "assigned", "closed", "ticketed"} {
				path := "/v1/agent/conversations"
				if st != "" {
					path += "?status=" + st
				}
				code, raw := e.doRaw("GET", path, tok, nil, nil)
				require.Equal(t, 200, code, "%s: %s", path, raw)
				noSecrets(t, "GET "+path, string(raw))
			}
		}
		// A's own listing does show them: the check above is not vacuous.
		code, raw := e.doRaw("GET", "/v1/agent/conversations", a.adminToken, nil, nil)
		require.Equal(t, 200, code)
		for _, id := range convs {
			require.Contains(t, string(raw), id)
		}
	})

	t.Run("admin routes", func(t *testing.T) {
		e := e.withT(t)
		for _, path := range []string{"/v1/admin/settings", "/v1/admin/office-hours", "/v1/admin/knowledge",
			"/v1/admin/metrics", "/v1/admin/agents", "/v1/admin/merchant", "/v1/admin/assistant",
			"/v1/admin/knowledge/gaps", "/v1/admin/handoffs", "/v1/admin/integrations"} {
			code, raw := e.doRaw("GET", path, b.adminToken, nil, nil)
			require.Equal(t, 200, code, "%s: %s", path, raw)
			noSecrets(t, "B's GET "+path, string(raw))
		}
		_, m := e.do("GET", "/v1/admin/metrics", b.adminToken, nil)
		require.EqualValues(t, 0, num(m["conversations"]), "B's metrics count A's conversations: %v", m)
		_, m = e.do("GET", "/v1/admin/metrics", a.adminToken, nil)
		require.EqualValues(t, 4, num(m["conversations"]), "A's metrics: %v", m)
		// B's writes land on B only.
		code, body := e.do("PUT", "/v1/admin/settings", b.adminToken, map[string]any{"away_message": "B-AWAY"})
		require.Equal(t, 200, code, "%v", body)
		_, body = e.do("GET", "/v1/admin/settings", a.adminToken, nil)
		require.Equal(t, "A-AWAY-SECRET", body["away_message"])
	})

	t.Run("A's team", func(t *testing.T) {
		e := e.withT(t)
		_, body := e.do("GET", "/v1/admin/agents", a.adminToken, nil)
		var aliceID string
		for _, ag := range body["agents"].([]any) {
			if ag.(map[string]any)["name"] == "Alice-of-A" {
				aliceID = ag.(map[string]any)["id"].(string)
			}
		}
		require.NotEmpty(t, aliceID)
		for _, r := range []struct {
			method string
			body   any
		}{{"PUT", map[string]any{"disabled": true}}, {"PUT", map[string]any{"role": "admin"}}, {"DELETE", nil}} {
			code, raw := e.doRaw(r.method, "/v1/admin/agents/"+aliceID, b.adminToken, r.body, nil)
			require.Equal(t, 404, code, "B's admin %s A's agent: %s", r.method, raw)
			noSecrets(t, "B's "+r.method+" of A's agent", string(raw))
			code, raw = e.doRaw(r.method, "/v1/admin/agents/"+aliceID, bobTok, r.body, nil)
			require.Equal(t, 403, code, "B's agent %s: %s", r.method, raw)
		}
		code, _ := e.do("GET", "/v1/agent/me", aliceTok, nil)
		require.Equal(t, 200, code, "A's agent is untouched")
		// B's rotation and settings writes are B's.
		code, body = e.do("POST", "/v1/admin/identity-secret/rotate", b.adminToken, map[string]any{"grace_s": 0})
		require.Equal(t, 200, code, "%v", body)
		_, body = e.do("GET", "/v1/admin/merchant", a.adminToken, nil)
		require.Equal(t, a.m.IdentitySecret, body["identity_secret"])
		code, _ = e.do("PUT", "/v1/admin/assistant", bobTok, map[string]any{"mode": "builtin"})
		require.Equal(t, 403, code)
	})

	// Console frames, in the parent test: the consoles belong to it.
	{
		// B's consoles try to act on A's conversations.
		for _, c := range []*client{bobConsole, bAdminConsole} {
			c.Send(map[string]any{"type": "message", "conversation_id": convs["assigned"], "client_id": "x1", "text": "B-INTRUSION"})
			c.Expect("error")
			c.Send(map[string]any{"type": "typing", "conversation_id": convs["assigned"], "active": true})
			c.Expect("error")
		}
		// One more handoff at A while B's consoles listen, to be sure
		// live traffic has had its chance to leak.
		v := e.visitor(a)
		id := v.id
		convs["late"] = id
		v.say("late", "A-VISITOR-SECRET late")
		seen := v.watch()
		v.handoff("a-visitor@example.com")
		aliceConsole.Next("A's queue with the late one", func(f map[string]any) bool {
			return f["type"] == "queue" && strings.Contains(mustJSON(t, f), id)
		})
		v.typing(true)
		bobConsole.Quiet(500*time.Millisecond, func(map[string]any) bool { return false })
		for _, c := range []*client{bobConsole, bAdminConsole} {
			for _, f := range c.Snapshot() {
				raw := mustJSON(t, f)
				if f["type"] == "error" {
					// The refusals of B's own attempts name the id B sent.
					for _, s := range secrets {
						require.NotContains(t, raw, s, "B's console error frame shows A's %q", s)
					}
					continue
				}
				noSecrets(t, "B's console "+fmt.Sprint(f["type"])+" frame", raw)
			}
		}
		require.NotContains(t, aliceConsole.FramesJSON(), "B-INTRUSION")
		require.NotContains(t, seen.seen(), "B-INTRUSION")
		msgs := e.transcript(a.adminToken, convs["assigned"])
		require.Len(t, msgs, before["assigned"])
	}
}

// TestAdminRoutesNeedAdmin: an agent who is not an admin gets 403 on every
// admin route, and their writes change nothing.
func TestAdminRoutesNeedAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Roles Shop")
	agent := e.addAgent(s, "plain@roles.example", "Plain")
	cases := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/admin/settings", nil},
		{"PUT", "/v1/admin/settings", map[string]any{"away_message": "hijacked", "allowed_origins": []string{"https://evil.example"}}},
		{"GET", "/v1/admin/office-hours", nil},
		{"PUT", "/v1/admin/office-hours", map[string]any{"timezone": "UTC", "weekly": map[string]any{}}},
		{"GET", "/v1/admin/knowledge", nil},
		{"PUT", "/v1/admin/knowledge", map[string]any{"entries": []map[string]string{{"question": "q?", "answer": "hijacked"}}}},
		{"GET", "/v1/admin/metrics", nil},
		{"GET", "/v1/admin/metrics?from=2026-01-01&to=2026-01-31", nil},
		{"GET", "/v1/admin/agents", nil},
		{"POST", "/v1/admin/agents", map[string]any{"email": "new@roles.example", "name": "New", "password": "new-password", "role": "admin"}},
		{"GET", "/v1/admin/merchant", nil},
	}
	for _, tc := range cases {
		code, raw := e.doRaw(tc.method, tc.path, agent, tc.body, nil)
		require.Equal(t, 403, code, "%s %s: %s", tc.method, tc.path, raw)
		requireAPIError(t, raw)
		require.NotContains(t, string(raw), s.m.IdentitySecret)
	}
	_, body := e.do("GET", "/v1/admin/settings", s.adminToken, nil)
	require.NotEqual(t, "hijacked", body["away_message"])
	require.Empty(t, body["allowed_origins"])
	_, body = e.do("GET", "/v1/admin/knowledge", s.adminToken, nil)
	require.Empty(t, body["entries"])
	_, body = e.do("GET", "/v1/admin/office-hours", s.adminToken, nil)
	require.Len(t, body["weekly"], 7, "office hours changed: %v", body)
	code, _ := e.doRaw("POST", "/v1/auth/login", "", map[string]string{"email": "new@roles.example", "password": "new-password"}, nil)
	require.Equal(t, 401, code, "a plain agent created an admin")
}

func alwaysOpenWeek() map[string]any {
	w := map[string]any{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		w[d] = []map[string]string{{"open": "00:00", "close": "24:00"}}
	}
	return w
}
