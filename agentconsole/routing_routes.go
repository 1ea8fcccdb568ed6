package agentconsole

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/session"
)

// routingStore is what the routing settings routes need.
type routingStore interface {
	Merchant(ctx context.Context, id string) (*session.Merchant, error)
	SetRouting(ctx context.Context, merchantID string, r session.Routing) (*session.Routing, error)
}

func (c *Console) registerRouting(admin gin.IRouter) {
	admin.GET("/routing", c.getRouting)
	admin.PUT("/routing", c.putRouting)
}

func (c *Console) getRouting(g *gin.Context) {
	m, ok := c.merchantFrom(g, c.routing)
	if !ok {
		return
	}
	g.JSON(http.StatusOK, m.Routing)
}

// putRouting changes the fields given; the others keep their value.
func (c *Console) putRouting(g *gin.Context) {
	var in struct {
		Mode           *session.RoutingMode `json:"mode"`
		Capacity       *int                 `json:"capacity"`
		ReassignAfterS *int                 `json:"reassign_after_s"`
	}
	if !bind(g, &in) {
		return
	}
	m, ok := c.merchantFrom(g, c.routing)
	if !ok {
		return
	}
	r := m.Routing
	if in.Mode != nil {
		r.Mode = *in.Mode
	}
	if in.Capacity != nil {
		r.Capacity = *in.Capacity
	}
	if in.ReassignAfterS != nil {
		r.ReassignAfterS = *in.ReassignAfterS
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	out, err := c.routing.SetRouting(ctx, m.ID, r)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, out)
}
