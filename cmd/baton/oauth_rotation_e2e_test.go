package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/helpdesk/helpdesktest"
)

// handOff runs a visitor through a helpdesk handoff on the socket and
// returns the conversation; the visitor is told what they are always
// told: a person will reply by email.
func (e *env) handOff(key string, i int) string {
	e.t.Helper()
	v := e.visitor(key)
	v.Send(map[string]any{"type": "hello", "locale": "en"})
	conv := v.Expect("welcome")["conversation_id"].(string)
	v.Send(map[string]any{"type": "message", "client_id": "q", "text": fmt.Sprintf("Question %d: where is my order?", i)})
	v.Expect("handoff_offer")
	v.Send(map[string]any{"type": "handoff_reply", "accept": true})
	v.Expect("email_request")
	email := fmt.Sprintf("v%d@example.com", i)
	v.Send(map[string]any{"type": "email", "email": email})
	require.Contains(e.t, v.ExpectMessage("system")["text"], "reply by email to "+email)
	require.Equal(e.t, "ticketed", v.Expect("status")["status"])
	require.Equal(e.t, "ticketed", v.Expect("closed")["reason"])
	return conv
}

// handOffAtOnce brings n visitors to the last step of a handoff, then
// sends their email addresses together: n handoffs within a millisecond
// or two, whose tickets the nodes' workers make at once.
func (e *env) handOffAtOnce(key string, from, n int) []string {
	e.t.Helper()
	type waiting struct {
		v     *client
		conv  string
		email string
	}
	var ws []waiting
	for i := from; i < from+n; i++ {
		v := e.visitor(key)
		v.Send(map[string]any{"type": "hello", "locale": "en"})
		conv := v.Expect("welcome")["conversation_id"].(string)
		v.Send(map[string]any{"type": "message", "client_id": "q", "text": fmt.Sprintf("Question %d: where is my order?", i)})
		v.Expect("handoff_offer")
		v.Send(map[string]any{"type": "handoff_reply", "accept": true})
		v.Expect("email_request")
		ws = append(ws, waiting{v, conv, fmt.Sprintf("v%d@example.com", i)})
	}
	for _, w := range ws {
		w.v.Send(map[string]any{"type": "email", "email": w.email})
	}
	convs := make([]string, 0, n)
	for _, w := range ws {
		require.Contains(e.t, w.v.ExpectMessage("system")["text"], "reply by email to "+w.email)
		require.Equal(e.t, "ticketed", w.v.Expect("closed")["reason"])
		convs = append(convs, w.conv)
	}
	return convs
}

// oauthShop is a shop whose Zendesk is connected with "Connect with
// Zendesk" (the authorization code grant: refresh tokens are all it has)
// and chosen as the handoff method.
func (e *env) oauthShop(name string, z *helpdesktest.Zendesk) shop {
	e.t.Helper()
	s := e.shop(name)
	result, reason := e.adminBrowser().connectWithZendesk(s.adminToken, z, zendeskAt(z))
	require.Equal(e.t, "connected", result, reason)
	code, body := e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "zendesk"}})
	require.Equal(e.t, 200, code, "%v", body)
	return s
}

func refreshGrants(z *helpdesktest.Zendesk) (ok []helpdesktest.Grant, all []helpdesktest.Grant) {
	for _, g := range z.Grants() {
		if g.GrantType == "refresh_token" {
			all = append(all, g)
			if g.Status == 200 {
				ok = append(ok, g)
			}
		}
	}
	return ok, all
}

