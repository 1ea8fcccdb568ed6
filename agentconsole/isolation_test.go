package agentconsole_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/agentconsole"
	"github.com/batonchat/baton/gateway/socket"
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

// hookSender accepts every URL and answers every delivery with 204, so the
// webhook routes have endpoints and deliveries to be isolated.
type hookSender struct{}

func (hookSender) CheckURL(context.Context, string) error { return nil }
func (hookSender) SendWebhook(context.Context, session.WebhookRequest) (session.WebhookResult, error) {
	return session.WebhookResult{Status: 204}, nil
}

// routeCase is one registered route and who may use it.
type routeCase struct {
	method, path string
	// access: "public" (no token), "socket" (the token comes in the
	// first frame), "agent" (any signed-in agent), "admin".
	access string
	// id, for a path with :id: which of A's objects it names.
	id   string
	body any
}

// everyRoute is every route the console registers; TestEveryRouteIsolated
// fails when a registered route is missing here, so a new route is
// checked for role and merchant isolation from the start.
var everyRoute = []routeCase{
	{"POST", "/v1/auth/login", "public", "", map[string]string{"email": "x@example.com", "password": "wrong-password"}},
	{"POST", "/v1/auth/logout", "agent", "", nil},
	{"GET", "/v1/agent/ws", "socket", "", nil},
	{"GET", "/v1/agent/me", "agent", "", nil},
	{"GET", "/v1/agent/conversations", "agent", "", nil},
	{"GET", "/v1/agent/conversations/:id", "agent", "conversation", nil},
	{"POST", "/v1/agent/conversations/:id/claim", "agent", "conversation", nil},
	{"POST", "/v1/agent/conversations/:id/messages", "agent", "conversation", map[string]string{"client_id": "intrusion", "text": "B-INTRUSION"}},
	{"POST", "/v1/agent/conversations/:id/release", "agent", "conversation", nil},
	{"POST", "/v1/agent/conversations/:id/close", "agent", "conversation", nil},
	{"GET", "/v1/agent/presence", "agent", "", nil},
	{"PUT", "/v1/agent/presence", "agent", "", map[string]string{"status": "away"}},
	{"PUT", "/v1/agent/password", "agent", "", map[string]string{"current_password": "wrong-password", "new_password": "B-INTRUSION-pw"}},
	{"GET", "/v1/admin/settings", "admin", "", nil},
	{"PUT", "/v1/admin/settings", "admin", "", map[string]any{"away_message": "B-INTRUSION"}},
	{"GET", "/v1/admin/office-hours", "admin", "", nil},
	{"PUT", "/v1/admin/office-hours", "admin", "", map[string]any{"timezone": "UTC", "weekly": map[string]any{}}},
	{"GET", "/v1/admin/merchant", "admin", "", nil},
	{"POST", "/v1/admin/identity-secret/rotate", "admin", "", map[string]any{"grace_s": 0}},
	{"GET", "/v1/admin/knowledge", "admin", "", nil},
	{"PUT", "/v1/admin/knowledge", "admin", "", map[string]any{"entries": []map[string]string{{"question": "q?", "answer": "B-INTRUSION"}}}},
	{"GET", "/v1/admin/knowledge/gaps", "admin", "", nil},
	{"GET", "/v1/admin/metrics", "admin", "", nil},
	{"GET", "/v1/admin/agents", "admin", "", nil},
	{"POST", "/v1/admin/agents", "admin", "", map[string]any{"email": "b-intrusion@example.com", "name": "B-INTRUSION", "password": "intrusion-password", "role": "admin"}},
	{"PUT", "/v1/admin/agents/:id", "admin", "agent", map[string]any{"disabled": true}},
	{"DELETE", "/v1/admin/agents/:id", "admin", "agent", nil},
	{"GET", "/v1/admin/integrations", "admin", "", nil},
	{"GET", "/v1/admin/integrations/zendesk", "admin", "", nil},
	{"PUT", "/v1/admin/integrations/zendesk", "admin", "", map[string]any{"subdomain": "b-intrusion", "email": "b@example.com", "api_token": "B-INTRUSION"}},
	{"DELETE", "/v1/admin/integrations/zendesk", "admin", "", nil},
	{"GET", "/v1/admin/integrations/gorgias", "admin", "", nil},
	{"PUT", "/v1/admin/integrations/gorgias", "admin", "", map[string]any{"domain": "b-intrusion", "email": "b@example.com", "api_key": "B-INTRUSION"}},
	{"DELETE", "/v1/admin/integrations/gorgias", "admin", "", nil},
	{"GET", "/v1/admin/integrations/zendesk/oauth/start", "admin", "", nil},
	{"GET", "/v1/admin/integrations/zendesk/oauth/callback", "public", "", nil},
	{"GET", "/v1/admin/handoffs", "admin", "", nil},
	{"GET", "/v1/admin/handoffs/:id", "admin", "conversation", nil},
	{"POST", "/v1/admin/handoffs/:id/retry", "admin", "conversation", nil},
	{"GET", "/v1/admin/assistant", "admin", "", nil},
	{"PUT", "/v1/admin/assistant", "admin", "", map[string]any{"mode": "builtin"}},
	{"GET", "/v1/admin/routing", "admin", "", nil},
	{"PUT", "/v1/admin/routing", "admin", "", map[string]any{"mode": "manual"}},
	{"GET", "/v1/admin/emails", "admin", "", nil},
	{"POST", "/v1/admin/emails/:id/retry", "admin", "conversation", nil},
	{"GET", "/v1/admin/conversations/export", "admin", "", nil},
	{"GET", "/v1/admin/conversations/:id/export", "admin", "conversation", nil},
	{"GET", "/v1/admin/webhooks", "admin", "", nil},
	{"PUT", "/v1/admin/webhooks", "admin", "", map[string]any{"endpoints": []any{}}},
	{"POST", "/v1/admin/webhooks/:id/rotate", "admin", "webhook", nil},
	{"POST", "/v1/admin/webhooks/:id/test", "admin", "webhook", nil},
	{"GET", "/v1/admin/webhooks/deliveries", "admin", "", nil},
	{"POST", "/v1/admin/webhooks/deliveries/:id/retry", "admin", "delivery", nil},
	{"GET", "/console", "public", "", nil},
	{"GET", "/console/*path", "public", "", nil},
}

