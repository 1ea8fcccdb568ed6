package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/sessiontest"
)

// hookSink is a merchant's webhook endpoint: it keeps every POST.
type hookSink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	posts  []hookPost
}

type hookPost struct {
	header http.Header
	body   []byte
}

func newHookSink(t *testing.T) *hookSink {
	s := &hookSink{status: 200}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.posts = append(s.posts, hookPost{header: r.Header.Clone(), body: b})
		status := s.status
		s.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *hookSink) ofType(typ string) []hookPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []hookPost
	for _, p := range s.posts {
		var ev struct{ Type string }
		_ = json.Unmarshal(p.body, &ev)
		if ev.Type == typ {
			out = append(out, p)
		}
	}
	return out
}

func fastWebhooks(c *appConfig) {
	c.Webhooks = session.WebhookOptions{Poll: 20 * time.Millisecond, Timeout: time.Second, LeaseMargin: 200 * time.Millisecond,
		Schedule: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}}
	c.WebhookBaseURLs = []string{"http://127.0.0.1"}
}

// TestWebhooksOverREST: an admin sets an endpoint (the secret shown once),
// two nodes share the deliveries, each event arrives once with a signature
// the reference library accepts, a test delivery reports how it went, dead
// letters are listed and retried, and nothing of it is another merchant's.
func TestWebhooksOverREST(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	a := newEnvOn(t, rdb, prefix, fastWebhooks)
	b := newEnvOn(t, rdb, prefix, fastWebhooks)
	s := a.shop("Hook REST Shop")
	sink := newHookSink(t)

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"loopback not in the allow-list", map[string]any{"endpoints": []any{map[string]any{"url": "http://127.0.0.2:9/x", "events": []string{"conversation.closed"}}}}, 422, "url_not_allowed"},
			{"the metadata address", map[string]any{"endpoints": []any{map[string]any{"url": "https://169.254.169.254/latest", "events": []string{"conversation.closed"}}}}, 422, "url_not_allowed"},
			{"localhost", map[string]any{"endpoints": []any{map[string]any{"url": "https://localhost/hook", "events": []string{"conversation.closed"}}}}, 422, "url_not_allowed"},
			{"plain http to a public name", map[string]any{"endpoints": []any{map[string]any{"url": "http://hooks.example.com/x", "events": []string{"conversation.closed"}}}}, 422, "url_not_allowed"},
			{"an unknown event", map[string]any{"endpoints": []any{map[string]any{"url": sink.srv.URL, "events": []string{"order.paid"}}}}, 400, "invalid_events"},
			{"no endpoints field", map[string]any{}, 400, "bad_request"},
		} {
			code, body := a.do("PUT", "/v1/admin/webhooks", s.adminToken, tc.body)
			require.Equal(t, tc.status, code, "%s: %v", tc.name, body)
			require.Equal(t, tc.code, body["error"].(map[string]any)["code"], tc.name)
		}
	})

	code, body := a.do("PUT", "/v1/admin/webhooks", s.adminToken, map[string]any{"endpoints": []any{
		map[string]any{"url": sink.srv.URL + "/baton", "events": []string{"conversation.started", "conversation.handoff", "conversation.closed"}}}})
	require.Equal(t, 200, code, "%v", body)
	ep := body["endpoints"].([]any)[0].(map[string]any)
	secret, _ := ep["secret"].(string)
	require.Regexp(t, `^whsec_`, secret)
	code, body = b.do("GET", "/v1/admin/webhooks", s.adminToken, nil)
	require.Equal(t, 200, code)
	listed := body["endpoints"].([]any)[0].(map[string]any)
	require.Equal(t, ep["id"], listed["id"])
	require.Equal(t, secret, listed["secret"], "GET shows the secret once, on creation (here on the other node)")
	code, body = b.do("GET", "/v1/admin/webhooks", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.NotContains(t, body["endpoints"].([]any)[0].(map[string]any), "secret", "then never again")
	require.ElementsMatch(t, []any{"conversation.started", "conversation.handoff", "conversation.assigned",
		"conversation.closed", "conversation.ticketed", "csat.submitted"}, body["events"])

	agentTok := a.addAgent(s, "hooker@rest.example", "Hook Agent")
	code, _ = a.do("GET", "/v1/admin/webhooks", agentTok, nil)
	require.Equal(t, 403, code, "webhooks are for admins")
	other := a.shop("Hook REST Neighbour")
	code, body = a.do("GET", "/v1/admin/webhooks", other.adminToken, nil)
	require.Equal(t, 200, code)
	require.Empty(t, body["endpoints"], "another merchant sees none of them")
	code, _ = a.do("POST", "/v1/admin/webhooks/"+ep["id"].(string)+"/test", other.adminToken, nil)
	require.Equal(t, 404, code, "nor can test them")

	// Conversations on both nodes.
	for i, node := range []*env{a, b, a} {
		v := node.visitor(s.m.WidgetKey)
		hello(v)
		say(v, cid("h", i), "hello there")
		handoff(v, "hooked@example.com")
		v.Send(map[string]any{"type": "close"})
		v.Expect("status")
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	for _, typ := range []string{"conversation.started", "conversation.handoff", "conversation.closed"} {
		require.Eventually(t, func() bool { return len(sink.ofType(typ)) >= 3 }, 10*time.Second, 20*time.Millisecond, typ)
	}
	time.Sleep(200 * time.Millisecond)
	ids := map[string]bool{}
	for _, typ := range []string{"conversation.started", "conversation.handoff", "conversation.closed"} {
		posts := sink.ofType(typ)
		require.Len(t, posts, 3, "%s: one delivery per event, whichever node", typ)
		for _, p := range posts {
			require.NoError(t, wh.Verify(p.body, p.header))
			id := p.header.Get("webhook-id")
			require.False(t, ids[id])
			ids[id] = true
		}
	}
	require.Empty(t, sink.ofType("conversation.assigned"), "not subscribed")

	code, body = a.do("POST", "/v1/admin/webhooks/"+ep["id"].(string)+"/test", s.adminToken, nil)
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, true, body["result"].(map[string]any)["ok"])
	require.Len(t, sink.ofType("webhook.test"), 1)
	require.NoError(t, wh.Verify(sink.ofType("webhook.test")[0].body, sink.ofType("webhook.test")[0].header))

	// The endpoint goes down: the next event ends as a dead letter.
	sink.mu.Lock()
	sink.status = 500
	sink.mu.Unlock()
	v := b.visitor(s.m.WidgetKey)
	hello(v)
	say(v, "down-1", "anyone?")
	var dead []any
	require.Eventually(t, func() bool {
		_, body := a.do("GET", "/v1/admin/webhooks/deliveries?state=failed", s.adminToken, nil)
		dead, _ = body["deliveries"].([]any)
		return len(dead) == 1
	}, 10*time.Second, 20*time.Millisecond)
	d := dead[0].(map[string]any)
	require.Equal(t, "failed", d["state"])
	require.EqualValues(t, 3, d["attempts"])
	started := sink.ofType("conversation.started")
	require.Equal(t, d["webhook_id"], started[len(started)-1].header.Get("webhook-id"))

	code, _ = a.do("POST", "/v1/admin/webhooks/deliveries/"+d["id"].(string)+"/retry", other.adminToken, nil)
	require.Equal(t, 404, code, "another merchant's dead letter")
	sink.mu.Lock()
	sink.status = 204
	sink.mu.Unlock()
	code, body = a.do("POST", "/v1/admin/webhooks/deliveries/"+d["id"].(string)+"/retry", s.adminToken, nil)
	require.Equal(t, 200, code, "%v", body)
	require.Eventually(t, func() bool {
		_, body := b.do("GET", "/v1/admin/webhooks/deliveries", s.adminToken, nil)
		for _, x := range body["deliveries"].([]any) {
			if x.(map[string]any)["id"] == d["id"] {
				return x.(map[string]any)["state"] == "delivered"
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	started = sink.ofType("conversation.started")
	require.Equal(t, d["webhook_id"], started[len(started)-1].header.Get("webhook-id"), "the retry has the same webhook-id")
}
