package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/helpdesk"
	"github.com/batonchat/baton/gateway/helpdesk/helpdesktest"
)

// The operator's Zendesk OAuth client, as BATON_ZENDESK_CLIENT_ID and
// BATON_ZENDESK_CLIENT_SECRET would give it.
const (
	operatorClient = "baton_operator"
	operatorSecret = "operator-secret-0123456789"
)

func withOperatorClient(c *appConfig) {
	c.ZendeskClient = helpdesk.OAuthClient{ID: operatorClient, Secret: operatorSecret}
}

// adminBrowser plays the admin's browser in "Connect with Zendesk" without
// a page: it keeps cookies and does not follow redirects.
type adminBrowser struct {
	e *env
	c *http.Client
}

func (e *env) adminBrowser() *adminBrowser {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	return &adminBrowser{e: e, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// start asks Baton for the authorization URL.
func (b *adminBrowser) start(token string, q url.Values) (int, map[string]any) {
	req, err := http.NewRequest("GET", b.e.srv.URL+"/v1/admin/integrations/zendesk/oauth/start?"+q.Encode(), nil)
	require.NoError(b.e.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := b.c.Do(req)
	require.NoError(b.e.t, err)
	defer res.Body.Close()
	out := map[string]any{}
	require.NoError(b.e.t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, out
}

// arrive follows Zendesk's redirect to Baton's callback and returns where
// Baton sends the browser: the result and its reason.
func (b *adminBrowser) arrive(callback string) (result, reason string) {
	res, err := b.c.Get(callback)
	require.NoError(b.e.t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	require.Equal(b.e.t, http.StatusSeeOther, res.StatusCode)
	loc, err := url.Parse(res.Header.Get("Location"))
	require.NoError(b.e.t, err)
	require.Equal(b.e.t, "/console/", loc.Path)
	require.Equal(b.e.t, "settings", loc.Fragment)
	return loc.Query().Get("zendesk"), loc.Query().Get("reason")
}

// connectWithZendesk runs the whole flow; the admin allows Baton.
func (b *adminBrowser) connectWithZendesk(token string, z *helpdesktest.Zendesk, q url.Values) (result, reason string) {
	code, body := b.start(token, q)
	require.Equal(b.e.t, 200, code, "%v", body)
	back, err := z.Approve(body["url"].(string))
	require.NoError(b.e.t, err)
	return b.arrive(back)
}

// handOffToZendesk makes Zendesk the shop's handoff method, with the test
// knowledge, and hands one conversation off; it returns once the ticket is
// in the fake.
func (e *env) handOffToZendesk(s shop, z *helpdesktest.Zendesk, email string) string {
	e.t.Helper()
	code, _ := e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "zendesk"}})
	require.Equal(e.t, 200, code)
	code, _ = e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(e.t, 200, code)
	convID := e.ticketed(s.m.WidgetKey, email, "Where is my parcel?")
	require.Eventually(e.t, func() bool { return len(z.TicketsFor("baton-"+convID)) == 1 }, 10*time.Second, 20*time.Millisecond)
	return convID
}

func zendeskAt(z *helpdesktest.Zendesk) url.Values {
	return url.Values{"subdomain": {"fakeshop"}, "base_url": {z.URL()}}
}

// TestZendeskOAuthConnect: both ways of connecting Zendesk with OAuth, from
// REST: an OAuth client's credentials, and the browser's authorization
// code flow with PKCE, which only the browser that began it can finish,
// once, while the admin's session stands.
func TestZendeskOAuthConnect(t *testing.T) {
	e := newEnv(t, fastHelpdesk, withOperatorClient)
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "unused-api-token-0123")
	z.AddClient("shop_client", "client-secret-0123456789")
	z.AddClient(operatorClient, operatorSecret)
	s := e.shop("OAuth Shop")

	// (a) Client credentials.
	code, body := e.connect(s, "zendesk", map[string]any{"subdomain": "fakeshop", "auth": "oauth", "client_id": "shop_client",
		"client_secret": "wrong-secret", "base_url": z.URL()})
	require.Equal(t, 422, code, "%v", body)
	require.Equal(t, "integration_unverified", errCode(body))
	require.Contains(t, errMessage(body), "invalid_client")
	code, body = e.connect(s, "zendesk", map[string]any{"subdomain": "fakeshop", "auth": "oauth", "client_id": "shop_client",
		"client_secret": "client-secret-0123456789", "base_url": z.URL()})
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, "oauth", body["auth"])
	require.Equal(t, "client_credentials", body["grant"])
	require.Equal(t, "shop_client", body["client_id"])
	require.Equal(t, "********6789", body["client_secret"])
	require.Equal(t, "owner@zd.example", body["email"], "the user the token acts as")
	require.Equal(t, "connected", body["status"])
	code, body = e.do("GET", "/v1/admin/integrations", s.adminToken, nil)
	require.Equal(t, 200, code)
	shown, _ := json.Marshal(body)
	require.NotContains(t, string(shown), "client-secret-0123")
	grants := z.Grants()
	require.NotEmpty(t, grants)
	for _, g := range grants {
		if g.Status != 200 {
			continue
		}
		require.NotEmpty(t, g.Access)
		require.NotContains(t, string(shown), g.Access)
		require.NotContains(t, string(shown), g.NewRefresh)
	}
	require.Equal(t, true, body["zendesk"].(map[string]any)["connect_with_zendesk"])

	// Tickets go out with the bearer token.
	convID := e.handOffToZendesk(s, z, "vera@example.com")
	for _, r := range z.Requests() {
		if r.Path == "/api/v2/tickets.json" {
			require.Equal(t, "bearer", r.Auth)
		}
	}

	// (b) Connect with Zendesk, with the operator's client.
	b := e.adminBrowser()
	result, reason := b.connectWithZendesk(s.adminToken, z, zendeskAt(z))
	require.Equal(t, "connected", result, reason)
	code, body = e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "authorization_code", body["grant"])
	require.Equal(t, operatorClient, body["client_id"])
	require.Nil(t, body["client_secret"], "the operator's secret is not the merchant's")
	require.Equal(t, "owner@zd.example", body["email"])
	require.Equal(t, []string{e.srv.URL + "/v1/admin/integrations/zendesk/oauth/callback"}, z.RedirectURIs())
	convID = e.ticketed(s.m.WidgetKey, "walt@example.com", "Where is my parcel?")
	require.Eventually(t, func() bool { return len(z.TicketsFor("baton-"+convID)) == 1 }, 10*time.Second, 20*time.Millisecond)

	// The state works once.
	code, body = b.start(s.adminToken, zendeskAt(z))
	require.Equal(t, 200, code)
	back, err := z.Approve(body["url"].(string))
	require.NoError(t, err)
	result, _ = b.arrive(back)
	require.Equal(t, "connected", result)
	result, reason = b.arrive(back)
	require.Equal(t, "failed", result)
	require.Contains(t, reason, "already used")

	// Only the browser that began it can finish it.
	code, body = b.start(s.adminToken, zendeskAt(z))
	require.Equal(t, 200, code)
	back, err = z.Approve(body["url"].(string))
	require.NoError(t, err)
	result, reason = e.adminBrowser().arrive(back)
	require.Equal(t, "failed", result)
	require.Contains(t, reason, "another browser")

	// The code trades only with the verifier whose challenge Zendesk saw.
	code, body = b.start(s.adminToken, zendeskAt(z))
	require.Equal(t, 200, code)
	u, _ := url.Parse(body["url"].(string))
	q := u.Query()
	q.Set("code_challenge", strings.Repeat("A", 43))
	u.RawQuery = q.Encode()
	back, err = z.Approve(u.String())
	require.NoError(t, err)
	result, reason = b.arrive(back)
	require.Equal(t, "failed", result)
	require.Contains(t, reason, "code_verifier does not match")

	// Refused in Zendesk.
	code, body = b.start(s.adminToken, zendeskAt(z))
	require.Equal(t, 200, code)
	u, _ = url.Parse(body["url"].(string))
	deny := u.Query()
	cb, _ := url.Parse(deny.Get("redirect_uri"))
	cq := cb.Query()
	cq.Set("state", deny.Get("state"))
	cq.Set("error", "access_denied")
	cq.Set("error_description", "The end-user denied the request.")
	cb.RawQuery = cq.Encode()
	result, reason = b.arrive(cb.String())
	require.Equal(t, "failed", result)
	require.Equal(t, "Zendesk answered access_denied: The end-user denied the request.", reason)

	// The admin signed out meanwhile (which ends all their sessions): the
	// session that began it has ended.
	token := s.adminToken
	code, body = b.start(token, zendeskAt(z))
	require.Equal(t, 200, code)
	code, _ = e.do("POST", "/v1/auth/logout", token, nil)
	require.Equal(t, 204, code)
	back, err = z.Approve(body["url"].(string))
	require.NoError(t, err)
	result, reason = b.arrive(back)
	require.Equal(t, "failed", result)
	require.Contains(t, reason, "session that began this sign-in has ended")
	s.adminToken = e.login("oauthshop-admin@example.com", "admin-password")

	// Agents cannot start it; the merchant's own public client can be named.
	agent := e.addAgent(s, "ann@oauth.example", "Ann")
	code, _ = b.start(agent, zendeskAt(z))
	require.Equal(t, 403, code)
	z.AddClient("shop_public", "")
	own := zendeskAt(z)
	own.Set("client_id", "shop_public")
	result, reason = e.adminBrowser().connectWithZendesk(s.adminToken, z, own)
	require.Equal(t, "connected", result, reason)
	require.Empty(t, z.Problems())
	require.Equal(t, 0, z.Duplicates())
}