// TestEveryRouteIsolated walks every registered route: without a token
// each non-public one is 401; a plain agent of A gets 403 on every admin
// route; B's agent and B's admin, on every route that names one of A's
// objects, get 403 or 404 and never see A's things; B's admin reading
// B's own collections sees none of A's; and A's objects are unchanged.
func TestEveryRouteIsolated(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(o *session.Options) { o.Webhooks.Sender = hookSender{} })

	// The table is the registered routes, no more and no fewer.
	engine := gin.New()
	agentconsole.New(e.svc, e.svc.Hub(), agentconsole.NewTokens([]byte(testSecret), nil),
		socket.NewRegistry(socket.Options{}), slog.New(slog.DiscardHandler)).Register(engine)
	registered := map[string]bool{}
	for _, r := range engine.Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	listed := map[string]bool{}
	for _, r := range everyRoute {
		listed[r.method+" "+r.path] = true
	}
	for r := range registered {
		require.True(t, listed[r], "route %s is registered but not in everyRoute: add it, with who may use it", r)
	}
	for r := range listed {
		require.True(t, registered[r], "everyRoute lists %s, which is not registered", r)
	}

	a := e.shop("Matrix A")
	b := e.shop("Matrix B")
	aPlain := e.addAgent(a, "plain@matrix-a.example", "Plain-of-A")
	aliceTok := e.addAgent(a, "alice@matrix-a.example", "Alice-of-A")
	bobTok := e.addAgent(b, "bob@matrix-b.example", "Bob-of-B")

	// A's objects, each marked with strings that must never reach B.
	code, body := e.do("PUT", "/v1/admin/settings", a.adminToken, map[string]any{"away_message": "A-AWAY-SECRET"})
	require.Equal(t, 200, code, "%v", body)
	code, body = e.do("PUT", "/v1/admin/knowledge", a.adminToken, map[string]any{"entries": []map[string]string{
		{"question": "What is the secret?", "answer": "A-KNOWLEDGE-SECRET"}}})
	require.Equal(t, 200, code, "%v", body)
	code, body = e.do("PUT", "/v1/admin/webhooks", a.adminToken, map[string]any{"endpoints": []any{
		map[string]any{"url": "https://a-hooks.example/baton", "events": []string{"conversation.handoff", "conversation.closed"}}}})
	require.Equal(t, 200, code, "%v", body)
	endpoints := body["endpoints"].([]any)
	require.Len(t, endpoints, 1)
	ep := endpoints[0].(map[string]any)
	webhookID, webhookSecret := ep["id"].(string), ep["secret"].(string)
	require.NotEmpty(t, webhookSecret)
	code, body = e.do("POST", "/v1/admin/webhooks/"+webhookID+"/test", a.adminToken, nil)
	require.Equal(t, 200, code, "%v", body)

	v := e.visitor(a)
	convID := v.id
	v.say("s1", "A-VISITOR-SECRET")
	seen := v.watch()
	v.handoff("a-visitor@example.com")
	code, body = e.do("POST", "/v1/agent/conversations/"+convID+"/claim", aliceTok, nil)
	require.Equal(t, 200, code, "%v", body)
	seen.expectAgentJoined()

	// A delivery of A's, once the handoff's event is on its way.
	var deliveryID string
	require.Eventually(t, func() bool {
		_, body := e.do("GET", "/v1/admin/webhooks/deliveries", a.adminToken, nil)
		ds, _ := body["deliveries"].([]any)
		if len(ds) == 0 {
			return false
		}
		deliveryID, _ = ds[0].(map[string]any)["id"].(string)
		return deliveryID != ""
	}, 10*time.Second, 50*time.Millisecond, "A's webhook has no delivery")

	_, body = e.do("GET", "/v1/admin/agents", a.adminToken, nil)
	var aliceID string
	for _, ag := range body["agents"].([]any) {
		if ag.(map[string]any)["name"] == "Alice-of-A" {
			aliceID = ag.(map[string]any)["id"].(string)
		}
	}
	require.NotEmpty(t, aliceID)
	ids := map[string]string{"conversation": convID, "agent": aliceID, "webhook": webhookID, "delivery": deliveryID}
	secrets := []string{"A-AWAY-SECRET", "A-KNOWLEDGE-SECRET", "A-VISITOR-SECRET", "a-visitor@example.com",
		"Alice-of-A", "Plain-of-A", "a-hooks.example", webhookSecret, a.m.ID, a.m.WidgetKey, a.m.IdentitySecret,
		convID, aliceID, webhookID, deliveryID}
	// named is the id B itself sent, which a not_found may repeat.
	noSecrets := func(t *testing.T, where string, raw []byte, named ...string) {
		t.Helper()
		for _, s := range secrets {
			if len(named) > 0 && s == named[0] {
				continue
			}
			require.NotContains(t, string(raw), s, "%s shows A's %q", where, s)
		}
	}
	before := len(e.transcript(a.adminToken, convID))

	for _, r := range everyRoute {
		path := r.path
		if r.id != "" {
			path = strings.Replace(path, ":id", ids[r.id], 1)
		}
		t.Run(r.method+" "+strings.ReplaceAll(r.path, "/", "_"), func(t *testing.T) {
			e := e.withT(t)
			switch r.access {
			case "public", "socket":
				return // no token to check; the socket's first frame is in TestMerchantIsolation
			}
			code, raw := e.doRaw(r.method, path, "", r.body, nil)
			require.Equal(t, 401, code, "no token: %s", raw)
			requireAPIError(t, raw)
			code, raw = e.doRaw(r.method, path, "not-a-token", r.body, nil)
			require.Equal(t, 401, code, "a bad token: %s", raw)
			if r.access == "admin" {
				// The role check: A's own plain agent is refused too.
				for who, tok := range map[string]string{"A's plain agent": aPlain, "B's plain agent": bobTok} {
					code, raw := e.doRaw(r.method, path, tok, r.body, nil)
					require.Equal(t, 403, code, "%s: %s", who, raw)
					requireAPIError(t, raw)
					noSecrets(t, who, raw)
				}
			}
			if r.id != "" {
				// The merchant check: B names A's object.
				for who, tok := range map[string]string{"B's admin": b.adminToken, "B's agent": bobTok} {
					code, raw := e.doRaw(r.method, path, tok, r.body, nil)
					require.Contains(t, []int{403, 404}, code, "%s: %s", who, raw)
					requireAPIError(t, raw)
					noSecrets(t, who, raw, ids[r.id])
				}
			} else if r.method == "GET" {
				// B's own collection shows nothing of A's.
				for who, tok := range map[string]string{"B's admin": b.adminToken, "B's agent": bobTok} {
					if r.access == "admin" && tok == bobTok {
						continue
					}
					code, raw := e.doRaw(r.method, path, tok, nil, nil)
					if code == 503 {
						// A feature this console was not given (helpdesks).
						require.Equal(t, "unavailable", requireAPIError(t, raw), "%s: %s", who, raw)
					} else {
						require.Less(t, code, 500, "%s: %s", who, raw)
					}
					noSecrets(t, who, raw)
				}
			}
		})
	}

	// A's objects are as they were.
	require.Len(t, e.transcript(a.adminToken, convID), before)
	_, body = e.do("GET", "/v1/agent/conversations/"+convID, a.adminToken, nil)
	conv := body["conversation"].(map[string]any)
	require.Equal(t, "assigned", conv["status"])
	require.Equal(t, "Alice-of-A", conv["agent"].(map[string]any)["name"])
	_, body = e.do("GET", "/v1/admin/webhooks", a.adminToken, nil)
	require.Contains(t, mustJSON(t, body), webhookID)
	require.Contains(t, mustJSON(t, body), "a-hooks.example")
	code, _ = e.do("GET", "/v1/agent/me", aliceTok, nil)
	require.Equal(t, 200, code, "A's agent was disabled or deleted")
	_, body = e.do("GET", "/v1/admin/settings", a.adminToken, nil)
	require.Equal(t, "A-AWAY-SECRET", body["away_message"])
	_, body = e.do("GET", "/v1/admin/merchant", a.adminToken, nil)
	require.Equal(t, a.m.IdentitySecret, body["identity_secret"])
	_, body = e.do("GET", "/v1/admin/knowledge", a.adminToken, nil)
	require.Contains(t, mustJSON(t, body), "A-KNOWLEDGE-SECRET")
	require.NotContains(t, mustJSON(t, body), "B-INTRUSION")
}
