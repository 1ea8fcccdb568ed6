package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/helpdesk/helpdesktest"
	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/sessiontest"
)

// fastHelpdesk keeps helpdesk tests in seconds: a 200ms client timeout and
// retries in milliseconds.
func fastHelpdesk(c *appConfig) {
	c.HelpdeskTimeout = 200 * time.Millisecond
	c.Outbox = session.OutboxOptions{Workers: 4, Poll: 10 * time.Millisecond, CallTimeout: 450 * time.Millisecond,
		LeaseMargin: 100 * time.Millisecond, ClaimIdle: 650 * time.Millisecond, RetryBase: 20 * time.Millisecond,
		RetryMax: 200 * time.Millisecond, MaxAttempts: 40, StopGrace: 50 * time.Millisecond, Recover: 500 * time.Millisecond}
}

// worker is another Baton node on the env's Redis prefix with a Redis
// client of its own, so a test can take its Redis away.
type worker struct {
	env *env
	rdb *redis.Client
}

func (e *env) worker(name string, opts ...envOption) *worker {
	e.t.Helper()
	opt, err := redis.ParseURL(sessiontest.Shared(e.t).URL)
	require.NoError(e.t, err)
	rdb := redis.NewClient(opt)
	e.t.Cleanup(func() { _ = rdb.Close() }) // after the node's own cleanup
	opts = append([]envOption{func(c *appConfig) {
		own := c.Redis
		*c = e.cfg
		c.Redis, c.HelpdeskAgent = own, name
	}}, opts...)
	return &worker{env: newEnvOn(e.t, rdb, e.cfg.Prefix, opts...), rdb: rdb}
}

// ticketed runs an anonymous visitor through the handoff on the socket: a
// question the assistant cannot answer, the offer, the email, and the
// helpdesk ending: status ticketed, the promise of an email reply, closed.
func (e *env) ticketed(key, email, question string) string {
	e.t.Helper()
	v := e.visitor(key)
	v.Send(map[string]any{"type": "hello", "locale": "en", "page": "https://shop.example/orders?id=7&x=<y>"})
	convID := v.Expect("welcome")["conversation_id"].(string)
	v.Send(map[string]any{"type": "message", "client_id": "q0", "text": "How long does shipping take?"})
	v.ExpectMessage("assistant") // the shop's knowledge answers this one
	v.Send(map[string]any{"type": "message", "client_id": "q1", "text": question})
	require.NotEmpty(e.t, v.Expect("handoff_offer")["text"])
	v.Send(map[string]any{"type": "handoff_reply", "accept": true})
	v.Expect("email_request")
	v.Send(map[string]any{"type": "email", "email": email})
	// In this order: the promise, the status, the end.
	sys := v.ExpectMessage("system")
	require.Contains(e.t, sys["text"], "reply by email to "+email)
	require.Equal(e.t, "ticketed", v.Expect("status")["status"])
	require.Equal(e.t, "ticketed", v.Expect("closed")["reason"])
	return convID
}

