package helpdesk_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/helpdesk"
	"github.com/batonchat/baton/gateway/helpdesk/helpdesktest"
	"github.com/batonchat/baton/session"
)

// TestZendeskUserChecks: only a full agent or an admin who is not
// suspended and may make public comments can make Baton's tickets; a
// refusal says which check failed.
func TestZendeskUserChecks(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	c := client(2 * time.Second)
	for _, tc := range []struct {
		name      string
		set       func()
		refusedBy string // "" when accepted
	}{
		{"admin", func() {}, ""},
		{"agent", func() { z.Role = "agent" }, ""},
		{"custom agent role", func() { z.Role, z.RoleType, z.CustomRoleID = "agent", 0, 360001 }, ""},
		{"admin role type", func() { z.Role, z.RoleType = "admin", "4" }, ""},
		{"end-user", func() { z.Role = "end-user" }, `the user's role is "end-user"`},
		{"suspended", func() { z.Suspended = true }, "is suspended"},
		{"light agent", func() { z.Role, z.RoleType, z.CustomRoleID = "agent", 1, 360002 }, "light agent (role_type 1, custom role 360002), who cannot make public comments"},
		{"light agent as a string", func() { z.Role, z.RoleType = "agent", "1" }, "light agent"},
		{"contributor", func() { z.Role, z.RoleType = "agent", 3 }, "contributor (role_type 3), who cannot make public comments"},
		{"chat-only agent", func() { z.Role, z.RoleType = "agent", 2 }, "chat-only agent"},
		{"private comments only", func() { z.Role, z.OnlyPrivateComments = "agent", true }, "only make private comments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z.Role, z.RoleType, z.CustomRoleID, z.Suspended, z.OnlyPrivateComments = "admin", nil, nil, false, false
			tc.set()
			err := verify(context.Background(), c, session.MethodZendesk, z.Account())
			if tc.refusedBy == "" {
				require.NoError(t, err)
				return
			}
			e := session.ErrorOf(err)
			require.Equal(t, "integration_unverified", e.Code)
			require.Contains(t, e.Message, tc.refusedBy)
		})
	}
}

func TestGorgiasUserChecks(t *testing.T) {
	g := helpdesktest.NewGorgias(t, "owner@shop.example", "gg-key-123")
	c := client(2 * time.Second)
	for _, tc := range []struct {
		role      string
		active    bool
		refusedBy string
	}{
		{"admin", true, ""},
		{"agent", true, ""},
		{"basic-agent", true, ""},
		{"lite-agent", true, ""},
		{"observer-agent", true, "is an observer, who cannot create tickets"},
		{"bot", true, `has the role "bot", which cannot create tickets`},
		{"admin", false, "is not active"},
	} {
		g.Role, g.Active = tc.role, tc.active
		err := verify(context.Background(), c, session.MethodGorgias, g.Account())
		if tc.refusedBy == "" {
			require.NoError(t, err, tc.role)
			continue
		}
		require.Contains(t, session.ErrorOf(err).Message, tc.refusedBy, tc.role)
	}
}

// TestGorgiasConflictIsARefusal: Gorgias has no idempotency keys, so its
// 409 is not Zendesk's "still in progress": not retried as a ticket that
// may exist.
func TestGorgiasConflictIsARefusal(t *testing.T) {
	g := helpdesktest.NewGorgias(t, "owner@shop.example", "gg-key-123")
	g.SetPlan(func(string, int) helpdesktest.Fault {
		return helpdesktest.Fault{Status: 409, Body: `{"error":{"msg":"Conflict: the customer is being merged"}}`}
	})
	_, err := client(2*time.Second).SendTicket(context.Background(), request(t, session.MethodGorgias, g.Account(), "c_409"))
	var te *session.TicketError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Permanent)
	require.False(t, te.MayExist)
	require.Contains(t, te.Reason, "the customer is being merged")

	// Zendesk's 409 is its idempotency key in progress: it may exist.
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	z.SetPlan(func(string, int) helpdesktest.Fault { return helpdesktest.Fault{Status: 409} })
	_, err = client(2*time.Second).SendTicket(context.Background(), request(t, session.MethodZendesk, z.Account(), "c_409"))
	require.ErrorAs(t, err, &te)
	require.True(t, te.MayExist)
}

