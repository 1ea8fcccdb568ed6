package agentconsole

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/session"
)

// webhookStore is what the webhook routes need.
type webhookStore interface {
	Webhooks(ctx context.Context, merchantID string) ([]session.WebhookEndpoint, error)
	SetWebhooks(ctx context.Context, merchantID string, in []session.WebhookEndpointInput) ([]session.WebhookEndpoint, error)
	RotateWebhookSecret(ctx context.Context, merchantID, endpointID string) (*session.WebhookEndpoint, error)
	TestWebhook(ctx context.Context, merchantID, endpointID string) (*session.WebhookTest, error)
	WebhookDeliveries(ctx context.Context, merchantID, state string, limit int) ([]session.WebhookDelivery, error)
	RetryWebhookDelivery(ctx context.Context, merchantID, deliveryID string) (*session.WebhookDelivery, error)
}

func (c *Console) registerWebhooks(admin gin.IRouter) {
	admin.GET("/webhooks", c.getWebhooks)
	admin.PUT("/webhooks", c.putWebhooks)
	admin.POST("/webhooks/:id/rotate", c.rotateWebhook)
	admin.POST("/webhooks/:id/test", c.testWebhook)
	admin.GET("/webhooks/deliveries", c.listDeliveries)
	admin.POST("/webhooks/deliveries/:id/retry", c.retryDelivery)
}

func (c *Console) getWebhooks(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	eps, err := c.hooks.Webhooks(ctx, actorOf(g).MerchantID)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"endpoints": eps, "events": session.WebhookEvents()})
}

// putWebhooks replaces the endpoints; the answer shows the secret of each
// endpoint that got one now, and only now.
func (c *Console) putWebhooks(g *gin.Context) {
	var in struct {
		Endpoints *[]session.WebhookEndpointInput `json:"endpoints"`
	}
	if !bind(g, &in) {
		return
	}
	if in.Endpoints == nil {
		c.fail(g, &session.Error{Kind: session.KindInvalid, Code: "bad_request", Message: `the body needs "endpoints": [...]`})
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	eps, err := c.hooks.SetWebhooks(ctx, actorOf(g).MerchantID, *in.Endpoints)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"endpoints": eps, "events": session.WebhookEvents()})
}

func (c *Console) rotateWebhook(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	ep, err := c.hooks.RotateWebhookSecret(ctx, actorOf(g).MerchantID, g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"endpoint": ep})
}

func (c *Console) testWebhook(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	res, err := c.hooks.TestWebhook(ctx, actorOf(g).MerchantID, g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"result": res})
}

func (c *Console) listDeliveries(g *gin.Context) {
	limit, _ := strconv.Atoi(g.Query("limit"))
	ctx, cancel := ctxOf(g)
	defer cancel()
	ds, err := c.hooks.WebhookDeliveries(ctx, actorOf(g).MerchantID, g.Query("state"), limit)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"deliveries": ds})
}

func (c *Console) retryDelivery(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	d, err := c.hooks.RetryWebhookDelivery(ctx, actorOf(g).MerchantID, g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"delivery": d})
}