func (e *env) connect(s shop, provider string, body map[string]any) (int, map[string]any) {
	e.t.Helper()
	return e.do("PUT", "/v1/admin/integrations/"+provider, s.adminToken, body)
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func errMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// TestZendeskHandoffEndToEnd: an admin connects Zendesk (the credentials
// are checked first), chooses it, and a visitor's conversation becomes one
// Zendesk ticket with the whole transcript, shown to agents.
func TestZendeskHandoffEndToEnd(t *testing.T) {
	e := newEnv(t, fastHelpdesk)
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "zd-secret-token-0123")
	s := e.shop("Zendesk Shop")

	// Not connected: the method is refused.
	code, body := e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "zendesk"}})
	require.Equal(t, 422, code, "%v", body)
	require.Equal(t, "integration_required", errCode(body))

	good := map[string]any{"subdomain": "zdshop", "email": "owner@zd.example", "api_token": "zd-secret-token-0123", "base_url": z.URL()}
	// Wrong token: Zendesk's reason comes back with 422, nothing is kept.
	bad := map[string]any{"subdomain": "zdshop", "email": "owner@zd.example", "api_token": "wrong", "base_url": z.URL()}
	code, body = e.connect(s, "zendesk", bad)
	require.Equal(t, 422, code, "%v", body)
	require.Equal(t, "integration_unverified", errCode(body))
	require.Contains(t, errMessage(body), "Couldn't authenticate you")
	// An end-user's token is not enough.
	z.Role = "end-user"
	code, body = e.connect(s, "zendesk", good)
	require.Equal(t, 422, code, "%v", body)
	require.Contains(t, errMessage(body), "end-user")
	z.Role = "admin"
	code, body = e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "zendesk"}})
	require.Equal(t, 422, code)
	// Bad input is 400 before any call.
	code, body = e.connect(s, "zendesk", map[string]any{"subdomain": "no such", "email": "owner@zd.example", "api_token": "x"})
	require.Equal(t, 400, code, "%v", body)

	code, body = e.connect(s, "zendesk", good)
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, true, body["connected"])
	require.Equal(t, "zdshop", body["subdomain"])
	require.Equal(t, "********0123", body["api_token"])
	code, body = e.do("GET", "/v1/admin/integrations", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.NotContains(t, fmt.Sprint(body), "zd-secret-token")
	require.Equal(t, false, body["gorgias"].(map[string]any)["connected"])
	require.Equal(t, z.URL(), body["zendesk"].(map[string]any)["base_url"])

	code, body = e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "zendesk"}})
	require.Equal(t, 200, code, "%v", body)

	// The merchant's zone, and something the assistant can answer.
	code, body = e.do("PUT", "/v1/admin/office-hours", s.adminToken, map[string]any{"timezone": "Europe/Amsterdam",
		"weekly": map[string]any{"mon": []any{map[string]string{"open": "00:00", "close": "24:00"}}, "tue": []any{map[string]string{"open": "00:00", "close": "24:00"}},
			"wed": []any{map[string]string{"open": "00:00", "close": "24:00"}}, "thu": []any{map[string]string{"open": "00:00", "close": "24:00"}},
			"fri": []any{map[string]string{"open": "00:00", "close": "24:00"}}, "sat": []any{map[string]string{"open": "00:00", "close": "24:00"}},
			"sun": []any{map[string]string{"open": "00:00", "close": "24:00"}}}})
	require.Equal(t, 200, code, "%v", body)
	code, _ = e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(t, 200, code)

	agent := e.addAgent(s, "zoe@zd.example", "Zoe")
	console := e.console(agent)
	convID := e.ticketed(s.m.WidgetKey, "visitor@example.com", "Where is my <b>parcel</b> & when?")

	// Agents see the ticket once it is made.
	var conv map[string]any
	require.Eventually(t, func() bool {
		code, body := e.do("GET", "/v1/agent/conversations/"+convID, agent, nil)
		conv, _ = body["conversation"].(map[string]any)
		tk, _ := conv["ticket"].(map[string]any)
		return code == 200 && tk != nil && tk["state"] == "created"
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "ticketed", conv["status"])
	tk := conv["ticket"].(map[string]any)
	require.Equal(t, "zendesk", tk["provider"])
	tickets := z.TicketsFor("baton-" + convID)
	require.Len(t, tickets, 1)
	require.Equal(t, fmt.Sprint(tickets[0].ID), tk["id"])
	require.Equal(t, z.URL()+"/agent/tickets/"+fmt.Sprint(tickets[0].ID), tk["url"])
	require.Equal(t, z.URL()+"/api/v2/tickets/"+fmt.Sprint(tickets[0].ID)+".json", tk["api_url"])
	require.Empty(t, z.Problems())
	// The console heard of the change.
	console.Next("conversation with its ticket", func(f map[string]any) bool {
		c, _ := f["conversation"].(map[string]any)
		t, _ := c["ticket"].(map[string]any)
		return f["type"] == "conversation" && c["id"] == convID && t["state"] == "created"
	})

	// The ticket: header, every line, escaped.
	h := tickets[0].HTML
	require.Contains(t, h, "<strong>Email:</strong> visitor@example.com")
	require.Contains(t, h, "<strong>Profile ID:</strong> none")
	require.Contains(t, h, "https://shop.example/orders?id=7&amp;x=&lt;y&gt;")
	require.Contains(t, h, "the assistant could not answer")
	require.Contains(t, h, "Where is my &lt;b&gt;parcel&lt;/b&gt; &amp; when?")
	require.Contains(t, h, "<strong>Visitor</strong>")
	require.Contains(t, h, "<strong>Assistant</strong>")
	require.Contains(t, h, "<strong>System</strong>")
	require.Contains(t, h, "reply by email to visitor@example.com")
	require.Contains(t, h, "Times are in Europe/Amsterdam and UTC.")
	require.Contains(t, h, "Shipping takes 2 working days.")
	require.Regexp(t, `<time datetime="[0-9T:.-]+Z">[0-9-]+ [0-9:]+ CES?T · [0-9-]+ [0-9:]+ UTC</time> <strong>Visitor</strong>`, h)
	require.Equal(t, "Web chat from visitor@example.com", tickets[0].Subject)

	code, body = e.do("GET", "/v1/admin/handoffs?state=created", s.adminToken, nil)
	require.Equal(t, 200, code)
	hs := body["handoffs"].([]any)
	require.Len(t, hs, 1)
	require.Equal(t, convID, hs[0].(map[string]any)["id"])
	code, _ = e.do("GET", "/v1/admin/handoffs?state=bogus", s.adminToken, nil)
	require.Equal(t, 400, code)
	code, _ = e.do("GET", "/v1/admin/handoffs", agent, nil)
	require.Equal(t, 403, code, "handoffs are for admins")

	// Agents list ticketed conversations.
	code, body = e.do("GET", "/v1/agent/conversations?status=ticketed", agent, nil)
	require.Equal(t, 200, code)
	require.Len(t, body["conversations"].([]any), 1)

	// Another merchant sees none of it.
	other := e.shop("Other Shop")
	code, body = e.do("GET", "/v1/admin/handoffs", other.adminToken, nil)
	require.Equal(t, 200, code)
	require.Empty(t, body["handoffs"])
	code, _ = e.do("GET", "/v1/admin/handoffs/"+convID, other.adminToken, nil)
	require.Equal(t, 404, code)
	code, _ = e.do("POST", "/v1/admin/handoffs/"+convID+"/retry", other.adminToken, nil)
	require.Equal(t, 404, code)
	code, body = e.do("GET", "/v1/admin/integrations/zendesk", other.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, false, body["connected"])
}

