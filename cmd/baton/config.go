package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/batonchat/baton/agentconsole"
	"github.com/batonchat/baton/gateway/mail"
	"github.com/batonchat/baton/session"
)

type config struct {
	Addr              string
	RedisURL          string
	Secret            string
	SecretPrevious    string // BATON_SECRET_PREVIOUS: still verifies while the secret rotates
	VisitorRateLimit  int
	VisitorFrameLimit int
	AgentFrameLimit   int
	Prefix            string
	DrainTimeout      time.Duration
	LogLevel          slog.Level
	LogJSON           bool
	DebugAddr         string
	// MetricsAddr: the Prometheus listener (BATON_METRICS_ADDR), none when
	// empty; MetricsMerchants: merchants with their own queue series
	// (BATON_METRICS_MERCHANTS), the rest summed as "other".
	MetricsAddr      string
	MetricsMerchants int
	Unbatched        bool
	// Linger: BATON_REDIS_LINGER, the batcher's longest wait for company;
	// session.DefaultLinger when zero, none when negative.
	Linger        time.Duration
	ClassicPubSub bool
	// Helpdesk handoffs (Zendesk, Gorgias).
	HelpdeskTimeout time.Duration
	// HelpdeskBaseURLs: the base_url prefixes integrations may use
	// (BATON_HELPDESK_BASE_URLS).
	HelpdeskBaseURLs []string
	// WebhookBaseURLs: the URL prefixes webhook endpoints may use beyond
	// public addresses (BATON_WEBHOOK_BASE_URLS).
	WebhookBaseURLs []string
	// ZendeskClientID and ZendeskClientSecret: the operator's Zendesk OAuth
	// client, for "Connect with Zendesk"; PublicURL: where Baton is
	// reached, for its redirect_uri (BATON_PUBLIC_URL).
	ZendeskClientID     string
	ZendeskClientSecret string
	PublicURL           string
	Outbox              session.OutboxOptions
	Limits              visitorLimits
	Model               modelConfig
	// SMTP, for emailing visitors who left what a person wrote.
	SMTPURL  string
	SMTPFrom string
}

// modelConfig is the deployment's language model, if any (BATON_MODEL_*).
type modelConfig struct {
	BaseURL     string
	Name        string
	APIKey      string
	Embeddings  string
	Timeout     time.Duration
	Concurrency int
}

func (m *modelConfig) load(getenv func(string) string) error {
	m.BaseURL = strings.TrimSpace(getenv("BATON_MODEL_BASE_URL"))
	m.Name = strings.TrimSpace(getenv("BATON_MODEL_NAME"))
	m.APIKey = strings.TrimSpace(getenv("BATON_MODEL_API_KEY"))
	m.Embeddings = strings.TrimSpace(getenv("BATON_EMBEDDINGS_MODEL"))
	m.Timeout = 20 * time.Second
	if (m.BaseURL == "") != (m.Name == "") {
		return errors.New("BATON_MODEL_BASE_URL and BATON_MODEL_NAME go together: set both for a model, neither for none")
	}
	if v := getenv("BATON_MODEL_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond {
			return fmt.Errorf("BATON_MODEL_TIMEOUT=%q: want a duration of at least 100ms, like 20s", v)
		}
		m.Timeout = d
	}
	if v := getenv("BATON_MODEL_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("BATON_MODEL_CONCURRENCY=%q: want a whole number of at least 1", v)
		}
		m.Concurrency = n
	}
	return nil
}

// visitorLimits cap what visitors may open, so a script cannot take a
// node's sockets or grow Redis without bound.
type visitorLimits struct {
	SocketsPerAddress  int // open visitor sockets per client address, per node
	SocketsPerMerchant int // per merchant, per node
	NewPerAddress      int // conversations stored per address per 10 minutes
	NewPerMerchant     int // per merchant per 10 minutes
	TrustedProxies     []string
}

func defaultLimits() visitorLimits {
	return visitorLimits{SocketsPerAddress: 100, NewPerAddress: 30, NewPerMerchant: 10000}
}

func (l *visitorLimits) load(getenv func(string) string) error {
	for _, n := range []struct {
		name string
		dst  *int
	}{
		{"BATON_SOCKETS_PER_ADDRESS", &l.SocketsPerAddress},
		{"BATON_SOCKETS_PER_MERCHANT", &l.SocketsPerMerchant},
		{"BATON_NEW_CONVERSATIONS_PER_ADDRESS", &l.NewPerAddress},
		{"BATON_NEW_CONVERSATIONS_PER_MERCHANT", &l.NewPerMerchant},
	} {
		if v := getenv(n.name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 0 {
				return fmt.Errorf("%s=%q: want a whole number, 0 for no limit", n.name, v)
			}
			*n.dst = i
		}
	}
	if v := strings.TrimSpace(getenv("BATON_TRUSTED_PROXIES")); v != "" {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				l.TrustedProxies = append(l.TrustedProxies, p)
			}
		}
	}
	return nil
}

