package agentconsole

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/session"
)

// agentDesk is what an agent's own routes (sign-in, conversations,
// presence) need.
type agentDesk interface {
	LoginFrom(ctx context.Context, email, password, addr string) (*session.Agent, error)
	Logout(ctx context.Context, a session.Actor) error
	ChangePassword(ctx context.Context, a session.Actor, current, next string) (*session.Agent, int64, error)
	Agent(ctx context.Context, merchantID, agentID string) (*session.Agent, error)
	Conversations(ctx context.Context, merchantID string, status session.Status) ([]*session.Conversation, error)
	Conversation(ctx context.Context, merchantID, convID string) (*session.Conversation, []session.RawEntry, error)
	Claim(ctx context.Context, a session.Actor, convID string) (*session.Conversation, error)
	Release(ctx context.Context, a session.Actor, convID string) (*session.Conversation, error)
	CloseByAgent(ctx context.Context, a session.Actor, convID string) (*session.Conversation, error)
	AgentMessage(ctx context.Context, a session.Actor, convID, clientID, text string) (session.RawEntry, bool, error)
	SetPresence(ctx context.Context, a session.Actor, status string) error
	Presence(ctx context.Context, a session.Actor) (string, error)
	Load(ctx context.Context, a session.Actor) (load, capacity int, err error)
}

func (c *Console) registerAgent(r gin.IRouter) {
	r.POST("/v1/auth/login", c.login)
	r.POST("/v1/auth/logout", c.authenticate, c.logout)
	agent := r.Group("/v1/agent")
	agent.GET("/ws", c.socket) // authenticates with its first frame
	agent.Use(c.authenticate)
	agent.GET("/me", c.me)
	agent.GET("/conversations", c.listConversations)
	agent.GET("/conversations/:id", c.getConversation)
	agent.POST("/conversations/:id/claim", c.conversationAction(c.desk.Claim))
	agent.POST("/conversations/:id/messages", c.postMessage)
	agent.POST("/conversations/:id/release", c.conversationAction(c.desk.Release))
	agent.POST("/conversations/:id/close", c.conversationAction(c.desk.CloseByAgent))
	agent.GET("/presence", c.getPresence)
	agent.PUT("/presence", c.putPresence)
	agent.PUT("/password", c.putPassword)
}

func (c *Console) login(g *gin.Context) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if !bind(g, &in) {
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	a, err := c.desk.LoginFrom(ctx, in.Email, in.Password, g.ClientIP())
	if err != nil {
		if wait, ok := session.RetryAfter(err); ok {
			g.Header("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		}
		c.fail(g, err)
		return
	}
	c.issue(g, ctx, a, http.StatusOK)
}

// issue answers with a fresh token for a.
func (c *Console) issue(g *gin.Context, ctx context.Context, a *session.Agent, status int) {
	tv, err := c.auth.TokenVersion(ctx, a.MerchantID, a.ID)
	if err != nil {
		c.fail(g, err)
		return
	}
	token, exp, err := c.tokens.Issue(a, tv)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(status, gin.H{"token": token, "expires_at": session.Time{Time: exp}, "agent": agentJSON(a)})
}

// logout ends every session of the caller: their tokens stop working, on
// every node, and their console sockets close.
func (c *Console) logout(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	if err := c.desk.Logout(ctx, actorOf(g)); err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// putPassword changes the caller's password; their other sessions end, and
// this one goes on with the token the answer carries.
func (c *Console) putPassword(g *gin.Context) {
	var in struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if !bind(g, &in) {
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	a, _, err := c.desk.ChangePassword(ctx, actorOf(g), in.Current, in.New)
	if err != nil {
		c.fail(g, err)
		return
	}
	c.issue(g, ctx, a, http.StatusOK)
}

func agentJSON(a *session.Agent) gin.H {
	return gin.H{"id": a.ID, "name": a.Name, "email": a.Email, "role": a.Role, "merchant_id": a.MerchantID,
		"capacity": a.Capacity, "disabled": a.Disabled}
}

func (c *Console) me(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	actor := actorOf(g)
	a, err := c.desk.Agent(ctx, actor.MerchantID, actor.ID)
	if err != nil {
		c.fail(g, err)
		return
	}
	p, err := c.desk.Presence(ctx, actor)
	if err != nil {
		c.fail(g, err)
		return
	}
	load, capacity, err := c.desk.Load(ctx, actor)
	if err != nil {
		c.fail(g, err)
		return
	}
	// The shop's language, so an agent's console can follow it (cached).
	m, err := c.settings.Merchant(ctx, actor.MerchantID)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"agent": agentJSON(a), "presence": p, "load": load, "capacity": capacity,
		"locale": m.Settings.Locale})
}

func (c *Console) listConversations(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	convs, err := c.desk.Conversations(ctx, actorOf(g).MerchantID, session.Status(g.Query("status")))
	if err != nil {
		c.fail(g, err)
		return
	}
	if convs == nil {
		convs = []*session.Conversation{}
	}
	g.JSON(http.StatusOK, gin.H{"conversations": convs})
}

// rawMessages lays out stored entries as a JSON array without re-encoding.
func rawMessages(entries []session.RawEntry) []json.RawMessage {
	out := make([]json.RawMessage, len(entries))
	for i, e := range entries {
		out[i] = e.JSON
	}
	return out
}

func (c *Console) getConversation(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	conv, entries, err := c.desk.Conversation(ctx, actorOf(g).MerchantID, g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"conversation": conv, "messages": rawMessages(entries)})
}

// conversationAction serves claim, release and close: an action on one
// conversation that answers with the conversation as it now is.
func (c *Console) conversationAction(act func(context.Context, session.Actor, string) (*session.Conversation, error)) gin.HandlerFunc {
	return func(g *gin.Context) {
		ctx, cancel := ctxOf(g)
		defer cancel()
		conv, err := act(ctx, actorOf(g), g.Param("id"))
		if err != nil {
			c.fail(g, err)
			return
		}
		g.JSON(http.StatusOK, gin.H{"conversation": conv})
	}
}

func (c *Console) postMessage(g *gin.Context) {
	var in struct {
		ClientID string `json:"client_id"`
		Text     string `json:"text"`
	}
	if !bind(g, &in) {
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	msg, created, err := c.desk.AgentMessage(ctx, actorOf(g), g.Param("id"), in.ClientID, in.Text)
	if err != nil {
		c.fail(g, err)
		return
	}
	if !created {
		// The same client_id again: the message stored the first time.
		g.Header("Idempotent-Replayed", "true")
	}
	g.JSON(http.StatusCreated, gin.H{"message": json.RawMessage(msg.JSON)})
}

func (c *Console) getPresence(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	p, err := c.desk.Presence(ctx, actorOf(g))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"status": p})
}

func (c *Console) putPresence(g *gin.Context) {
	var in struct {
		Status string `json:"status"`
	}
	if !bind(g, &in) {
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	if err := c.desk.SetPresence(ctx, actorOf(g), in.Status); err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"status": in.Status})
}
