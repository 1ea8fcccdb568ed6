package agentconsole

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/gateway/rest"
	"github.com/batonchat/baton/session"
)

// "Connect with Zendesk": the authorization code flow with PKCE.
//
//  1. The console asks GET /v1/admin/integrations/zendesk/oauth/start
//     (with the admin's bearer token) and is answered the authorization
//     URL. Baton keeps the sign-in under a random state (session.BeginOAuth:
//     sealed, for ten minutes, one use) bound to the merchant, to the
//     admin's session and, by a cookie, to the admin's browser.
//  2. The browser goes to Zendesk, where the admin allows Baton.
//  3. Zendesk sends the browser to the callback with the code and state.
//     The callback carries no bearer token (the browser navigates to it):
//     the state says who began it, the cookie that it is the same browser
//     (so nobody can make an admin finish a sign-in someone else began),
//     and the admin's session must still stand. Baton trades the code and
//     the verifier for tokens, checks the user, keeps the integration and
//     sends the browser back to the console's settings with the result.

const (
	oauthTTL    = 10 * time.Minute
	oauthPath   = "/v1/admin/integrations/zendesk/oauth"
	oauthCookie = "baton_oauth"
)

// WithPublicURL sets the address Baton is reached at (BATON_PUBLIC_URL),
// for the OAuth redirect_uri; without it the callback's address is taken
// from the request that starts the sign-in.
func (c *Console) WithPublicURL(u string) *Console {
	c.publicURL = strings.TrimRight(u, "/")
	return c
}

