package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/batonchat/baton/agentconsole"
	"github.com/batonchat/baton/gateway"
	"github.com/batonchat/baton/gateway/egress"
	"github.com/batonchat/baton/gateway/helpdesk"
	"github.com/batonchat/baton/gateway/mail"
	"github.com/batonchat/baton/gateway/model"
	"github.com/batonchat/baton/gateway/prom"
	"github.com/batonchat/baton/gateway/rest"
	"github.com/batonchat/baton/gateway/socket"
	"github.com/batonchat/baton/gateway/webhook"
	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/assistant"
	"github.com/batonchat/baton/widget"
)

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogJSON {
		return slog.New(rest.LogHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(rest.LogHandler(slog.NewTextHandler(w, opts)))
}

func serve(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	slog.SetDefault(log)
	gin.SetMode(gin.ReleaseMode)

	demo := cfg.RedisURL == ""
	var rdb redis.UniversalClient
	secret := []byte(cfg.Secret)
	if demo {
		mini := miniredis.NewMiniRedis()
		if err := mini.Start(); err != nil {
			return fmt.Errorf("starting the embedded store: %w", err)
		}
		defer mini.Close()
		rdb = redis.NewClient(&redis.Options{Addr: mini.Addr()})
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
		log.Warn("DEMO MODE: REDIS_URL is not set, so Baton runs on an embedded in-process store. Nothing is kept: every conversation, setting and account is gone when Baton stops.")
	} else {
		var err error
		rdb, err = newRedis(cfg.RedisURL)
		if err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if err := rdb.Ping(pctx).Err(); err != nil {
			log.Warn("Redis does not answer yet; serving anyway, /healthz says 503 until it does", "err", err)
		}
		cancel()
	}
	defer rdb.Close()

	// The metrics listener is opened first: a taken address stops the
	// start, as the main one does.
	var metrics *prom.Metrics
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		var err error
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("BATON_METRICS_ADDR: %w", err)
		}
		defer metricsLn.Close()
		metrics = prom.New(prom.Options{MaxMerchants: cfg.MetricsMerchants})
		rdb.AddHook(metrics.RedisHook()) // before the app shares the client among goroutines
	}

	// The core outlives the signal: sockets drain first, then it stops.
	a, err := newApp(context.WithoutCancel(ctx), appConfig{Redis: rdb, Prefix: cfg.Prefix, Secret: secret,
		SecretPrevious:   []byte(cfg.SecretPrevious),
		VisitorRateLimit: cfg.VisitorRateLimit, VisitorFrameLimit: cfg.VisitorFrameLimit, AgentFrameLimit: cfg.AgentFrameLimit,
		Demo: demo, Logger: log, Unbatched: cfg.Unbatched, Linger: cfg.Linger, ClassicPubSub: cfg.ClassicPubSub, HelpdeskTimeout: cfg.HelpdeskTimeout, Outbox: cfg.Outbox,
		HelpdeskBaseURLs: cfg.HelpdeskBaseURLs, WebhookBaseURLs: cfg.WebhookBaseURLs, PublicURL: cfg.PublicURL,
		ZendeskClient: helpdesk.OAuthClient{ID: cfg.ZendeskClientID, Secret: cfg.ZendeskClientSecret},
		Limits:        cfg.Limits, Model: cfg.Model, SMTPURL: cfg.SMTPURL, SMTPFrom: cfg.SMTPFrom, Metrics: metrics})
	if err != nil {
		return err
	}
	defer a.Close()

	if cfg.DebugAddr != "" {
		go serveDebug(ctx, cfg.DebugAddr, a.sockets, log)
	}
	if metrics != nil {
		go serveMetrics(ctx, metricsLn, metrics, log)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if demo {
		if err := seedDemo(ctx, a.svc, "http://"+ln.Addr().String(), stdout); err != nil {
			_ = ln.Close()
			return fmt.Errorf("setting up the demo: %w", err)
		}
	}
	log.Info("baton is listening", "addr", ln.Addr().String(), "node", a.svc.NodeID(), "demo", demo)
	return a.gw.Serve(ctx, ln, cfg.DrainTimeout)
}