// TestErrorBodies: what an admin reads of a refusal comes from the
// helpdesk's error fields, never from a body that is not one.
func TestErrorBodies(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	c := client(2 * time.Second)
	z.SetPlan(func(string, int) helpdesktest.Fault {
		return helpdesktest.Fault{Status: 422, Body: `{"error":"RecordInvalid","description":"Record validation errors",` +
			`"details":{"requester":[{"description":"Requester email is invalid"}]}}`}
	})
	_, err := c.SendTicket(context.Background(), request(t, session.MethodZendesk, z.Account(), "c_422"))
	var te *session.TicketError
	require.ErrorAs(t, err, &te)
	require.Equal(t, "zendesk answered 422: RecordInvalid; Record validation errors; Requester email is invalid", te.Reason)

	z.SetPlan(func(string, int) helpdesktest.Fault {
		return helpdesktest.Fault{Status: 400, Body: `<html><body>internal admin page, token=abc</body></html>`}
	})
	_, err = c.SendTicket(context.Background(), request(t, session.MethodZendesk, z.Account(), "c_400"))
	require.ErrorAs(t, err, &te)
	require.Equal(t, "zendesk answered 400: Bad Request", te.Reason)
}

// TestBaseURLOutsideAllowList: nothing is sent to a base_url the operator
// does not allow: no check, no ticket.
func TestBaseURLOutsideAllowList(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	c := must(helpdesk.New(helpdesk.Options{Timeout: time.Second, AllowedBaseURLs: []string{"https://proxy.example/zd"}}))
	e := session.ErrorOf(verify(context.Background(), c, session.MethodZendesk, z.Account()))
	require.Equal(t, "base_url_not_allowed", e.Code)
	require.Equal(t, session.KindRefused, e.Kind)
	_, err := c.SendTicket(context.Background(), request(t, session.MethodZendesk, z.Account(), "c_far"))
	var te *session.TicketError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Permanent)
	require.Contains(t, te.Reason, "not among the addresses this Baton allows")
	_, err = c.AuthorizationURL(z.Account(), "https://baton.example/cb", "s", "c")
	require.Equal(t, "base_url_not_allowed", session.ErrorOf(err).Code)
	require.Empty(t, z.Requests(), "something was sent to an address the operator does not allow")
}

// TestClientCredentials: an OAuth client's id and secret get a token
// (client credentials grant) that the check and tickets then use as a
// bearer token; a wrong secret is refused with Zendesk's reason.
func TestClientCredentials(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	z.AddClient("baton_shop", "cc-secret-0123456789")
	c := client(2 * time.Second)
	ctx := context.Background()

	bad := z.OAuthAccount("baton_shop", "wrong")
	_, err := c.Verify(ctx, session.MethodZendesk, bad)
	e := session.ErrorOf(err)
	require.Equal(t, "integration_unverified", e.Code)
	require.Contains(t, e.Message, "invalid_client")

	acc, err := c.Verify(ctx, session.MethodZendesk, z.OAuthAccount("baton_shop", "cc-secret-0123456789"))
	require.NoError(t, err)
	require.NotNil(t, acc.Token)
	require.NotEmpty(t, acc.Token.Access)
	require.NotEmpty(t, acc.Token.Refresh)
	require.Equal(t, "owner@shop.example", acc.Email, "the user the token acts as")
	require.WithinDuration(t, time.Now().Add(30*time.Minute), acc.Token.Expires, 5*time.Second)

	acc.AccessToken = acc.Token.Access
	_, err = c.SendTicket(ctx, request(t, session.MethodZendesk, acc, "c_cc"))
	require.NoError(t, err)
	reqs := z.Requests()
	last := reqs[len(reqs)-1]
	require.Equal(t, "/api/v2/tickets.json", last.Path)
	require.Equal(t, "bearer", last.Auth)
	grants := z.Grants()
	require.Equal(t, "client_credentials", grants[len(grants)-1].GrantType)
	require.Empty(t, z.Problems())
}