// TestOAuthTokensRotateAcrossNodes: with access tokens that live a
// second, three nodes make 60 tickets while the pair is refreshed again
// and again: 60 tickets, none twice, no refresh token presented twice, so
// no pair refreshed more than once, and no ticket request the real API
// would have refused for a bad body.
func TestOAuthTokensRotateAcrossNodes(t *testing.T) {
	const handoffs = 60
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "unused-api-token-0123")
	z.AddClient(operatorClient, operatorSecret)
	z.SetTokenTTL(time.Second, time.Hour) // expires_in 1: renewed after two thirds of it
	e := newEnv(t, fastHelpdesk, withOperatorClient, func(c *appConfig) { c.HelpdeskAgent = "node-1" })
	nodes := []*env{e}
	for _, name := range []string{"node-2", "node-3"} {
		nodes = append(nodes, e.worker(name).env)
	}
	s := e.oauthShop("Rotating Shop", z)

	// Visitors arrive six at a time over five seconds, so tickets are made
	// through several lives of the token, several at once on every node.
	start := time.Now()
	arrivals := time.NewTicker(500 * time.Millisecond)
	defer arrivals.Stop()
	convs := make([]string, 0, handoffs)
	for i := 0; i < handoffs; i += 6 {
		<-arrivals.C
		convs = append(convs, e.handOffAtOnce(s.m.WidgetKey, i, 6)...)
	}
	for _, c := range convs {
		require.Eventually(t, func() bool { return len(z.TicketsFor("baton-"+c)) == 1 }, 30*time.Second, 20*time.Millisecond,
			"conversation %s has no ticket", c)
	}
	elapsed := time.Since(start)

	f := z.Figures()
	require.Equal(t, handoffs, f.Tickets)
	require.Zero(t, f.Duplicates)
	require.Empty(t, z.Problems(), "a refresh token presented twice is a problem the fake records")
	maxPerPair := 0
	for _, n := range z.RefreshesPerPair() {
		maxPerPair = max(maxPerPair, n)
	}
	require.LessOrEqual(t, maxPerPair, 1)
	ok, all := refreshGrants(z)
	require.Equal(t, len(all), len(ok), "a refresh was refused")
	require.GreaterOrEqual(t, len(ok), 2, "the tokens were not refreshed often enough to test anything")
	byNode := map[string]int{}
	for _, g := range ok {
		byNode[g.Agent]++
	}
	ticketsBy := map[string]int{}
	unauthorized := 0
	for _, r := range z.Requests() {
		if r.Method == "POST" && r.Path == "/api/v2/tickets.json" {
			if r.Status == 201 {
				ticketsBy[r.Agent]++
			}
			if r.Status == 401 {
				unauthorized++
			}
		}
		if r.Path == "/api/v2/tickets.json" {
			require.Equal(t, "bearer", r.Auth)
		}
	}
	var renewals int64
	for _, n := range nodes {
		renewals += n.app.svc.HelpdeskAuthStats().Renewals
	}
	require.EqualValues(t, len(ok), renewals, "every refresh the helpdesk made is one a node counted")
	report := fmt.Sprintf("%d tickets by 3 nodes in %v (by node %v), access tokens living 1s: %d refreshes (by node %v), "+
		"max %d per pair, %d ticket posts refused 401 and renewed, %v",
		handoffs, elapsed.Round(time.Millisecond), sorted(ticketsBy), len(ok), sorted(byNode), maxPerPair, unauthorized, f)
	t.Log(report)
	if testing.Verbose() {
		fmt.Println("OAUTH FIGURES:", report)
	}
}

func sorted(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}

// TestRefreshLeaseHolderKilled: the node that takes the refresh lease
// dies (it loses Redis and its call never reaches Zendesk). Its lease is
// not given back: another node that needs the token meanwhile waits for
// it to run out, then refreshes the same pair, once.
func TestRefreshLeaseHolderKilled(t *testing.T) {
	const lease = 2 * time.Second
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "unused-api-token-0123")
	z.AddClient(operatorClient, operatorSecret)
	e := newEnv(t, fastHelpdesk, withOperatorClient, func(c *appConfig) { c.NoOutbox, c.Outbox.TokenLease = true, lease })
	nodeA := e.worker("node-a", func(c *appConfig) { c.NoOutbox = false })
	s := e.oauthShop("Lease Shop", z)

	killed := make(chan struct{})
	var once sync.Once
	refused := func(agent string) bool { // a ticket of agent's refused with 401
		for _, r := range z.Requests() {
			if r.Path == "/api/v2/tickets.json" && r.Method == "POST" && r.Agent == agent && r.Status == 401 {
				return true
			}
		}
		return false
	}
	z.SetTokenPlan(func(r *http.Request, grant string, _ int) helpdesktest.TokenFault {
		if grant != "refresh_token" || r.UserAgent() != "node-a" {
			return helpdesktest.TokenFault{}
		}
		fault := helpdesktest.TokenFault{}
		once.Do(func() {
			// node-a holds the lease: it dies, its request unprocessed,
			// once node-b needs the token too.
			_ = nodeA.rdb.Close()
			close(killed)
			deadline := time.Now().Add(5 * time.Second)
			for !refused("node-b") && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond) // polling the fake's log, with a deadline
			}
			fault.Drop = true
		})
		return fault
	})
	// The access token ends (as time would): node-a's ticket is refused
	// with 401 and node-a renews the pair.
	z.ExpireAccessTokens()
	first := e.handOff(s.m.WidgetKey, 1)
	<-killed
	e.worker("node-b", func(c *appConfig) { c.NoOutbox = false })
	second := e.handOff(s.m.WidgetKey, 2)
	for _, c := range []string{first, second} {
		require.Eventually(t, func() bool { return len(z.TicketsFor("baton-"+c)) == 1 }, 15*time.Second, 20*time.Millisecond)
	}

	require.True(t, refused("node-b"), "node-b never needed the token while node-a held the lease")
	_, all := refreshGrants(z)
	require.Len(t, all, 2, "%+v", all)
	dead, next := all[0], all[1]
	require.Equal(t, "node-a", dead.Agent)
	require.Equal(t, "dropped unprocessed", dead.Error)
	require.Equal(t, "node-b", next.Agent)
	require.Equal(t, 200, next.Status)
	require.Equal(t, dead.Refresh, next.Refresh, "node-b renewed the pair node-a held")
	require.GreaterOrEqual(t, next.At.Sub(dead.At), lease-50*time.Millisecond, "refreshed while the dead node's lease stood")
	require.Equal(t, 1, z.RefreshesPerPair()[next.Refresh])
	require.Empty(t, z.Problems())
	require.Equal(t, 0, z.Duplicates())
	t.Logf("lease %v; node-a's refresh at %v, node-b's %v later", lease, dead.At.Format("15:04:05.000"), next.At.Sub(dead.At).Round(time.Millisecond))
}

