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

	"github.com/batonchat/baton/gateway/rest"
	"github.com/batonchat/baton/gateway/socket"
	"github.com/batonchat/baton/session"
)

// Team is what the console needs from the session core: each route group
// declares its own part, beside its handlers.
type Team interface {
	agentDesk
	liveDesk
	settingsStore
	knowledgeStore
	metricsSource
	teamAdmin
	helpdeskStore
	assistantStore
	routingStore
	mailStore
	exportStore
	webhookStore
	authorizer
}

// authorizer checks a token's session against the account as it is now.
type authorizer interface {
	Authorize(ctx context.Context, a session.Actor, tokenVersion int64) (session.Actor, error)
	TokenVersion(ctx context.Context, merchantID, agentID string) (int64, error)
	OnAccountChange(f func(merchantID, agentID string)) (stop func())
}

// Watcher is where console sockets follow conversations and the queue.
type Watcher interface {
	WatchConversation(ctx context.Context, convID string, cursor int64, w session.ConversationWatcher) *session.Feed
	WatchMerchant(ctx context.Context, merchantID string, w session.MerchantWatcher) (stop func())
}

// Console serves the agent and admin APIs, the console socket and page.
type Console struct {
	desk      agentDesk
	live      liveDesk
	settings  settingsStore
	knowledge knowledgeStore
	metrics   metricsSource
	teamAdmin teamAdmin
	desks     helpdeskStore
	assistant assistantStore
	routing   routingStore
	mail      mailStore
	export    exportStore
	hooks     webhookStore
	auth      authorizer

	hub       Watcher
	open      liveSockets // authenticated console sockets, by account
	tokens    *Tokens
	sockets   *socket.Registry
	log       *slog.Logger
	helpdesks Helpdesks // nil: integrations cannot be connected here
	publicURL string    // BATON_PUBLIC_URL, for OAuth's redirect_uri
	// frameLimit: frames per second per console socket, 0 off (socket.go).
	frameLimit int
}

// New returns a console.
func New(team Team, hub Watcher, tokens *Tokens, sockets *socket.Registry, log *slog.Logger) *Console {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = slog.New(rest.LogHandler(log.Handler()))
	c := &Console{desk: team, live: team, settings: team, knowledge: team, metrics: team, teamAdmin: team,
		desks: team, assistant: team, routing: team, mail: team, export: team, hooks: team, auth: team, hub: hub, tokens: tokens, sockets: sockets, log: log, frameLimit: DefaultFrameLimit}
	team.OnAccountChange(c.accountChanged)
	return c
}

// revoked reports whether err means the token's session has ended.
func revoked(err error) bool { return session.ErrorOf(err).Code == session.ErrRevoked.Code }

// Register adds the console's routes.
func (c *Console) Register(r gin.IRouter) {
	c.registerAgent(r)
	admin := r.Group("/v1/admin", c.authenticate, c.requireAdmin)
	c.registerSettings(admin)
	c.registerKnowledge(admin)
	c.registerMetrics(admin)
	c.registerTeam(admin)
	c.registerHelpdesk(admin)
	c.registerOAuthCallback(r)
	c.registerAssistant(admin)
	c.registerRouting(admin)
	c.registerMail(admin)
	c.registerExport(admin)
	c.registerWebhooks(admin)
	registerWeb(r)
}

const (
	actorKey    = "baton.actor"
	verifiedKey = "baton.token"
)

func actorOf(c *gin.Context) session.Actor {
	a, _ := c.Get(actorKey)
	return a.(session.Actor)
}

// authenticate accepts only a bearer token in the Authorization header:
// tokens stay out of URLs. The token's session must still stand (its
// account enabled, not signed out, its password not changed since), and the
// account's current role decides, not the one the token was issued with.
func (c *Console) authenticate(g *gin.Context) {
	h := g.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		g.Header("WWW-Authenticate", `Bearer realm="baton"`)
		rest.Fail(g, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer TOKEN")
		return
	}
	v, err := c.tokens.Verify(strings.TrimSpace(token))
	if err != nil {
		g.Header("WWW-Authenticate", `Bearer realm="baton", error="invalid_token"`)
		rest.Fail(g, http.StatusUnauthorized, "invalid_token", "the token is not valid")
		return
	}
	ctx, cancel := ctxOf(g)
	a, err := c.auth.Authorize(ctx, v.Actor, v.Version)
	cancel()
	if err != nil {
		if session.ErrorOf(err).Kind == session.KindUnauthorized {
			g.Header("WWW-Authenticate", `Bearer realm="baton", error="invalid_token"`)
		}
		c.fail(g, err)
		return
	}
	g.Set(actorKey, a)
	g.Set(verifiedKey, v)
	g.Next()
}

func (c *Console) requireAdmin(g *gin.Context) {
	if !actorOf(g).Admin {
		rest.Fail(g, http.StatusForbidden, "forbidden", "this needs an admin")
		return
	}
	g.Next()
}

func (c *Console) fail(g *gin.Context, err error) {
	e := session.ErrorOf(err)
	if e.Kind == session.KindInternal || e.Kind == session.KindUnavailable {
		c.log.ErrorContext(g.Request.Context(), "request failed", "path", g.FullPath(), "code", e.Code, "err", err)
	}
	rest.Fail(g, rest.Status(e.Kind), e.Code, e.Message)
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
			rest.Fail(g, http.StatusRequestEntityTooLarge, "too_large", "the body is over 4 MiB")
		case errors.Is(err, io.EOF):
			rest.Fail(g, http.StatusBadRequest, "bad_request", "a JSON body is required")
		default:
			rest.Fail(g, http.StatusBadRequest, "bad_request", "the body is not valid JSON for this route: "+err.Error())
		}
		return false
	}
	if dec.More() {
		rest.Fail(g, http.StatusBadRequest, "bad_request", "one JSON value only")
		return false
	}
	return true
}

func ctxOf(g *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(g.Request.Context(), 10*time.Second)
}