// TestZendeskOAuthUnavailable: without an operator client or one of the
// merchant's, "Connect with Zendesk" says so.
func TestZendeskOAuthUnavailable(t *testing.T) {
	e := newEnv(t)
	s := e.shop("Plain Shop")
	code, body := e.adminBrowser().start(s.adminToken, url.Values{"subdomain": {"plainshop"}})
	require.Equal(t, 422, code)
	require.Equal(t, "oauth_unavailable", errCode(body))
	code, body = e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, false, body["connect_with_zendesk"])
}

// TestZendeskOAuthWithTheMerchantsClient: on a Baton without a client of
// its own, a merchant connected with a confidential client's credentials
// can connect through the browser with that client: Baton sends its kept
// secret with the code, but only to the address it was given for.
func TestZendeskOAuthWithTheMerchantsClient(t *testing.T) {
	e := newEnv(t, fastHelpdesk)
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "unused-api-token-0123")
	other := helpdesktest.NewZendesk(t, "owner@zd.example", "unused-api-token-0123")
	const secret = "client-secret-0123456789"
	z.AddClient("shop_client", secret)
	other.AddClient("shop_client", secret)
	s := e.shop("Own Client Shop")
	code, body := e.connect(s, "zendesk", map[string]any{"subdomain": "fakeshop", "auth": "oauth", "client_id": "shop_client",
		"client_secret": secret, "base_url": z.URL()})
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, false, body["connect_with_zendesk"])

	for _, named := range []bool{false, true} {
		q := zendeskAt(z)
		if named {
			q.Set("client_id", "shop_client")
		}
		result, reason := e.adminBrowser().connectWithZendesk(s.adminToken, z, q)
		require.Equal(t, "connected", result, "client named: %v: %s", named, reason)
		code, body = e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
		require.Equal(t, 200, code)
		require.Equal(t, "authorization_code", body["grant"])
		require.Equal(t, "shop_client", body["client_id"])
		require.Equal(t, "********6789", body["client_secret"], "the secret is kept for the refreshes")
	}
	exchanges := 0
	for _, g := range z.Grants() {
		if g.GrantType == "authorization_code" {
			require.Equal(t, 200, g.Status, g.Error)
			exchanges++
		}
	}
	require.Equal(t, 2, exchanges)
	e.handOffToZendesk(s, z, "vera@example.com")

	// Another address: the saved client is not offered, and naming it
	// does not send its secret there.
	elsewhere := url.Values{"subdomain": {"fakeshop"}, "base_url": {other.URL()}}
	code, body = e.adminBrowser().start(s.adminToken, elsewhere)
	require.Equal(t, 422, code, "%v", body)
	require.Equal(t, "oauth_unavailable", errCode(body))
	elsewhere.Set("client_id", "shop_client")
	result, reason := e.adminBrowser().connectWithZendesk(s.adminToken, other, elsewhere)
	require.Equal(t, "failed", result)
	require.Contains(t, reason, "invalid_client")
	grants := other.Grants()
	require.Len(t, grants, 1)
	require.Equal(t, 401, grants[0].Status, "the kept secret went to another address")

	// Disconnected while the admin is at Zendesk: the secret is not
	// revived by the sign-in that began before.
	code, _ = e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "inbox"}})
	require.Equal(t, 200, code)
	b := e.adminBrowser()
	code, body = b.start(s.adminToken, zendeskAt(z))
	require.Equal(t, 200, code, "%v", body)
	authorize := body["url"].(string)
	code, body = e.do("DELETE", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, 200, code, "%v", body)
	back, err := z.Approve(authorize)
	require.NoError(t, err)
	result, reason = b.arrive(back)
	require.Equal(t, "failed", result)
	require.Contains(t, reason, "invalid_client")
	code, body = e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, false, body["connected"])
	require.Empty(t, z.Problems())
}

