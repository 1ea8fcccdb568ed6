package agentconsole

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/gateway/socket"
	"github.com/batonchat/baton/session"
)

// Team is what the console needs from the session core.
type Team interface {
	Login(ctx context.Context, email, password string) (*session.Agent, error)
	Agent(ctx context.Context, merchantID, agentID string) (*session.Agent, error)
	Agents(ctx context.Context, merchantID string) ([]session.AgentStatus, error)
	CreateAgent(ctx context.Context, merchantID, email, name, password string, admin bool) (*session.Agent, error)
	Conversations(ctx context.Context, merchantID string, status session.Status) ([]*session.Conversation, error)
	Conversation(ctx context.Context, merchantID, convID string) (*session.Conversation, []session.RawEntry, error)
	AssignedTo(ctx context.Context, a session.Actor) ([]*session.Conversation, error)
	IsAssigned(ctx context.Context, a session.Actor, convID string) (bool, error)
	Claim(ctx context.Context, a session.Actor, convID string) (*session.Conversation, error)
	Release(ctx context.Context, a session.Actor, convID string) (*session.Conversation, error)
	CloseByAgent(ctx context.Context, a session.Actor, convID string) (*session.Conversation, error)
	AgentMessage(ctx context.Context, a session.Actor, convID, clientID, text string) (session.RawEntry, bool, error)
	Typing(ctx context.Context, convID string, role session.Role, active bool) error
	SetPresence(ctx context.Context, a session.Actor, status string) error
	Presence(ctx context.Context, a session.Actor) (string, error)
	ConsoleOpened(ctx context.Context, a session.Actor) (func(), error)

	Merchant(ctx context.Context, id string) (*session.Merchant, error)
	UpdateSettings(ctx context.Context, merchantID string, s session.Settings) (*session.Settings, error)
	SetOfficeHours(ctx context.Context, merchantID string, h session.OfficeHours) (*session.OfficeHours, error)
	SetKnowledge(ctx context.Context, merchantID string, entries []session.KnowledgeEntry) ([]session.KnowledgeEntry, error)
	Metrics(ctx context.Context, merchantID, from, to string) (*session.Metrics, error)
	Office(m *session.Merchant) session.OfficeState

	SetIntegration(ctx context.Context, merchantID string, method session.HandoffMethod, acc *session.HelpdeskAccount) (*session.HelpdeskAccount, error)
	HelpdeskHandoffs(ctx context.Context, merchantID, state string) ([]*session.HelpdeskHandoff, error)
	HelpdeskHandoff(ctx context.Context, merchantID, convID string) (*session.HelpdeskHandoff, error)
	RetryHandoff(ctx context.Context, merchantID, convID string) (*session.HelpdeskHandoff, error)
}

// Watcher is where console sockets follow conversations and the queue.
type Watcher interface {
	WatchConversation(ctx context.Context, convID string, cursor int64, w session.ConversationWatcher) *session.Feed
	WatchMerchant(ctx context.Context, merchantID string, w session.MerchantWatcher) (stop func())
}

// Console serves the agent and admin APIs, the console socket and page.
type Console struct {
	team      Team
	hub       Watcher
	tokens    *Tokens
	sockets   *socket.Registry
	log       *slog.Logger
	helpdesks Helpdesks // nil: integrations cannot be connected here
	// frameLimit: frames per second per console socket, 0 off (socket.go).
	frameLimit int
}

// New returns a console.
func New(team Team, hub Watcher, tokens *Tokens, sockets *socket.Registry, log *slog.Logger) *Console {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Console{team: team, hub: hub, tokens: tokens, sockets: sockets, log: log, frameLimit: DefaultFrameLimit}
}