// TestGorgiasDeadLetterRetriedByAdmin: a ticket the helpdesk refuses for
// good waits in the dead letters with the reason, and an admin retries it.
func TestGorgiasDeadLetterRetriedByAdmin(t *testing.T) {
	e := newEnv(t, fastHelpdesk)
	g := helpdesktest.NewGorgias(t, "owner@gg.example", "gg-secret-key-4567")
	s := e.shop("Gorgias Shop")
	code, body := e.connect(s, "gorgias", map[string]any{"domain": "ggshop", "email": "owner@gg.example", "api_key": "nope", "base_url": g.URL()})
	require.Equal(t, 422, code, "%v", body)
	require.Contains(t, errMessage(body), "Authentication required")
	code, body = e.connect(s, "gorgias", map[string]any{"domain": "ggshop", "email": "owner@gg.example", "api_key": "gg-secret-key-4567", "base_url": g.URL()})
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, "********4567", body["api_key"])
	code, _ = e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "gorgias"}})
	require.Equal(t, 200, code)
	code, _ = e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(t, 200, code)

	var mu sync.Mutex
	refuse := true
	g.SetPlan(func(string, int) helpdesktest.Fault {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return helpdesktest.Fault{Status: 400, Body: `{"error":{"msg":"Customer is blocked"}}`}
		}
		return helpdesktest.Fault{}
	})
	convID := e.ticketed(s.m.WidgetKey, "gina@example.com", "Can I change my order?")

	var failed []any
	require.Eventually(t, func() bool {
		_, body := e.do("GET", "/v1/admin/handoffs?state=failed", s.adminToken, nil)
		failed, _ = body["handoffs"].([]any)
		return len(failed) == 1
	}, 10*time.Second, 20*time.Millisecond)
	h := failed[0].(map[string]any)
	require.Equal(t, convID, h["id"])
	require.Equal(t, "failed", h["state"])
	require.Equal(t, "gorgias answered 400: Customer is blocked", h["error"])
	require.Empty(t, g.TicketsFor("baton-"+convID))

	mu.Lock()
	refuse = false
	mu.Unlock()
	code, body = e.do("POST", "/v1/admin/handoffs/"+convID+"/retry", s.adminToken, nil)
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, "pending", body["handoff"].(map[string]any)["state"])
	require.Eventually(t, func() bool {
		_, body := e.do("GET", "/v1/admin/handoffs/"+convID, s.adminToken, nil)
		h, _ := body["handoff"].(map[string]any)
		return h["state"] == "created"
	}, 10*time.Second, 20*time.Millisecond)
	require.Len(t, g.TicketsFor("baton-"+convID), 1)
	code, body = e.do("POST", "/v1/admin/handoffs/"+convID+"/retry", s.adminToken, nil)
	require.Equal(t, 409, code)
	require.Equal(t, "not_failed", errCode(body))
	_, body = e.do("GET", "/v1/admin/handoffs?state=failed", s.adminToken, nil)
	require.Empty(t, body["handoffs"])
	require.Empty(t, g.Problems())
}