// registerOAuthCallback adds the callback, outside the admin routes: the
// browser that arrives there carries no bearer token.
func (c *Console) registerOAuthCallback(r gin.IRouter) {
	r.GET(oauthPath+"/callback", c.oauthCallback)
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashed(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// redirectURI is the callback's absolute address.
func (c *Console) redirectURI(r *http.Request) string {
	if c.publicURL != "" {
		return c.publicURL + oauthPath + "/callback"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + oauthPath + "/callback"
}

// oauthStart begins "Connect with Zendesk": ?subdomain= (and base_url=,
// and client_id= for a client of the merchant's own instead of the
// operator's) → {"url": the authorization URL, "expires_at"}. Without
// either, the client of the merchant's connection to the same address is
// used (the callback adds its secret): a confidential client connected
// with its credentials can then be connected through the browser too.
func (c *Console) oauthStart(g *gin.Context) {
	if c.helpdesks == nil {
		rest.Fail(g, http.StatusServiceUnavailable, "unavailable", "helpdesk integrations are not available on this server")
		return
	}
	m, ok := c.merchantFrom(g, c.desks)
	if !ok {
		return
	}
	acc := session.HelpdeskAccount{Site: g.Query("subdomain"), BaseURL: g.Query("base_url"), Auth: session.AuthCode,
		ClientID: g.Query("client_id")}
	if !acc.BrowserClient(c.helpdesks.OperatorClient(), m.Integrations.Zendesk) {
		rest.Fail(g, http.StatusUnprocessableEntity, "oauth_unavailable",
			"this Baton has no Zendesk OAuth client of its own (BATON_ZENDESK_CLIENT_ID): give your OAuth client's client_id, or connect with an OAuth client's id and secret")
		return
	}
	if err := acc.Validate(session.MethodZendesk); err != nil {
		c.fail(g, err)
		return
	}
	if err := c.helpdesks.CheckAddress(session.MethodZendesk, acc); err != nil {
		c.fail(g, err)
		return
	}
	v, _ := g.Get(verifiedKey)
	tok, _ := v.(Verified)
	a := actorOf(g)
	verifier := randomString(32) // 43 characters, RFC 7636's minimum
	challenge := sha256.Sum256([]byte(verifier))
	browser := randomString(24)
	redirect := c.redirectURI(g.Request)
	ctx, cancel := ctxOf(g)
	defer cancel()
	state, err := c.desks.BeginOAuth(ctx, session.OAuthSignIn{MerchantID: a.MerchantID, Provider: session.MethodZendesk,
		AgentID: a.ID, TokenVersion: tok.Version, TokenID: tok.ID, Browser: hashed(browser), Account: acc,
		Verifier: verifier, RedirectURI: redirect}, oauthTTL)
	if err != nil {
		c.fail(g, err)
		return
	}
	u, err := c.helpdesks.AuthorizationURL(acc, redirect, state, base64.RawURLEncoding.EncodeToString(challenge[:]))
	if err != nil {
		c.fail(g, err)
		return
	}
	http.SetCookie(g.Writer, &http.Cookie{Name: oauthCookie, Value: browser, Path: oauthPath, MaxAge: int(oauthTTL.Seconds()),
		HttpOnly: true, Secure: strings.HasPrefix(redirect, "https:"), SameSite: http.SameSiteLaxMode})
	g.JSON(http.StatusOK, gin.H{"url": u, "expires_at": session.Time{Time: time.Now().Add(oauthTTL)}})
}

// oauthCallback finishes "Connect with Zendesk" and sends the browser back
// to the console's settings: ?zendesk=connected, or ?zendesk=failed with
// the reason.
func (c *Console) oauthCallback(g *gin.Context) {
	// The cookie has done its work, whatever happens next.
	http.SetCookie(g.Writer, &http.Cookie{Name: oauthCookie, Value: "", Path: oauthPath, MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode})
	g.Header("Cache-Control", "no-store")
	g.Header("Referrer-Policy", "no-referrer")
	back := func(result, reason string) {
		q := url.Values{"zendesk": {result}}
		if reason != "" {
			if r, cut := session.Clip(reason, 400); cut {
				reason = r + "…"
			}
			q.Set("reason", reason)
		}
		g.Redirect(http.StatusSeeOther, "/console/?"+q.Encode()+"#settings")
	}
	if c.helpdesks == nil {
		back("failed", "helpdesk integrations are not available on this server")
		return
	}
	ctx, cancel := context.WithTimeout(g.Request.Context(), verifyTimeout)
	defer cancel()
	si, err := c.desks.TakeOAuth(ctx, g.Query("state"))
	if err != nil {
		back("failed", session.ErrorOf(err).Message)
		return
	}
	cookie, _ := g.Cookie(oauthCookie)
	if cookie == "" || subtle.ConstantTimeCompare([]byte(hashed(cookie)), []byte(si.Browser)) != 1 {
		back("failed", "this sign-in was begun in another browser (or its cookie was refused); start it again from this one")
		return
	}
	actor, err := c.auth.Authorize(ctx, session.Actor{ID: si.AgentID, MerchantID: si.MerchantID}, si.TokenVersion)
	if err != nil || !actor.Admin {
		back("failed", "the admin session that began this sign-in has ended; sign in to Baton and start again")
		return
	}
	if e := g.Query("error"); e != "" {
		reason := "Zendesk answered " + e
		if d := g.Query("error_description"); d != "" {
			reason += ": " + d
		}
		back("failed", reason)
		return
	}
	code := g.Query("code")
	if code == "" || len(code) > 1024 {
		back("failed", "Zendesk sent no authorization code")
		return
	}
	m, err := c.desks.Merchant(ctx, si.MerchantID)
	if err != nil {
		back("failed", session.ErrorOf(err).Message)
		return
	}
	// The secret is looked up now, from the connection as it is: one
	// rotated or disconnected since the sign-in began is not revived.
	acc := si.Account
	acc.SavedSecret(m.Integrations.Zendesk)
	acc, err = c.helpdesks.ExchangeCode(ctx, acc, code, si.Verifier, si.RedirectURI)
	if err == nil {
		acc, err = c.helpdesks.Verify(ctx, session.MethodZendesk, acc)
	}
	if err == nil {
		_, err = c.desks.SetIntegration(ctx, si.MerchantID, session.MethodZendesk, &acc)
	}
	if err != nil {
		e := session.ErrorOf(err)
		if e.Kind == session.KindInternal || e.Kind == session.KindUnavailable {
			c.log.Error("connecting Zendesk failed", "merchant", si.MerchantID, "err", err)
		}
		back("failed", e.Message)
		return
	}
	c.log.Info("Zendesk connected with OAuth", "merchant", si.MerchantID, "agent", si.AgentID)
	back("connected", "")
}