// maxLinger bounds BATON_REDIS_LINGER: a wait longer than a few
// milliseconds would be the latency, not a saving on it.
const maxLinger = 5 * time.Millisecond

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr:              getenv("BATON_ADDR"),
		RedisURL:          strings.TrimSpace(getenv("REDIS_URL")),
		Secret:            getenv("BATON_SECRET"),
		SecretPrevious:    getenv("BATON_SECRET_PREVIOUS"),
		VisitorRateLimit:  120,
		VisitorFrameLimit: 20,
		AgentFrameLimit:   agentconsole.DefaultFrameLimit,
		Prefix:            getenv("BATON_KEY_PREFIX"),
		DrainTimeout:      10 * time.Second,
		LogJSON:           getenv("BATON_LOG_FORMAT") == "json",
		DebugAddr:         getenv("BATON_DEBUG_ADDR"),
		MetricsAddr:       strings.TrimSpace(getenv("BATON_METRICS_ADDR")),
		MetricsMerchants:  50,
		Unbatched:         getenv("BATON_REDIS_BATCHING") == "0",
		ClassicPubSub:     getenv("BATON_REDIS_SHARDED_PUBSUB") == "0",
		HelpdeskTimeout:   15 * time.Second,
		Limits:            defaultLimits(),
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.Prefix == "" {
		c.Prefix = "baton:"
	}
	if v := getenv("BATON_VISITOR_RATE_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("BATON_VISITOR_RATE_LIMIT=%q: want a number of messages per minute, 0 for no limit", v)
		}
		c.VisitorRateLimit = n
	}
	if v := getenv("BATON_VISITOR_FRAME_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("BATON_VISITOR_FRAME_LIMIT=%q: want a number of frames per second, 0 for no limit", v)
		}
		c.VisitorFrameLimit = n
	}
	if v := getenv("BATON_AGENT_FRAME_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("BATON_AGENT_FRAME_LIMIT=%q: want a number of frames per second, 0 for no limit", v)
		}
		c.AgentFrameLimit = n
	}
	if v := getenv("BATON_METRICS_MERCHANTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("BATON_METRICS_MERCHANTS=%q: want how many merchants get their own queue series", v)
		}
		c.MetricsMerchants = n
	}
	if v := getenv("BATON_REDIS_LINGER"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxLinger {
			return c, fmt.Errorf("BATON_REDIS_LINGER=%q: want a duration from 0 (never wait) to %v, like 500us", v, maxLinger)
		}
		c.Linger = d
		if d == 0 {
			c.Linger = -1
		}
	}
	if v := getenv("BATON_DRAIN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("BATON_DRAIN_TIMEOUT=%q: want a duration like 10s", v)
		}
		c.DrainTimeout = d
	}
	if err := c.loadHelpdesk(getenv); err != nil {
		return c, err
	}
	if err := c.Limits.load(getenv); err != nil {
		return c, err
	}
	if err := c.Model.load(getenv); err != nil {
		return c, err
	}
	c.SMTPURL, c.SMTPFrom = strings.TrimSpace(getenv("BATON_SMTP_URL")), strings.TrimSpace(getenv("BATON_SMTP_FROM"))
	if c.SMTPURL != "" {
		if _, err := mail.New(c.SMTPURL, ""); err != nil {
			return c, fmt.Errorf("BATON_SMTP_URL: %w", err)
		}
		if _, ok := session.ParseEmail(c.SMTPFrom); !ok {
			return c, errors.New("BATON_SMTP_FROM must be the address emails to visitors come from (merchants may set their own)")
		}
	}
	if v := getenv("BATON_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("BATON_LOG_LEVEL=%q: want debug, info, warn or error", v)
		}
	}
	if c.SecretPrevious != "" && len(c.SecretPrevious) < 16 {
		return c, errors.New("BATON_SECRET_PREVIOUS must be at least 16 characters (the secret it replaces)")
	}
	if c.RedisURL != "" && len(c.Secret) < 16 {
		return c, errors.New("BATON_SECRET must be set (at least 16 characters) when REDIS_URL is")
	}
	return c, nil
}

