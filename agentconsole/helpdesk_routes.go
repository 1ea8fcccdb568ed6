package agentconsole

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/gateway/rest"
	"github.com/batonchat/baton/session"
)

// helpdeskStore is what the integration and handoff routes need.
type helpdeskStore interface {
	Merchant(ctx context.Context, id string) (*session.Merchant, error)
	SetIntegration(ctx context.Context, merchantID string, method session.HandoffMethod, acc *session.HelpdeskAccount) (*session.HelpdeskAccount, error)
	DeleteIntegration(ctx context.Context, merchantID string, method session.HandoffMethod) error
	IntegrationState(ctx context.Context, m *session.Merchant, method session.HandoffMethod) (session.IntegrationState, error)
	BeginOAuth(ctx context.Context, in session.OAuthSignIn, ttl time.Duration) (string, error)
	TakeOAuth(ctx context.Context, state string) (*session.OAuthSignIn, error)
	HelpdeskHandoffs(ctx context.Context, merchantID, state string) ([]*session.HelpdeskHandoff, error)
	HelpdeskHandoff(ctx context.Context, merchantID, convID string) (*session.HelpdeskHandoff, error)
	RetryHandoff(ctx context.Context, merchantID, convID string) (*session.HelpdeskHandoff, error)
}

// Helpdesks speaks to the helpdesks for the integration routes: it checks
// credentials before an integration is kept, and runs Zendesk's OAuth.
// cmd/baton provides it (package gateway/helpdesk speaks the HTTP).
type Helpdesks interface {
	// Verify checks an account and returns it as verified (with its first
	// OAuth token, and the user the token acts as).
	Verify(ctx context.Context, method session.HandoffMethod, acc session.HelpdeskAccount) (session.HelpdeskAccount, error)
	// CheckAddress refuses a base_url the operator does not allow.
	CheckAddress(method session.HandoffMethod, acc session.HelpdeskAccount) error
	AuthorizationURL(acc session.HelpdeskAccount, redirectURI, state, challenge string) (string, error)
	ExchangeCode(ctx context.Context, acc session.HelpdeskAccount, code, verifier, redirectURI string) (session.HelpdeskAccount, error)
	// OperatorClient is the operator's own Zendesk OAuth client id, "" if
	// there is none.
	OperatorClient() string
}

// WithHelpdesks lets admins connect helpdesks; without it the integration
// routes answer 503.
func (c *Console) WithHelpdesks(h Helpdesks) *Console {
	c.helpdesks = h
	return c
}

// verifyTimeout bounds a credential check: the helpdesk's own timeout, and
// then some.
const verifyTimeout = 30 * time.Second

func (c *Console) registerHelpdesk(admin gin.IRouter) {
	admin.GET("/integrations", c.getIntegrations)
	for _, m := range []session.HandoffMethod{session.MethodZendesk, session.MethodGorgias} {
		admin.GET("/integrations/"+string(m), c.getIntegration(m))
		admin.PUT("/integrations/"+string(m), c.putIntegration(m))
		admin.DELETE("/integrations/"+string(m), c.deleteIntegration(m))
	}
	admin.GET("/integrations/zendesk/oauth/start", c.oauthStart)
	admin.GET("/handoffs", c.listHandoffs)
	admin.GET("/handoffs/:id", c.getHandoff)
	admin.POST("/handoffs/:id/retry", c.retryHandoff)
}

// integrationJSON shows an integration with its secret masked: the secret
// never leaves the server, nor do OAuth tokens.
func (c *Console) integrationJSON(m session.HandoffMethod, acc *session.HelpdeskAccount, st session.IntegrationState) gin.H {
	out := gin.H{"provider": m, "connected": acc != nil, "status": session.IntegrationNotConnected}
	if m == session.MethodZendesk {
		// Whether "Connect with Zendesk" works without a client of the
		// merchant's own.
		out["connect_with_zendesk"] = c.helpdesks != nil && c.helpdesks.OperatorClient() != ""
	}
	if acc == nil {
		return out
	}
	site, secret := "subdomain", "api_token"
	if m == session.MethodGorgias {
		site, secret = "domain", "api_key"
	}
	out["status"] = st.Status
	out[site] = acc.Site
	out["email"] = acc.Email
	out["verified_at"] = acc.VerifiedAt
	switch acc.Auth {
	case session.AuthAPIToken:
		out["auth"] = secret
		out[secret] = acc.MaskedSecret()
		if m == session.MethodZendesk {
			out["api_token_ends"] = session.ZendeskAPITokensEnd.Format(time.DateOnly)
		}
	default:
		out["auth"] = "oauth"
		out["grant"] = acc.Auth
		out["client_id"] = acc.ClientID
		if acc.Secret != "" || acc.SecretHint != "" {
			out["client_secret"] = acc.MaskedSecret()
		}
	}
	if acc.BaseURL != "" {
		out["base_url"] = acc.BaseURL
	}
	if st.Status == session.IntegrationNeedsReconnect {
		out["reason"] = st.Reason
		if !st.Since.IsZero() {
			out["since"] = session.Time{Time: st.Since}
		}
	}
	return out
}

// integration shows one of the merchant's integrations as it stands now.
func (c *Console) integration(ctx context.Context, m *session.Merchant, method session.HandoffMethod) (gin.H, error) {
	acc := accountOf(m, method)
	st, err := c.desks.IntegrationState(ctx, m, method)
	if err != nil {
		return nil, err
	}
	return c.integrationJSON(method, acc, st), nil
}