// appConfig is what newApp wires from.
type appConfig struct {
	Redis            redis.UniversalClient
	Prefix           string
	Secret           []byte
	SecretPrevious   []byte
	VisitorRateLimit int
	// AgentFrameLimit: frames per second per console socket (0 off).
	AgentFrameLimit int
	// VisitorFrameLimit: frames per second per visitor socket (0 off).
	VisitorFrameLimit int
	Demo              bool
	Logger            *slog.Logger
	Unbatched         bool
	Linger            time.Duration
	ClassicPubSub     bool
	// HelpdeskTimeout bounds each call to Zendesk or Gorgias; Outbox tunes
	// the workers that make tickets (see session.OutboxOptions).
	HelpdeskTimeout time.Duration
	Outbox          session.OutboxOptions
	// NoOutbox: this node hands conversations off but makes no tickets
	// (others do). For tests that need a node whose workers never run.
	NoOutbox bool
	// HelpdeskAgent names this node to the helpdesks (User-Agent).
	HelpdeskAgent string
	// HelpdeskBaseURLs: the base_url prefixes integrations may use;
	// HelpdeskResolver looks helpdesk hosts up (tests map names).
	HelpdeskBaseURLs []string
	HelpdeskResolver egress.Resolver
	// WebhookBaseURLs: the prefixes webhook endpoints may use beyond public
	// addresses; Webhooks tunes deliveries (tests), its Sender made here.
	WebhookBaseURLs []string
	Webhooks        session.WebhookOptions
	// ZendeskClient is the operator's Zendesk OAuth client and PublicURL
	// where Baton is reached, for "Connect with Zendesk".
	ZendeskClient helpdesk.OAuthClient
	PublicURL     string
	Limits        visitorLimits
	Model         modelConfig
	SMTPURL       string
	SMTPFrom      string
	// Mail tunes the emails to visitors (tests); its Sender comes from
	// SMTPURL.
	Mail session.MailOptions
	// ModelTransport carries the model's calls (tests); the default when nil.
	ModelTransport http.RoundTripper
	// BcryptCost and Now are for tests.
	BcryptCost int
	Now        func() time.Time
	// Sockets tunes every socket (queue budget, timeouts, pings); zero
	// fields take the socket package's defaults. Tests shorten them.
	Sockets socket.Options
	// Metrics, when set, hears the core and reads the sockets and Redis
	// state for Prometheus; nothing is counted without it.
	Metrics *prom.Metrics
}

// app is Baton wired together: the session core, the sockets and the HTTP
// routes of every adapter.
type app struct {
	svc     *session.Service
	gw      *gateway.Gateway
	sockets *socket.Registry
	stop    context.CancelFunc
}

