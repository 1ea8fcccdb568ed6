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
	HelpdeskHandoffs(ctx context.Context, merchantID, state string) ([]*session.HelpdeskHandoff, error)
	HelpdeskHandoff(ctx context.Context, merchantID, convID string) (*session.HelpdeskHandoff, error)
	RetryHandoff(ctx context.Context, merchantID, convID string) (*session.HelpdeskHandoff, error)
}

// Helpdesks checks a helpdesk's credentials before an integration is kept.
// cmd/baton provides it (package gateway/helpdesk speaks the HTTP).
type Helpdesks interface {
	Verify(ctx context.Context, method session.HandoffMethod, acc session.HelpdeskAccount) error
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
	}
	admin.GET("/handoffs", c.listHandoffs)
	admin.GET("/handoffs/:id", c.getHandoff)
	admin.POST("/handoffs/:id/retry", c.retryHandoff)
}

// integrationJSON shows an integration with its secret masked: the secret
// never leaves the server.
func integrationJSON(m session.HandoffMethod, acc *session.HelpdeskAccount) gin.H {
	if acc == nil {
		return gin.H{"provider": m, "connected": false}
	}
	site, secret := "subdomain", "api_token"
	if m == session.MethodGorgias {
		site, secret = "domain", "api_key"
	}
	out := gin.H{"provider": m, "connected": true, site: acc.Site, "email": acc.Email,
		secret: acc.MaskedSecret(), "verified_at": acc.VerifiedAt}
	if acc.BaseURL != "" {
		out["base_url"] = acc.BaseURL
	}
	return out
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
	g.JSON(http.StatusOK, gin.H{
		"zendesk": integrationJSON(session.MethodZendesk, m.Integrations.Zendesk),
		"gorgias": integrationJSON(session.MethodGorgias, m.Integrations.Gorgias),
	})
}

func (c *Console) getIntegration(method session.HandoffMethod) gin.HandlerFunc {
	return func(g *gin.Context) {
		m, ok := c.merchantFrom(g, c.desks)
		if !ok {
			return
		}
		g.JSON(http.StatusOK, integrationJSON(method, accountOf(m, method)))
	}
}

// integrationBody is a PUT body: Zendesk names the site "subdomain" and the
// secret "api_token", Gorgias "domain" and "api_key".
type integrationBody struct {
	Subdomain string `json:"subdomain"`
	Domain    string `json:"domain"`
	Email     string `json:"email"`
	APIToken  string `json:"api_token"`
	APIKey    string `json:"api_key"`
	BaseURL   string `json:"base_url"`
}

func (c *Console) putIntegration(method session.HandoffMethod) gin.HandlerFunc {
	return func(g *gin.Context) {
		var in integrationBody
		if !bind(g, &in) {
			return
		}
		acc := session.HelpdeskAccount{Site: in.Subdomain, Email: in.Email, Secret: in.APIToken, BaseURL: in.BaseURL}
		if method == session.MethodGorgias {
			acc.Site, acc.Secret = in.Domain, in.APIKey
		}
		m, ok := c.merchantFrom(g, c.desks)
		if !ok {
			return
		}
		if prev := accountOf(m, method); acc.Secret == "" && prev != nil {
			// The console never sees the secret, so an admin changing the
			// address or email leaves it out; it is checked again anyway.
			acc.Secret = prev.Secret
		}
		if err := acc.Validate(method); err != nil {
			c.fail(g, err)
			return
		}
		if c.helpdesks == nil {
			rest.Fail(g, http.StatusServiceUnavailable, "unavailable", "helpdesk integrations are not available on this server")
			return
		}
		ctx, cancel := context.WithTimeout(g.Request.Context(), verifyTimeout)
		defer cancel()
		if err := c.helpdesks.Verify(ctx, method, acc); err != nil {
			c.fail(g, err)
			return
		}
		out, err := c.desks.SetIntegration(ctx, m.ID, method, &acc)
		if err != nil {
			c.fail(g, err)
			return
		}
		g.JSON(http.StatusOK, integrationJSON(method, out))
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
