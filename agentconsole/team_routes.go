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
	AddAgent(ctx context.Context, merchantID string, n session.NewAgent) (*session.Agent, error)
	UpdateAgent(ctx context.Context, merchantID, agentID string, p session.AgentPatch) (*session.Agent, error)
	DeleteAgent(ctx context.Context, merchantID, agentID string) error
}

func (c *Console) registerTeam(admin gin.IRouter) {
	admin.GET("/agents", c.listAgents)
	admin.POST("/agents", c.createAgent)
	admin.PUT("/agents/:id", c.updateAgent)
	admin.DELETE("/agents/:id", c.deleteAgent)
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
		Capacity int    `json:"capacity"`
	}
	if !bind(g, &in) {
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	a, err := c.teamAdmin.AddAgent(ctx, actorOf(g).MerchantID, session.NewAgent{Email: in.Email, Name: in.Name,
		Password: in.Password, Role: in.Role, Capacity: in.Capacity})
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusCreated, gin.H{"agent": agentJSON(a)})
}

func (c *Console) updateAgent(g *gin.Context) {
	var in struct {
		Name     *string `json:"name"`
		Role     *string `json:"role"`
		Capacity *int    `json:"capacity"`
		Disabled *bool   `json:"disabled"`
	}
	if !bind(g, &in) {
		return
	}
	if in.Name == nil && in.Role == nil && in.Capacity == nil && in.Disabled == nil {
		rest.Fail(g, http.StatusBadRequest, "bad_request", "nothing to change: give name, role, capacity or disabled")
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	a, err := c.teamAdmin.UpdateAgent(ctx, actorOf(g).MerchantID, g.Param("id"),
		session.AgentPatch{Name: in.Name, Role: in.Role, Capacity: in.Capacity, Disabled: in.Disabled})
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"agent": agentJSON(a)})
}

func (c *Console) deleteAgent(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	if err := c.teamAdmin.DeleteAgent(ctx, actorOf(g).MerchantID, g.Param("id")); err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}
