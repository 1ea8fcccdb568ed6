package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/gateway/rest"
	"github.com/batonchat/baton/gateway/socket"
	"github.com/batonchat/baton/session"
)

// Conversations is what the gateway needs from the session core.
type Conversations interface {
	MerchantByWidgetKey(ctx context.Context, key string) (*session.Merchant, error)
	StartConversation(ctx context.Context, m *session.Merchant, v session.VisitorInfo) (*session.Conversation, string, error)
	ResumeConversation(ctx context.Context, merchantID, convID, token string) (*session.Conversation, error)
	ReopenConversation(ctx context.Context, merchantID, token string) (*session.Conversation, string, error)
	VisitorOnline(ctx context.Context, convID string) (func(), error)
	Identify(ctx context.Context, t session.Turn, v session.VisitorInfo) (session.Turn, error)
	// VisitorMessageThen stores the visitor's message; stored runs once it
	// is, before the answer it sets off begins.
	VisitorMessageThen(ctx context.Context, t session.Turn, clientID, text string, stored func()) error
	RequestHandoff(ctx context.Context, t session.Turn) error
	ReplyToOffer(ctx context.Context, t session.Turn, accept bool) error
	SubmitEmail(ctx context.Context, t session.Turn, email string) error
	CloseByVisitor(ctx context.Context, t session.Turn) error
	Rate(ctx context.Context, t session.Turn, score int, comment string) error
	Typing(ctx context.Context, convID string, role session.Role, active bool) error
	Office(m *session.Merchant) session.OfficeState
	Ping(ctx context.Context) error
}

// Watcher is where sockets follow conversations and queues.
type Watcher interface {
	WatchConversation(ctx context.Context, convID string, cursor int64, w session.ConversationWatcher) *session.Feed
	WatchMerchant(ctx context.Context, merchantID string, w session.MerchantWatcher) (stop func())
}

// Options configure the gateway.
type Options struct {
	// VisitorRateLimit is messages per minute per visitor socket; 0 is off.
	VisitorRateLimit int
	// VisitorBurst is how many messages may come at once within the limit;
	// at most 10, and never more than the limit itself.
	VisitorBurst int
	// VisitorFrameLimit guards against floods: frames of any kind per
	// second per visitor socket (a burst of three seconds' worth is
	// allowed); 0 is off.
	VisitorFrameLimit int
	// SocketsPerAddress and SocketsPerMerchant cap this node's open
	// visitor sockets (429 at the upgrade); 0 is no cap.
	SocketsPerAddress  int
	SocketsPerMerchant int
	// TrustedProxies are the proxies (addresses or CIDRs) whose
	// X-Forwarded-For names the client; by default none is trusted and the
	// peer's address is the client's, so a client cannot pick its own.
	TrustedProxies []string
	Logger         *slog.Logger
}

// Gateway serves the widget socket and health, and runs the HTTP server
// that the other adapters register their routes on.
type Gateway struct {
	svc     Conversations
	hub     Watcher
	sockets *socket.Registry
	opts    Options
	log     *slog.Logger
	engine  *gin.Engine
	counts  *socketCounts
}

// New returns a gateway with its routes registered on a fresh gin engine.
// It fails only on a malformed TrustedProxies entry.
func New(svc Conversations, hub Watcher, sockets *socket.Registry, opts Options) (*Gateway, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger = slog.New(rest.LogHandler(opts.Logger.Handler()))
	if opts.VisitorBurst <= 0 {
		opts.VisitorBurst = min(10, max(1, opts.VisitorRateLimit))
	}
	g := &Gateway{svc: svc, hub: hub, sockets: sockets, opts: opts, log: opts.Logger,
		counts: newSocketCounts(opts.SocketsPerAddress, opts.SocketsPerMerchant)}
	e := gin.New()
	if err := e.SetTrustedProxies(opts.TrustedProxies); err != nil {
		return nil, err
	}
	e.HandleMethodNotAllowed = true
	e.Use(rest.RequestIDs(g.log), g.recovery, securityHeaders)
	e.NoRoute(func(c *gin.Context) { rest.Fail(c, http.StatusNotFound, "not_found", "no such route") })
	e.NoMethod(func(c *gin.Context) {
		rest.Fail(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route")
	})
	e.GET("/healthz", g.health)
	e.GET("/v1/widget/ws", g.widgetSocket)
	g.engine = e
	return g, nil
}

// Engine is the router other adapters add their routes to.
func (g *Gateway) Engine() *gin.Engine { return g.engine }

// Handler serves every route.
func (g *Gateway) Handler() http.Handler { return g.engine }

func (g *Gateway) recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(r)
			}
			g.log.ErrorContext(c.Request.Context(), "handler panicked", "path", c.FullPath(), "panic", r)
			if !c.Writer.Written() {
				rest.Fail(c, http.StatusInternalServerError, "internal", "internal error")
			}
			c.Abort()
		}
	}()
	c.Next()
}