// faultPlan gives each conversation a kind of trouble, by the order the
// conversations were made in.
type faultPlan struct {
	mu    sync.Mutex
	order map[string]int // external id -> index
	kill  func(r *http.Request, externalID string)
}

// scenarios are the troubles, cycled over the conversations.
var scenarios = []string{"none", "500 twice", "429 seconds", "503 date", "hang after the ticket",
	"drop after the ticket", "drop before", "502 after the ticket", "killed after the answer"}

func (p *faultPlan) add(ext string, i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.order[ext] = i
}

func (p *faultPlan) fault(ext string, n int) helpdesktest.Fault {
	p.mu.Lock()
	i, ok := p.order[ext]
	p.mu.Unlock()
	if !ok {
		return helpdesktest.Fault{}
	}
	switch scenarios[i%len(scenarios)] {
	case "500 twice":
		if n < 2 {
			return helpdesktest.Fault{Status: 500}
		}
	case "429 seconds":
		if n == 0 {
			return helpdesktest.Fault{Status: 429, RetryAfterSeconds: 1}
		}
	case "503 date":
		if n == 0 {
			return helpdesktest.Fault{Status: 503, RetryAfterDate: 500 * time.Millisecond}
		}
	case "hang after the ticket":
		if n == 0 {
			return helpdesktest.Fault{AfterMake: true, Hang: 2 * time.Second}
		}
	case "drop after the ticket":
		if n == 0 {
			return helpdesktest.Fault{AfterMake: true, Drop: true}
		}
	case "drop before":
		if n == 0 {
			return helpdesktest.Fault{Drop: true}
		}
	case "502 after the ticket":
		if n < 2 {
			return helpdesktest.Fault{AfterMake: n == 0, Status: 502}
		}
	case "killed after the answer":
		if n == 0 && i < 2*len(scenarios) {
			return helpdesktest.Fault{Then: func(r *http.Request) { p.kill(r, ext) }}
		}
	}
	return helpdesktest.Fault{}
}

