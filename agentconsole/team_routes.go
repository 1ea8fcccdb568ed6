package agentconsole

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/gateway/rest"
	"github.com/batonchat/baton/session"
)

// teamAdmin is what the admin's team routes need.
type teamAdmin interface {
	Agents(ctx context.Context, merchantID string) ([]session.AgentStatus, error)
	CreateAgent(ctx context.Context, merchantID, email, name, password string, admin bool) (*session.Agent, error)
}

func (c *Console) registerTeam(admin gin.IRouter) {
	admin.GET("/agents", c.listAgents)
	admin.POST("/agents", c.createAgent)
}

func (c *Console) listAgents(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	as, err := c.teamAdmin.Agents(ctx, actorOf(g).MerchantID)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"agents": as})
}

func (c *Console) createAgent(g *gin.Context) {
	var in struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Password string `json:"password"`
		Role     string `json:"role"`
	}
	if !bind(g, &in) {
		return
	}
	if in.Role != "" && in.Role != session.RoleNameAgent && in.Role != session.RoleNameAdmin {
		rest.Fail(g, http.StatusBadRequest, "invalid_role", "role must be agent or admin")
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	a, err := c.teamAdmin.CreateAgent(ctx, actorOf(g).MerchantID, in.Email, in.Name, in.Password, in.Role == session.RoleNameAdmin)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusCreated, gin.H{"agent": agentJSON(a)})
}