func accountOf(m *session.Merchant, method session.HandoffMethod) *session.HelpdeskAccount {
	if method == session.MethodGorgias {
		return m.Integrations.Gorgias
	}
	return m.Integrations.Zendesk
}

func (c *Console) getIntegrations(g *gin.Context) {
	m, ok := c.merchantFrom(g, c.desks)
	if !ok {
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	out := gin.H{}
	for _, method := range []session.HandoffMethod{session.MethodZendesk, session.MethodGorgias} {
		v, err := c.integration(ctx, m, method)
		if err != nil {
			c.fail(g, err)
			return
		}
		out[string(method)] = v
	}
	g.JSON(http.StatusOK, out)
}

func (c *Console) getIntegration(method session.HandoffMethod) gin.HandlerFunc {
	return func(g *gin.Context) {
		m, ok := c.merchantFrom(g, c.desks)
		if !ok {
			return
		}
		ctx, cancel := ctxOf(g)
		defer cancel()
		v, err := c.integration(ctx, m, method)
		if err != nil {
			c.fail(g, err)
			return
		}
		g.JSON(http.StatusOK, v)
	}
}

// integrationBody is a PUT body: Zendesk names the site "subdomain" and the
// secret "api_token" (or, with auth "oauth", an OAuth client's client_id
// and client_secret), Gorgias "domain" and "api_key".
type integrationBody struct {
	Subdomain    string `json:"subdomain"`
	Domain       string `json:"domain"`
	Auth         string `json:"auth"`
	Email        string `json:"email"`
	APIToken     string `json:"api_token"`
	APIKey       string `json:"api_key"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	BaseURL      string `json:"base_url"`
}

func (in *integrationBody) account(method session.HandoffMethod) (session.HelpdeskAccount, error) {
	acc := session.HelpdeskAccount{Site: in.Subdomain, Email: in.Email, Secret: in.APIToken, BaseURL: in.BaseURL}
	if method == session.MethodGorgias {
		acc.Site, acc.Secret = in.Domain, in.APIKey
	}
	switch in.Auth {
	case "", "api_token", "api_key":
	case "oauth":
		if method != session.MethodZendesk {
			return acc, &session.Error{Kind: session.KindInvalid, Code: "invalid_integration", Message: "Gorgias connects with an API key: OAuth is for Zendesk"}
		}
		acc.Auth, acc.ClientID, acc.Secret, acc.Email = session.AuthClientCredentials, in.ClientID, in.ClientSecret, ""
	default:
		return acc, &session.Error{Kind: session.KindInvalid, Code: "invalid_integration", Message: `auth must be "oauth", or left out for an API token`}
	}
	return acc, nil
}

func (c *Console) putIntegration(method session.HandoffMethod) gin.HandlerFunc {
	return func(g *gin.Context) {
		var in integrationBody
		if !bind(g, &in) {
			return
		}
		acc, err := in.account(method)
		if err != nil {
			c.fail(g, err)
			return
		}
		m, ok := c.merchantFrom(g, c.desks)
		if !ok {
			return
		}
		// The console never sees the secret, so an admin who changes
		// nothing else leaves it out; it is checked again anyway. It is
		// never sent to a changed address or user.
		if err := acc.KeepSecret(method, accountOf(m, method)); err != nil {
			c.fail(g, err)
			return
		}
		if err := acc.Validate(method); err != nil {
			c.fail(g, err)
			return
		}
		if c.helpdesks == nil {
			rest.Fail(g, http.StatusServiceUnavailable, "unavailable", "helpdesk integrations are not available on this server")
			return
		}
		if err := c.helpdesks.CheckAddress(method, acc); err != nil {
			c.fail(g, err)
			return
		}
		ctx, cancel := context.WithTimeout(g.Request.Context(), verifyTimeout)
		defer cancel()
		acc, err = c.helpdesks.Verify(ctx, method, acc)
		if err != nil {
			c.fail(g, err)
			return
		}
		out, err := c.desks.SetIntegration(ctx, m.ID, method, &acc)
		if err != nil {
			c.fail(g, err)
			return
		}
		g.JSON(http.StatusOK, c.integrationJSON(method, out, session.IntegrationState{Status: session.IntegrationConnected}))
	}
}

// deleteIntegration disconnects a helpdesk (422 integration_in_use while it
// is the handoff method).
func (c *Console) deleteIntegration(method session.HandoffMethod) gin.HandlerFunc {
	return func(g *gin.Context) {
		ctx, cancel := ctxOf(g)
		defer cancel()
		if err := c.desks.DeleteIntegration(ctx, actorOf(g).MerchantID, method); err != nil {
			c.fail(g, err)
			return
		}
		g.JSON(http.StatusOK, c.integrationJSON(method, nil, session.IntegrationState{}))
	}
}

func (c *Console) listHandoffs(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	hs, err := c.desks.HelpdeskHandoffs(ctx, actorOf(g).MerchantID, g.Query("state"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"handoffs": hs})
}

func (c *Console) getHandoff(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	h, err := c.desks.HelpdeskHandoff(ctx, actorOf(g).MerchantID, g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"handoff": h})
}

func (c *Console) retryHandoff(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	h, err := c.desks.RetryHandoff(ctx, actorOf(g).MerchantID, g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"handoff": h})
}