// loadHelpdesk reads the helpdesk outbox's settings.
func (c *config) loadHelpdesk(getenv func(string) string) error {
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"BATON_HELPDESK_TIMEOUT", &c.HelpdeskTimeout},
		{"BATON_HELPDESK_RETRY_BASE", &c.Outbox.RetryBase},
		{"BATON_HELPDESK_RETRY_MAX", &c.Outbox.RetryMax},
	}
	for _, d := range durations {
		if v := getenv(d.name); v != "" {
			t, err := time.ParseDuration(v)
			if err != nil || t <= 0 {
				return fmt.Errorf("%s=%q: want a duration like 15s", d.name, v)
			}
			*d.dst = t
		}
	}
	ints := []struct {
		name string
		dst  *int
	}{
		{"BATON_HELPDESK_WORKERS", &c.Outbox.Workers},
		{"BATON_HELPDESK_MAX_ATTEMPTS", &c.Outbox.MaxAttempts},
	}
	for _, n := range ints {
		if v := getenv(n.name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 1 {
				return fmt.Errorf("%s=%q: want a whole number of at least 1", n.name, v)
			}
			*n.dst = i
		}
	}
	for _, list := range []struct {
		name string
		dst  *[]string
	}{{"BATON_HELPDESK_BASE_URLS", &c.HelpdeskBaseURLs}, {"BATON_WEBHOOK_BASE_URLS", &c.WebhookBaseURLs}} {
		for _, p := range strings.Split(getenv(list.name), ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			u, err := url.Parse(p)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
				return fmt.Errorf("%s: %q is not an http(s) URL prefix like https://proxy.example/path", list.name, p)
			}
			*list.dst = append(*list.dst, p)
		}
	}
	c.ZendeskClientID = strings.TrimSpace(getenv("BATON_ZENDESK_CLIENT_ID"))
	c.ZendeskClientSecret = strings.TrimSpace(getenv("BATON_ZENDESK_CLIENT_SECRET"))
	if c.ZendeskClientSecret != "" && c.ZendeskClientID == "" {
		return errors.New("BATON_ZENDESK_CLIENT_SECRET needs BATON_ZENDESK_CLIENT_ID (the OAuth client's unique identifier)")
	}
	if v := strings.TrimSpace(getenv("BATON_PUBLIC_URL")); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
			return fmt.Errorf("BATON_PUBLIC_URL=%q: want the address Baton is reached at, like https://chat.example.com", v)
		}
		c.PublicURL = strings.TrimRight(v, "/")
	}
	if c.Outbox.RetryMax > 0 && c.Outbox.RetryBase > c.Outbox.RetryMax {
		return fmt.Errorf("BATON_HELPDESK_RETRY_BASE (%s) is more than BATON_HELPDESK_RETRY_MAX (%s)", c.Outbox.RetryBase, c.Outbox.RetryMax)
	}
	return nil
}

// redisOptions reads REDIS_URL: redis://host:port/db (or rediss://) for one
// server; a comma list of addresses, or redis+cluster://h1:p1,h2:p2 (with
// user and password in the first), for a Redis Cluster.
func redisOptions(raw string) (*redis.UniversalOptions, error) {
	cluster := false
	if rest, ok := strings.CutPrefix(raw, "redis+cluster://"); ok {
		cluster = true
		raw = "redis://" + rest
	} else if rest, ok := strings.CutPrefix(raw, "rediss+cluster://"); ok {
		cluster = true
		raw = "rediss://" + rest
	}
	parts := strings.Split(raw, ",")
	if len(parts) > 1 {
		cluster = true
	}
	first := parts[0]
	if !strings.Contains(first, "://") {
		first = "redis://" + first
	}
	if !cluster {
		o, err := redis.ParseURL(first)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		return &redis.UniversalOptions{Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username,
			Password: o.Password, TLSConfig: o.TLSConfig}, nil
	}
	u, err := url.Parse(first)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("REDIS_URL: cannot read %q", first)
	}
	opts := &redis.UniversalOptions{IsClusterMode: true, Addrs: []string{u.Host}}
	if u.User != nil {
		opts.Username = u.User.Username()
		opts.Password, _ = u.User.Password()
	}
	for _, p := range parts[1:] {
		p = strings.TrimSpace(p)
		if i := strings.Index(p, "://"); i >= 0 {
			p = p[i+3:]
		}
		p = strings.TrimSuffix(p, "/")
		if p == "" {
			continue
		}
		opts.Addrs = append(opts.Addrs, p)
	}
	if u.Scheme == "rediss" {
		o, err := redis.ParseURL(first)
		if err == nil {
			opts.TLSConfig = o.TLSConfig
		}
	}
	return opts, nil
}

func newRedis(raw string) (redis.UniversalClient, error) {
	opts, err := redisOptions(raw)
	if err != nil {
		return nil, err
	}
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 3 * time.Second
	opts.WriteTimeout = 3 * time.Second
	opts.PoolTimeout = 4 * time.Second
	opts.MaxRetries = 2
	return redis.NewUniversalClient(opts), nil
}