func newApp(ctx context.Context, c appConfig) (*app, error) {
	ctx, stop := context.WithCancel(ctx)
	desks, err := helpdesk.New(helpdesk.Options{Timeout: c.HelpdeskTimeout, Logger: c.Logger, Now: c.Now, UserAgent: c.HelpdeskAgent,
		AllowedBaseURLs: c.HelpdeskBaseURLs, Resolver: c.HelpdeskResolver, Zendesk: c.ZendeskClient})
	if err != nil {
		stop()
		return nil, fmt.Errorf("BATON_HELPDESK_BASE_URLS: %w", err)
	}
	outbox := c.Outbox
	if outbox.CallTimeout == 0 && c.HelpdeskTimeout > 0 {
		// An attempt is at most a token renewal, a look-up and a post.
		outbox.CallTimeout = 3*c.HelpdeskTimeout + time.Second
	}
	var tickets session.TicketSender = desks
	if c.NoOutbox {
		tickets = nil
	}
	var models *session.ModelOptions
	if c.Model.BaseURL != "" {
		client, err := model.New(model.Options{BaseURL: c.Model.BaseURL, Model: c.Model.Name, APIKey: c.Model.APIKey,
			EmbeddingsModel: c.Model.Embeddings, Timeout: c.Model.Timeout, Transport: c.ModelTransport, Logger: c.Logger,
			UserAgent: c.HelpdeskAgent})
		if err != nil {
			stop()
			return nil, fmt.Errorf("BATON_MODEL_BASE_URL: %w", err)
		}
		models = &session.ModelOptions{Model: client, Timeout: c.Model.Timeout, Concurrency: c.Model.Concurrency}
		if c.Model.Embeddings != "" {
			models.Embedder = client
		}
	}
	hookPolicy, err := egress.New(c.WebhookBaseURLs, c.HelpdeskResolver)
	if err != nil {
		stop()
		return nil, fmt.Errorf("BATON_WEBHOOK_BASE_URLS: %w", err)
	}
	hooks := c.Webhooks
	hooks.Sender = webhook.New(hookPolicy)
	mailOpts := c.Mail
	mailOpts.LinkKey = derivedKey(c.Secret, "baton-reopen-links")
	if c.SMTPURL != "" {
		sender, err := mail.New(c.SMTPURL, c.HelpdeskAgent)
		if err != nil {
			stop()
			return nil, fmt.Errorf("BATON_SMTP_URL: %w", err)
		}
		mailOpts.Sender, mailOpts.From = sender, c.SMTPFrom
	}
	var observer session.Observer // a nil *prom.Metrics must not become a non-nil Observer
	if c.Metrics != nil {
		observer = c.Metrics
	}
	svc := session.New(session.Options{Redis: c.Redis, Prefix: c.Prefix, Assistant: assistant.New(), Model: models, Mail: mailOpts,
		Observer: observer,
		Logger:   c.Logger, BcryptCost: c.BcryptCost, Now: c.Now, Unbatched: c.Unbatched, Linger: c.Linger, ClassicPubSub: c.ClassicPubSub,
		Tickets: tickets, Outbox: outbox, Webhooks: hooks, Secret: c.Secret, SecretPrevious: c.SecretPrevious, Renewer: desks,
		NewConversations: session.NewConversationLimits{PerAddress: c.Limits.NewPerAddress, PerMerchant: c.Limits.NewPerMerchant}})
	sockOpts := c.Sockets
	sockOpts.Logger = c.Logger
	if c.Metrics != nil {
		sockOpts.WriteWait = c.Metrics.SocketWriteWait
	}
	sockets := socket.NewRegistry(sockOpts)
	if c.Metrics != nil {
		c.Metrics.WatchState(svc)
		c.Metrics.WatchSockets(sockets, "visitor", "console")
	}
	gw, err := gateway.New(svc, svc.Hub(), sockets, gateway.Options{VisitorRateLimit: c.VisitorRateLimit,
		VisitorFrameLimit: c.VisitorFrameLimit, Logger: c.Logger,
		SocketsPerAddress: c.Limits.SocketsPerAddress, SocketsPerMerchant: c.Limits.SocketsPerMerchant,
		TrustedProxies: c.Limits.TrustedProxies})
	if err != nil {
		stop()
		return nil, fmt.Errorf("BATON_TRUSTED_PROXIES: %w", err)
	}
	svc.Run(ctx)
	go sockets.Run(ctx)
	agentconsole.New(svc, svc.Hub(), agentconsole.NewTokens(c.Secret, c.Now, c.SecretPrevious), sockets, c.Logger).
		WithHelpdesks(desks).WithPublicURL(c.PublicURL).WithFrameLimit(c.AgentFrameLimit).Register(gw.Engine())
	widget.Register(gw.Engine(), widget.Options{DemoPage: c.Demo, DemoKey: demoWidgetKey})
	return &app{svc: svc, gw: gw, sockets: sockets, stop: stop}, nil
}

// Close stops the background work. Sockets are drained by Serve.
func (a *app) Close() {
	a.stop()
	a.svc.Close()
}

// derivedKey is a key for one purpose, made from the deployment's secret.
func derivedKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