// Register adds the console's routes.
func (c *Console) Register(r gin.IRouter) {
	r.POST("/v1/auth/login", c.login)

	agent := r.Group("/v1/agent")
	agent.GET("/ws", c.socket) // authenticates with its first frame
	agent.Use(c.authenticate)
	agent.GET("/me", c.me)
	agent.GET("/conversations", c.listConversations)
	agent.GET("/conversations/:id", c.getConversation)
	agent.POST("/conversations/:id/claim", c.conversationAction(c.team.Claim))
	agent.POST("/conversations/:id/messages", c.postMessage)
	agent.POST("/conversations/:id/release", c.conversationAction(c.team.Release))
	agent.POST("/conversations/:id/close", c.conversationAction(c.team.CloseByAgent))
	agent.GET("/presence", c.getPresence)
	agent.PUT("/presence", c.putPresence)

	admin := r.Group("/v1/admin", c.authenticate, c.requireAdmin)
	admin.GET("/settings", c.getSettings)
	admin.PUT("/settings", c.putSettings)
	admin.GET("/office-hours", c.getOfficeHours)
	admin.PUT("/office-hours", c.putOfficeHours)
	admin.GET("/knowledge", c.getKnowledge)
	admin.PUT("/knowledge", c.putKnowledge)
	admin.GET("/metrics", c.getMetrics)
	admin.GET("/agents", c.listAgents)
	admin.POST("/agents", c.createAgent)
	admin.GET("/merchant", c.getMerchant)
	c.registerHelpdesk(admin)

	registerWeb(r)
}

const actorKey = "baton.actor"

func actorOf(c *gin.Context) session.Actor {
	a, _ := c.Get(actorKey)
	return a.(session.Actor)
}

// authenticate accepts only a bearer token in the Authorization header:
// tokens stay out of URLs.
func (c *Console) authenticate(g *gin.Context) {
	h := g.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		g.Header("WWW-Authenticate", `Bearer realm="baton"`)
		writeError(g, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer TOKEN")
		return
	}
	a, err := c.tokens.Verify(strings.TrimSpace(token))
	if err != nil {
		g.Header("WWW-Authenticate", `Bearer realm="baton", error="invalid_token"`)
		writeError(g, http.StatusUnauthorized, "invalid_token", "the token is not valid")
		return
	}
	g.Set(actorKey, a)
	g.Next()
}

func (c *Console) requireAdmin(g *gin.Context) {
	if !actorOf(g).Admin {
		writeError(g, http.StatusForbidden, "forbidden", "this needs an admin")
		return
	}
	g.Next()
}

func writeError(g *gin.Context, status int, code, message string) {
	g.AbortWithStatusJSON(status, gin.H{"error": gin.H{"code": code, "message": message}})
}

// statusOf is the one table from session error kinds to HTTP statuses.
func statusOf(k session.Kind) int {
	switch k {
	case session.KindInvalid:
		return http.StatusBadRequest
	case session.KindUnauthorized:
		return http.StatusUnauthorized
	case session.KindForbidden:
		return http.StatusForbidden
	case session.KindNotFound:
		return http.StatusNotFound
	case session.KindConflict:
		return http.StatusConflict
	case session.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case session.KindRefused:
		return http.StatusUnprocessableEntity
	case session.KindRateLimited:
		return http.StatusTooManyRequests
	case session.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (c *Console) fail(g *gin.Context, err error) {
	e := session.ErrorOf(err)
	if e.Kind == session.KindInternal || e.Kind == session.KindUnavailable {
		c.log.Error("request failed", "path", g.FullPath(), "code", e.Code, "err", err)
	}
	writeError(g, statusOf(e.Kind), e.Code, e.Message)
}

// maxBody bounds request bodies; knowledge sets are the largest.
const maxBody = 4 << 20

// bind decodes a JSON body into v, answering 400 or 413 itself on failure.
func bind(g *gin.Context, v any) bool {
	body := http.MaxBytesReader(g.Writer, g.Request.Body, maxBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeError(g, http.StatusRequestEntityTooLarge, "too_large", "the body is over 4 MiB")
		case errors.Is(err, io.EOF):
			writeError(g, http.StatusBadRequest, "bad_request", "a JSON body is required")
		default:
			writeError(g, http.StatusBadRequest, "bad_request", "the body is not valid JSON for this route: "+err.Error())
		}
		return false
	}
	if dec.More() {
		writeError(g, http.StatusBadRequest, "bad_request", "one JSON value only")
		return false
	}
	return true
}

func ctxOf(g *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(g.Request.Context(), 10*time.Second)
}