// mapResolver answers host names from a map, as DNS would.
type mapResolver map[string][]netip.Addr

func (m mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ips, ok := m[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestHelpdeskAddresses: a base_url outside the operator's allow-list is
// refused with nothing sent; a kept secret is never sent to a changed
// address, user or client; a subdomain whose name resolves to a loopback
// address is not connected to.
func TestHelpdeskAddresses(t *testing.T) {
	t.Run("base_url outside the allow-list", func(t *testing.T) {
		e := newEnv(t, withOperatorClient, func(c *appConfig) { c.HelpdeskBaseURLs = []string{"https://proxy.example/zd"} })
		z := helpdesktest.NewZendesk(t, "owner@zd.example", "zd-secret-token-0123")
		s := e.shop("Far Shop")
		code, body := e.connect(s, "zendesk", map[string]any{"subdomain": "farshop", "email": "owner@zd.example",
			"api_token": "zd-secret-token-0123", "base_url": z.URL()})
		require.Equal(t, 422, code, "%v", body)
		require.Equal(t, "base_url_not_allowed", errCode(body))
		code, body = e.adminBrowser().start(s.adminToken, zendeskAt(z))
		require.Equal(t, 422, code, "%v", body)
		require.Equal(t, "base_url_not_allowed", errCode(body))
		code, body = e.connect(s, "zendesk", map[string]any{"subdomain": "farshop", "email": "owner@zd.example",
			"api_token": "zd-secret-token-0123", "base_url": "https://proxy.example/zdx"})
		require.Equal(t, 422, code, "%v", body)
		require.Equal(t, "base_url_not_allowed", errCode(body))
		require.Empty(t, z.Requests(), "something was sent to an address the operator does not allow")
	})

	t.Run("a kept secret stays with its address", func(t *testing.T) {
		e := newEnv(t, fastHelpdesk)
		z := helpdesktest.NewZendesk(t, "owner@zd.example", "zd-secret-token-0123")
		other := helpdesktest.NewZendesk(t, "owner@zd.example", "zd-secret-token-0123")
		z.AddClient("shop_client", "client-secret-0123456789")
		s := e.shop("Kept Shop")
		good := map[string]any{"subdomain": "keptshop", "email": "owner@zd.example", "api_token": "zd-secret-token-0123", "base_url": z.URL()}
		code, body := e.connect(s, "zendesk", good)
		require.Equal(t, 200, code, "%v", body)
		for name, change := range map[string]map[string]any{
			"base_url":  {"subdomain": "keptshop", "email": "owner@zd.example", "base_url": other.URL()},
			"subdomain": {"subdomain": "othershop", "email": "owner@zd.example", "base_url": z.URL()},
			"email":     {"subdomain": "keptshop", "email": "someone@zd.example", "base_url": z.URL()},
			"auth":      {"subdomain": "keptshop", "auth": "oauth", "client_id": "shop_client", "base_url": z.URL()},
		} {
			code, body := e.connect(s, "zendesk", change)
			require.Equal(t, 422, code, "%s: %v", name, body)
			require.Equal(t, "secret_required", errCode(body), name)
		}
		require.Empty(t, other.Requests(), "the kept token went to another address")
		checks := len(z.Requests())
		code, body = e.connect(s, "zendesk", map[string]any{"subdomain": "keptshop", "email": "owner@zd.example", "base_url": z.URL()})
		require.Equal(t, 200, code, "%v", body)
		require.Greater(t, len(z.Requests()), checks, "the kept token is checked again")

		// An OAuth client's kept secret likewise.
		code, body = e.connect(s, "zendesk", map[string]any{"subdomain": "keptshop", "auth": "oauth", "client_id": "shop_client",
			"client_secret": "client-secret-0123456789", "base_url": z.URL()})
		require.Equal(t, 200, code, "%v", body)
		code, body = e.connect(s, "zendesk", map[string]any{"subdomain": "keptshop", "auth": "oauth", "client_id": "another_client", "base_url": z.URL()})
		require.Equal(t, 422, code, "%v", body)
		require.Equal(t, "secret_required", errCode(body))
		code, body = e.connect(s, "zendesk", map[string]any{"subdomain": "keptshop", "auth": "oauth", "client_id": "shop_client", "base_url": z.URL()})
		require.Equal(t, 200, code, "%v", body)
		require.Empty(t, other.Requests())
	})

	t.Run("a subdomain resolving to loopback", func(t *testing.T) {
		res := mapResolver{"evil.zendesk.com": {netip.MustParseAddr("127.0.0.1")},
			"meta.gorgias.com": {netip.MustParseAddr("169.254.169.254")}}
		e := newEnv(t, func(c *appConfig) { c.HelpdeskResolver = res })
		s := e.shop("Evil Shop")
		code, body := e.connect(s, "zendesk", map[string]any{"subdomain": "evil", "email": "owner@zd.example", "api_token": "zd-secret-token-0123"})
		require.Equal(t, 422, code, "%v", body)
		require.Equal(t, "helpdesk_unreachable", errCode(body))
		require.Contains(t, errMessage(body), "evil.zendesk.com: it resolves to 127.0.0.1 (a loopback address)")
		code, body = e.connect(s, "gorgias", map[string]any{"domain": "meta", "email": "owner@gg.example", "api_key": "gg-secret-key-4567"})
		require.Equal(t, 422, code, "%v", body)
		require.Contains(t, errMessage(body), "169.254.169.254 (a cloud metadata address)")
		code, body = e.connect(s, "zendesk", map[string]any{"subdomain": "evil.example.com", "email": "owner@zd.example", "api_token": "zd-secret-token-0123"})
		require.Equal(t, 400, code, "%v", body)
	})
}

// TestHelpdeskUserChecks: a light agent's or a suspended user's
// credentials are refused with the reason; so is a Gorgias observer.
func TestHelpdeskUserChecks(t *testing.T) {
	e := newEnv(t)
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "zd-secret-token-0123")
	g := helpdesktest.NewGorgias(t, "owner@gg.example", "gg-secret-key-4567")
	s := e.shop("Checked Shop")
	zd := map[string]any{"subdomain": "checkedshop", "email": "owner@zd.example", "api_token": "zd-secret-token-0123", "base_url": z.URL()}
	z.Role, z.RoleType, z.CustomRoleID = "agent", 1, 360007
	code, body := e.connect(s, "zendesk", zd)
	require.Equal(t, 422, code)
	require.Equal(t, "Zendesk did not accept these credentials: the user is a light agent (role_type 1, custom role 360007), who cannot make public comments; use a full agent or an admin",
		errMessage(body))
	z.RoleType, z.CustomRoleID, z.Suspended = nil, nil, true
	code, body = e.connect(s, "zendesk", zd)
	require.Equal(t, 422, code)
	require.Contains(t, errMessage(body), "the user owner@zd.example is suspended")
	z.Suspended = false
	code, body = e.connect(s, "zendesk", zd)
	require.Equal(t, 200, code, "%v", body)

	g.Role = "observer-agent"
	code, body = e.connect(s, "gorgias", map[string]any{"domain": "checkedshop", "email": "owner@gg.example", "api_key": "gg-secret-key-4567", "base_url": g.URL()})
	require.Equal(t, 422, code)
	require.Contains(t, errMessage(body), "is an observer, who cannot create tickets")
	code, body = e.do("GET", "/v1/admin/integrations/gorgias", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, false, body["connected"], "a refused check keeps nothing")
}

// TestDisconnectIntegration: DELETE removes an integration, but not while
// it is the handoff method.
func TestDisconnectIntegration(t *testing.T) {
	e := newEnv(t)
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "zd-secret-token-0123")
	s := e.shop("Leaving Shop")
	code, body := e.connect(s, "zendesk", map[string]any{"subdomain": "leavingshop", "email": "owner@zd.example",
		"api_token": "zd-secret-token-0123", "base_url": z.URL()})
	require.Equal(t, 200, code, "%v", body)
	code, _ = e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "zendesk"}})
	require.Equal(t, 200, code)
	code, body = e.do("DELETE", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, 422, code, "%v", body)
	require.Equal(t, "integration_in_use", errCode(body))
	code, _ = e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "inbox"}})
	require.Equal(t, 200, code)
	agent := e.addAgent(s, "al@leaving.example", "Al")
	code, _ = e.do("DELETE", "/v1/admin/integrations/zendesk", agent, nil)
	require.Equal(t, 403, code)
	// Another merchant's admin disconnects their own, not this one.
	other := e.shop("Other Shop")
	code, _ = e.do("DELETE", "/v1/admin/integrations/zendesk", other.adminToken, nil)
	require.Equal(t, 200, code)
	_, body = e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, true, body["connected"])
	code, body = e.do("DELETE", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, false, body["connected"])
	code, body = e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, false, body["connected"])
	code, body = e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "zendesk"}})
	require.Equal(t, 422, code)
	require.Equal(t, "integration_required", errCode(body))
	code, _ = e.do("DELETE", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, 200, code, "disconnecting twice is no error")
	code, _ = e.do("DELETE", "/v1/admin/integrations/freshdesk", s.adminToken, nil)
	require.Equal(t, 404, code)
}