// TestRevokedFamilyHoldsHandoffs: Baton's access is revoked in Zendesk.
// The refresh is refused for good: the integration says needs_reconnect
// (and why), its handoffs wait in the outbox — not failed, not sent again
// with dead credentials — and are made once an admin reconnects.
func TestRevokedFamilyHoldsHandoffs(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "unused-api-token-0123")
	z.AddClient(operatorClient, operatorSecret)
	e := newEnv(t, fastHelpdesk, withOperatorClient)
	s := e.oauthShop("Revoked Shop", z)
	z.RevokeAll()

	var convs []string
	for i := range 3 {
		convs = append(convs, e.handOff(s.m.WidgetKey, i))
	}
	require.Eventually(t, func() bool {
		_, body := e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
		return body["status"] == "needs_reconnect"
	}, 10*time.Second, 20*time.Millisecond)
	_, body := e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Contains(t, body["reason"], "invalid_grant")
	require.Equal(t, true, body["connected"])
	held := func() bool {
		for _, c := range convs {
			_, body := e.do("GET", "/v1/admin/handoffs/"+c, s.adminToken, nil)
			h, _ := body["handoff"].(map[string]any)
			if h["state"] != "pending" || !strings.Contains(fmt.Sprint(h["error"]), "needs reconnecting") {
				return false
			}
		}
		return true
	}
	require.Eventually(t, held, 10*time.Second, 20*time.Millisecond)
	posts := func() int {
		n := 0
		for _, r := range z.Requests() {
			if r.Method == "POST" && r.Path == "/api/v2/tickets.json" {
				n++
			}
		}
		return n
	}
	before := posts()
	require.LessOrEqual(t, before, len(convs), "tickets were posted with dead credentials again and again")
	// Held: nothing is sent, nothing fails, for as long as we watch.
	require.Never(t, func() bool {
		_, body := e.do("GET", "/v1/admin/handoffs?state=failed", s.adminToken, nil)
		return len(body["handoffs"].([]any)) > 0 || posts() != before || !held()
	}, time.Second, 50*time.Millisecond)
	var flagged int64
	flagged += e.app.svc.HelpdeskAuthStats().NeedsReconnect
	require.GreaterOrEqual(t, flagged, int64(1))

	// Reconnecting releases them at once (their own recheck is a minute).
	reconnected := time.Now()
	result, reason := e.adminBrowser().connectWithZendesk(s.adminToken, z, zendeskAt(z))
	require.Equal(t, "connected", result, reason)
	for _, c := range convs {
		require.Eventually(t, func() bool { return len(z.TicketsFor("baton-"+c)) == 1 }, 5*time.Second, 20*time.Millisecond)
	}
	t.Logf("3 held handoffs made %v after reconnecting", time.Since(reconnected).Round(time.Millisecond))
	_, body = e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, "connected", body["status"])
	for _, c := range convs {
		_, body := e.do("GET", "/v1/admin/handoffs/"+c, s.adminToken, nil)
		require.Equal(t, "created", body["handoff"].(map[string]any)["state"])
	}
	require.Zero(t, z.Duplicates())
	require.Empty(t, z.Problems())
}

// TestRefusedAPITokenHoldsHandoffs: an API token Zendesk deactivated is
// refused (401): the integration needs reconnecting and the handoff waits
// for it instead of failing.
func TestRefusedAPITokenHoldsHandoffs(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "zd-secret-token-0123")
	e := newEnv(t, fastHelpdesk)
	s := e.shop("Token Shop")
	code, body := e.connect(s, "zendesk", map[string]any{"subdomain": "tokenshop", "email": "owner@zd.example",
		"api_token": "zd-secret-token-0123", "base_url": z.URL()})
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, "2027-04-30", body["api_token_ends"])
	code, _ = e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "zendesk"}})
	require.Equal(t, 200, code)
	z.ChangeSecret("zd-new-secret-token-4567") // the old one was deactivated
	conv := e.handOff(s.m.WidgetKey, 1)
	require.Eventually(t, func() bool {
		_, body := e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
		return body["status"] == "needs_reconnect" && strings.Contains(fmt.Sprint(body["reason"]), "Couldn't authenticate you")
	}, 10*time.Second, 20*time.Millisecond)
	_, body = e.do("GET", "/v1/admin/handoffs/"+conv, s.adminToken, nil)
	require.Equal(t, "pending", body["handoff"].(map[string]any)["state"])
	code, body = e.connect(s, "zendesk", map[string]any{"subdomain": "tokenshop", "email": "owner@zd.example",
		"api_token": "zd-new-secret-token-4567", "base_url": z.URL()})
	require.Equal(t, 200, code, "%v", body)
	require.Eventually(t, func() bool { return len(z.TicketsFor("baton-"+conv)) == 1 }, 5*time.Second, 20*time.Millisecond)
}