func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	c.Next()
}

func (g *Gateway) health(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := g.svc.Ping(ctx); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "redis": "down"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "redis": "up", "sockets": g.sockets.Len()})
}

func (g *Gateway) widgetSocket(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), opTimeout)
	m, err := g.svc.MerchantByWidgetKey(ctx, c.Query("key"))
	cancel()
	if err != nil {
		e := session.ErrorOf(err)
		switch e.Kind {
		case session.KindNotFound:
			rest.Fail(c, http.StatusNotFound, "unknown_key", "no merchant has this widget key")
		case session.KindUnavailable:
			rest.Fail(c, http.StatusServiceUnavailable, "unavailable", "try again shortly")
		default:
			g.log.ErrorContext(c.Request.Context(), "looking up a widget key", "err", err)
			rest.Fail(c, http.StatusInternalServerError, "internal", "internal error")
		}
		return
	}
	if !OriginAllowed(c.Request, m.Settings.AllowedOrigins) {
		rest.Fail(c, http.StatusForbidden, "origin_not_allowed", "this page's origin may not open the chat")
		return
	}
	addr := c.ClientIP()
	release, ok := g.counts.take(addr, m.ID)
	if !ok {
		c.Header("Retry-After", "30")
		rest.Fail(c, http.StatusTooManyRequests, "too_many_sockets", "too many open chats from here")
		return
	}
	if !rest.RequireUpgrade(c) {
		release()
		return
	}
	conn, err := g.sockets.Upgrade(c.Writer, c.Request, "visitor")
	if err != nil {
		release()
		return
	}
	conn.OnDone(release)
	// The socket lives on in a goroutine of its own, so that net/http's
	// connection state, the request and gin's context (some 10 KB) are
	// freed now rather than held for the socket's life.
	rid := rest.RequestIDOf(c.Request.Context())
	go g.newVisitor(conn, m, addr, rid).run(rest.WithRequestID(context.Background(), rid))
}

// OriginAllowed applies the widget's origin rule: Baton's own origin always;
// otherwise any origin when the merchant lists none, else one of the list.
// A request without Origin (not a browser) passes only when nothing is
// listed.
func OriginAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin != "" && rest.SameOrigin(r, origin) {
		return true
	}
	if len(allowed) == 0 {
		return true
	}
	s := session.Settings{AllowedOrigins: allowed}
	return origin != "" && s.OriginAllowed(origin)
}

// Serve runs the HTTP server on ln until ctx ends, then drains: no new
// sockets, open ones asked to reconnect elsewhere (1012), all within grace.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           g.engine,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	g.log.Info("draining: closing sockets with 1012", "sockets", g.sockets.Len(), "grace", grace)
	dctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	// Stop accepting first, so reconnecting clients go to another node.
	_ = ln.Close()
	start := time.Now()
	g.sockets.Drain(dctx)
	g.log.Info("sockets drained", "left", g.sockets.Len(), "took", time.Since(start))
	if err := srv.Shutdown(dctx); err != nil {
		_ = srv.Close()
	}
	g.log.Info("http server stopped", "took", time.Since(start))
	return nil
}
