package agentconsole

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/session"
)

// metricsSource is what the overview's figures come from.
type metricsSource interface {
	Metrics(ctx context.Context, merchantID, from, to string) (*session.Metrics, error)
}

func (c *Console) registerMetrics(admin gin.IRouter) {
	admin.GET("/metrics", c.getMetrics)
}

func (c *Console) getMetrics(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	m, err := c.metrics.Metrics(ctx, actorOf(g).MerchantID, g.Query("from"), g.Query("to"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, m)
}