// TestHelpdeskHandoffsUnderFaults is the proof the issue asks for: many
// handoffs to Zendesk and Gorgias, made by workers on three nodes, through
// every kind of trouble (errors for a while, 429 and 503 with Retry-After in
// seconds and as a date, a hang past the client's timeout after the ticket
// was made, connections dropped before and after, and workers killed
// between the helpdesk's answer and their acknowledgement), end as exactly
// one ticket each, with no retry sooner than a Retry-After allowed.
func TestHelpdeskHandoffsUnderFaults(t *testing.T) {
	const perDesk = 27                                                     // three rounds of the scenarios
	e := newEnv(t, fastHelpdesk, func(c *appConfig) { c.NoOutbox = true }) // the front: sockets, no tickets
	workers := map[string]*worker{}
	for _, name := range []string{"node-a", "node-b", "node-c"} {
		workers[name] = e.worker(name, func(c *appConfig) { c.NoOutbox = false })
	}
	var kmu sync.Mutex
	killed := map[string]bool{}
	var killedAt []string // the tickets whose workers died
	kill := func(r *http.Request, ext string) {
		// The node making this call loses Redis before it hears the answer:
		// from Redis's side, a worker that died between the helpdesk's
		// answer and its acknowledgement. One node is kept alive.
		kmu.Lock()
		defer kmu.Unlock()
		name := r.Header.Get("User-Agent")
		if n := workers[name]; n != nil && !killed[name] && len(killed) < len(workers)-1 {
			killed[name] = true
			killedAt = append(killedAt, ext)
			_ = n.rdb.Close()
		}
	}
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "zd-secret-token-0123")
	g := helpdesktest.NewGorgias(t, "owner@gg.example", "gg-secret-key-4567")
	zp := &faultPlan{order: map[string]int{}, kill: kill}
	gp := &faultPlan{order: map[string]int{}, kill: kill}
	z.SetPlan(zp.fault)
	g.SetPlan(gp.fault)

	zs, gs := e.shop("Zendesk Faults"), e.shop("Gorgias Faults")
	code, body := e.connect(zs, "zendesk", map[string]any{"subdomain": "zd", "email": "owner@zd.example", "api_token": "zd-secret-token-0123", "base_url": z.URL()})
	require.Equal(t, 200, code, "%v", body)
	code, body = e.connect(gs, "gorgias", map[string]any{"domain": "gg", "email": "owner@gg.example", "api_key": "gg-secret-key-4567", "base_url": g.URL()})
	require.Equal(t, 200, code, "%v", body)
	for _, s := range []struct {
		shop   shop
		method string
	}{{zs, "zendesk"}, {gs, "gorgias"}} {
		code, _ := e.do("PUT", "/v1/admin/settings", s.shop.adminToken, map[string]any{"handoff": map[string]any{"method": s.method}})
		require.Equal(t, 200, code)
	}

	start := time.Now()
	type handoff struct {
		conv string
		shop shop
		desk interface {
			TicketsFor(string) []helpdesktest.Ticket
		}
	}
	var all []handoff
	for i := 0; i < perDesk; i++ {
		for _, d := range []struct {
			shop shop
			plan *faultPlan
			desk interface {
				TicketsFor(string) []helpdesktest.Ticket
			}
		}{{zs, zp, z}, {gs, gp, g}} {
			// The plan must know the conversation before its ticket is
			// asked for: register it as soon as the welcome names it.
			v := e.visitor(d.shop.m.WidgetKey)
			v.Send(map[string]any{"type": "hello", "locale": "en"})
			conv := v.Expect("welcome")["conversation_id"].(string)
			d.plan.add("baton-"+conv, i)
			v.Send(map[string]any{"type": "message", "client_id": "q", "text": fmt.Sprintf("Question %d: where is my order?", i)})
			v.Expect("handoff_offer")
			v.Send(map[string]any{"type": "handoff_reply", "accept": true})
			v.Expect("email_request")
			v.Send(map[string]any{"type": "email", "email": fmt.Sprintf("v%d@example.com", i)})
			require.Equal(t, "ticketed", v.Expect("status")["status"])
			require.Equal(t, "ticketed", v.Expect("closed")["reason"])
			all = append(all, handoff{conv, d.shop, d.desk})
		}
	}

	for _, h := range all {
		require.Eventually(t, func() bool {
			_, body := e.do("GET", "/v1/admin/handoffs/"+h.conv, h.shop.adminToken, nil)
			hh, _ := body["handoff"].(map[string]any)
			return hh["state"] == "created"
		}, 30*time.Second, 20*time.Millisecond, "handoff %s never made its ticket", h.conv)
		ts := h.desk.TicketsFor("baton-" + h.conv)
		require.Equal(t, 1, len(ts), "tickets for conversation %s", h.conv)
		_, body := e.do("GET", "/v1/admin/handoffs/"+h.conv, h.shop.adminToken, nil)
		require.Equal(t, fmt.Sprint(ts[0].ID), body["handoff"].(map[string]any)["ticket"].(map[string]any)["id"])
	}
	elapsed := time.Since(start)

	zf, gf := z.Figures(), g.Figures()
	require.Empty(t, z.Problems())
	require.Empty(t, g.Problems())
	for _, f := range []helpdesktest.Figures{zf, gf} {
		require.Equal(t, perDesk, f.Tickets)
		require.Zero(t, f.Duplicates)
		require.Zero(t, f.EarlyRetries)
		require.GreaterOrEqual(t, f.RetryAfters, 2*perDesk/len(scenarios), "the Retry-After scenarios did not all run")
	}
	kmu.Lock()
	nKilled := len(killed)
	kmu.Unlock()
	require.Equal(t, len(workers)-1, nKilled, "the kill scenario did not kill the workers it should have")
	// Each killed worker's ticket was taken over by another node, which
	// asked the helpdesk again (the same Idempotency-Key to Zendesk, a
	// look-up by external_id to Gorgias) and got the one ticket back.
	kmu.Lock()
	for _, ext := range killedAt {
		var again int
		for _, q := range append(z.Requests(), g.Requests()...) {
			if q.ExternalID == ext {
				again++
			}
		}
		require.GreaterOrEqual(t, again, 2, "nobody took over the ticket %s of a killed worker", ext)
	}
	kmu.Unlock()
	report := fmt.Sprintf("%d handoffs (%d Zendesk, %d Gorgias) on 3 worker nodes, %d killed mid-flight, in %v\n  zendesk: %v\n  gorgias: %v",
		2*perDesk, perDesk, perDesk, nKilled, elapsed.Round(time.Millisecond), zf, gf)
	t.Log(report)
	if testing.Verbose() {
		fmt.Println("HELPDESK FIGURES:", strings.ReplaceAll(report, "\n", "\nHELPDESK FIGURES:"))
	}
}