// TestRefreshRotates: a refresh replaces the pair; the old access token
// is refused (Unauthorized, so the outbox renews) and the old refresh
// token is invalid_grant, a refusal for good.
func TestRefreshRotates(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	z.AddClient("baton_shop", "cc-secret-0123456789")
	c := client(2 * time.Second)
	ctx := context.Background()
	acc, err := c.Verify(ctx, session.MethodZendesk, z.OAuthAccount("baton_shop", "cc-secret-0123456789"))
	require.NoError(t, err)
	first := *acc.Token
	acc.Auth = session.AuthCode // no client-credentials fallback: the family is all there is
	next, err := c.RenewToken(ctx, session.MethodZendesk, acc, first)
	require.NoError(t, err)
	require.NotEqual(t, first.Access, next.Access)
	require.NotEqual(t, first.Refresh, next.Refresh)

	acc.AccessToken = first.Access
	_, err = c.SendTicket(ctx, request(t, session.MethodZendesk, acc, "c_old"))
	var te *session.TicketError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Unauthorized)
	require.Contains(t, te.Reason, "invalid_token")
	require.Empty(t, z.TicketsFor("baton-c_old"))

	_, err = c.RenewToken(ctx, session.MethodZendesk, acc, first)
	var ge *session.GrantError
	require.ErrorAs(t, err, &ge)
	require.Contains(t, ge.Reason, "invalid_grant")
	require.Equal(t, 2, z.RefreshesPerPair()[first.Refresh])
	require.Len(t, z.Problems(), 1, "the fake notices a pair refreshed twice")

	// A client-credentials connection starts a new family instead.
	acc.Auth = session.AuthClientCredentials
	again, err := c.RenewToken(ctx, session.MethodZendesk, acc, first)
	require.NoError(t, err)
	require.NotEmpty(t, again.Access)
	z.DisableClient("baton_shop")
	_, err = c.RenewToken(ctx, session.MethodZendesk, acc, again)
	require.ErrorAs(t, err, &ge)
	require.Contains(t, ge.Reason, "invalid_client")
}

func challengeOf(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// TestAuthorizationCodeWithPKCE: the authorization URL asks for a code
// with an S256 challenge; the code is traded only with the verifier whose
// challenge it was, once.
func TestAuthorizationCodeWithPKCE(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	z.AddClient("baton_public", "") // a public client: PKCE, no secret
	c := client(2 * time.Second)
	ctx := context.Background()
	acc := session.HelpdeskAccount{Site: "fakeshop", Auth: session.AuthCode, ClientID: "baton_public", BaseURL: z.URL()}
	const redirect = "https://baton.example/v1/admin/integrations/zendesk/oauth/callback"
	verifier := strings.Repeat("v", 43)

	code := func(challenge string) string {
		u, err := c.AuthorizationURL(acc, redirect, "state-1", challenge)
		require.NoError(t, err)
		pu, _ := url.Parse(u)
		require.Equal(t, z.URL()+"/oauth/authorizations/new", pu.Scheme+"://"+pu.Host+pu.Path)
		require.Equal(t, "S256", pu.Query().Get("code_challenge_method"))
		require.Equal(t, helpdesk.ZendeskScope, pu.Query().Get("scope"))
		back, err := z.Approve(u)
		require.NoError(t, err)
		bu, _ := url.Parse(back)
		require.Equal(t, "state-1", bu.Query().Get("state"))
		return bu.Query().Get("code")
	}

	// A code made for another challenge does not trade for this verifier.
	_, err := c.ExchangeCode(ctx, acc, code(challengeOf("another-verifier-0123456789-0123456789-abcd")), verifier, redirect)
	require.Contains(t, session.ErrorOf(err).Message, "code_verifier does not match")

	good := code(challengeOf(verifier))
	_, err = c.ExchangeCode(ctx, acc, good, verifier, redirect+"x")
	require.Contains(t, session.ErrorOf(err).Message, "redirect_uri does not match")
	good = code(challengeOf(verifier))
	got, err := c.ExchangeCode(ctx, acc, good, verifier, redirect)
	require.NoError(t, err)
	require.NotEmpty(t, got.Token.Access)
	got, err = c.Verify(ctx, session.MethodZendesk, got)
	require.NoError(t, err)
	require.Equal(t, "owner@shop.example", got.Email)
	_, err = c.ExchangeCode(ctx, acc, good, verifier, redirect)
	require.Contains(t, session.ErrorOf(err).Message, "already used")
	require.Empty(t, z.Problems())
	var ge *session.GrantError
	require.False(t, errors.As(err, &ge), "a refused code is the admin's to retry, not a grant error")
}
