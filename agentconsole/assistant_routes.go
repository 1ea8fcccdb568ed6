package agentconsole

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/gateway/rest"
	"github.com/batonchat/baton/session"
)

// assistantStore is what the assistant's settings routes need.
type assistantStore interface {
	Merchant(ctx context.Context, id string) (*session.Merchant, error)
	SetAssistant(ctx context.Context, merchantID string, a session.AssistantSettings) (*session.AssistantSettings, error)
	ModelAvailable() bool
}

func (c *Console) registerAssistant(admin gin.IRouter) {
	admin.GET("/assistant", c.getAssistant)
	admin.PUT("/assistant", c.putAssistant)
}

// assistantJSON is the merchant's assistant settings and whether this
// deployment has a model at all.
type assistantJSON struct {
	session.AssistantSettings
	ModelAvailable bool `json:"model_available"`
}

func (c *Console) getAssistant(g *gin.Context) {
	m, ok := c.merchantFrom(g, c.assistant)
	if !ok {
		return
	}
	g.JSON(http.StatusOK, assistantJSON{AssistantSettings: m.Assistant, ModelAvailable: c.assistant.ModelAvailable()})
}

func (c *Console) putAssistant(g *gin.Context) {
	var in struct {
		Mode         *session.AssistantMode `json:"mode"`
		Instructions *string                `json:"instructions"`
	}
	if !bind(g, &in) {
		return
	}
	m, ok := c.merchantFrom(g, c.assistant)
	if !ok {
		return
	}
	a := m.Assistant
	if in.Mode != nil {
		a.Mode = *in.Mode
	}
	if in.Instructions != nil {
		a.Instructions = *in.Instructions
	}
	if in.Mode == nil && in.Instructions == nil {
		rest.Fail(g, http.StatusBadRequest, "bad_request", `the body needs "mode" or "instructions"`)
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	out, err := c.assistant.SetAssistant(ctx, m.ID, a)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, assistantJSON{AssistantSettings: *out, ModelAvailable: c.assistant.ModelAvailable()})
}
