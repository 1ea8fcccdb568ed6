package model

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/batonchat/baton/session"
)

// Options configure a Client. Zero values take the defaults.
type Options struct {
	// BaseURL is where the API lives, up to and including its version:
	// https://api.openai.com/v1, http://127.0.0.1:8081/v1 (llama.cpp),
	// http://127.0.0.1:11434/v1 (Ollama). A query (Azure's api-version)
	// is kept on every call.
	BaseURL string
	// Model names the chat model; EmbeddingsModel the embeddings model
	// (Embed refuses without one).
	Model           string
	EmbeddingsModel string
	// APIKey goes out as "Authorization: Bearer" (as "api-key" to hosts
	// under azure.com). Optional: local servers need none. It never
	// appears in an error, a log line or anything returned.
	APIKey string
	// Timeout bounds a whole call, from the request to the last byte of
	// the answer (20s).
	Timeout time.Duration
	// IdleTimeout bounds the silence between two reads of a stream once
	// the answer has begun (10s, at most Timeout): a stream that stalls
	// fails before the whole Timeout has gone.
	IdleTimeout time.Duration
	// MaxTokens caps an answer's length (512; negative: not sent, for
	// models that refuse max_tokens).
	MaxTokens int
	// Temperature is sent when set; nil leaves it to the server (some
	// models accept only their default).
	Temperature *float64
	// Transport carries the calls; a fresh one like http.DefaultTransport's
	// when nil.
	Transport http.RoundTripper
	UserAgent string
	Logger    *slog.Logger
}

// Client speaks to one OpenAI-compatible model server. It implements
// session.Model and session.Embedder.
type Client struct {
	http     *http.Client
	opts     Options
	log      *slog.Logger
	chatURL  string
	embedURL string
	azure    bool
}

const (
	defaultTimeout   = 20 * time.Second
	defaultIdle      = 10 * time.Second
	defaultMaxTokens = 512
	// maxStream bounds the bytes read from one answer's stream: an answer
	// of MaxTokens is a few kilobytes even as SSE chunks.
	maxStream = 1 << 20
	// maxErrorBody bounds how much of an error answer is read.
	maxErrorBody = 64 << 10
	// maxEmbeddings bounds an embeddings answer (a few thousand floats per
	// text, as JSON).
	maxEmbeddings = 64 << 20
	maxRetryAfter = time.Hour
)

var (
	_ session.Model    = (*Client)(nil)
	_ session.Embedder = (*Client)(nil)
)

// New returns a Client, or an error when the options cannot work.
func New(o Options) (*Client, error) {
	base, err := url.Parse(strings.TrimSpace(o.BaseURL))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, errors.New("model: the base URL must be an absolute http(s) URL, such as https://api.openai.com/v1")
	}
	if base.User != nil {
		return nil, errors.New("model: the base URL must not carry credentials; set the API key instead")
	}
	if strings.TrimSpace(o.Model) == "" {
		return nil, errors.New("model: a model name is required")
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = defaultIdle
	}
	o.IdleTimeout = min(o.IdleTimeout, o.Timeout)
	if o.MaxTokens == 0 {
		o.MaxTokens = defaultMaxTokens
	}
	if o.UserAgent == "" {
		o.UserAgent = "Baton (assistant)"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tr := o.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: 5 * time.Second,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""
	host := strings.ToLower(base.Hostname())
	return &Client{
		// No http.Client.Timeout: the call's context carries it, so that
		// a timeout and a stall can be told apart. Redirects are not
		// followed: the key must not travel to another host.
		http: &http.Client{Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		opts:     o,
		log:      o.Logger.With("model", o.Model),
		chatURL:  base.JoinPath("chat/completions").String(),
		embedURL: base.JoinPath("embeddings").String(),
		azure:    host == "azure.com" || strings.HasSuffix(host, ".azure.com"),
	}, nil
}

// errStalled ends a call whose stream went quiet for IdleTimeout.
var errStalled = errors.New("stream stalled")

// call is one request in flight: its context carries the whole-call
// timeout and the stall detector's cancel.
type call struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	parent context.Context
	start  time.Time
	// secrets are texts that must not come back in an error: the key and
	// the visitor's words.
	secrets []string
}

func (c *Client) newCall(parent context.Context, secrets []string) (*call, func()) {
	ctx, stop := context.WithTimeout(parent, c.opts.Timeout)
	ctx, cancel := context.WithCancelCause(ctx)
	cl := &call{ctx: ctx, cancel: cancel, parent: parent, start: time.Now(), secrets: secrets}
	return cl, func() { cancel(nil); stop() }
}

// post sends body to url and returns the response when its status is 200;
// any other answer is read, closed and classified.
func (c *Client) post(cl *call, url string, body any) (*http.Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, &session.ModelError{Kind: session.ModelRejected, Message: "could not encode the request: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(cl.ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, &session.ModelError{Kind: session.ModelRejected, Message: "could not make the request"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream, application/json")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	if c.opts.APIKey != "" {
		if c.azure {
			req.Header.Set("api-key", c.opts.APIKey)
		} else {
			req.Header.Set("Authorization", "Bearer "+c.opts.APIKey)
		}
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, c.failed(cl, err)
	}
	if res.StatusCode == http.StatusOK {
		return res, nil
	}
	defer res.Body.Close()
	eb, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	return nil, c.refused(cl, res, eb)
}

// failed classifies a call that broke: the caller's own cancel comes back
// as ctx.Err(), everything else as a *session.ModelError.
func (c *Client) failed(cl *call, err error) error {
	// The caller gave up (a person took over): whatever broke after that
	// is no failure of the model's.
	if errors.Is(cl.parent.Err(), context.Canceled) {
		return cl.parent.Err()
	}
	if me := (*session.ModelError)(nil); errors.As(err, &me) {
		return me
	}
	if errors.Is(context.Cause(cl.ctx), errStalled) {
		return &session.ModelError{Kind: session.ModelTimeout,
			Message: fmt.Sprintf("the stream stalled: no data for %s", c.opts.IdleTimeout)}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || cl.ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
		return &session.ModelError{Kind: session.ModelTimeout,
			Message: fmt.Sprintf("no complete answer within %s", time.Since(cl.start).Round(time.Millisecond))}
	}
	// A *url.Error repeats the URL; the inner error says what happened.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &session.ModelError{Kind: session.ModelUnavailable, Message: cl.scrub(err.Error())}
}

// refused classifies an answer other than 200.
func (c *Client) refused(cl *call, res *http.Response, body []byte) error {
	me := &session.ModelError{Status: res.StatusCode, RetryAfter: retryAfter(res.Header, time.Now())}
	switch s := res.StatusCode; {
	case s == http.StatusTooManyRequests:
		me.Kind = session.ModelRateLimited
	case s == http.StatusRequestTimeout:
		me.Kind = session.ModelTimeout
	case s >= 500:
		me.Kind = session.ModelUnavailable
	default:
		me.Kind = session.ModelRejected
	}
	me.Message = fmt.Sprintf("%d %s", res.StatusCode, http.StatusText(res.StatusCode))
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		me.Message += " (redirects are not followed: check the base URL)"
	} else if d := cl.scrub(errorDetail(body)); d != "" {
		me.Message += ": " + d
	}
	return me
}

// apiError is the error object OpenAI-compatible servers send, at the top
// of an error body or inside a stream: {"error": {"message", "type",
// "code"}}. vLLM puts the fields at the top level; code may be a number.
type apiError struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

func (e *apiError) describe() string {
	var parts []string
	code := strings.Trim(string(e.Code), `"`)
	for _, p := range []string{e.Type, code} {
		if p != "" && p != "null" {
			parts = append(parts, p)
		}
	}
	s := strings.Join(parts, "/")
	if m := strings.TrimSpace(e.Message); m != "" {
		if s != "" {
			s += " "
		}
		s += m
	}
	return s
}

// errorDetail finds the server's words in an error body. Anything but a
// JSON error is not repeated: the base URL may point at any page.
func errorDetail(body []byte) string {
	var v struct {
		Error json.RawMessage `json:"error"`
		apiError
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	var inner apiError
	if json.Unmarshal(v.Error, &inner) == nil && inner.describe() != "" {
		return inner.describe()
	}
	var s string
	if json.Unmarshal(v.Error, &s) == nil && s != "" {
		return s
	}
	return v.apiError.describe()
}

// scrub makes a server's or the network's words safe to log: clipped,
// without the API key (OpenAI repeats a wrong key, masked, in its 401),
// and withheld entirely when they quote what the visitor wrote.
func (cl *call) scrub(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s, cut := session.Clip(s, 300)
	if cut {
		s += "…"
	}
	words := strings.Fields(s)
	for i, w := range words {
		if strings.Contains(w, "sk-") || strings.Contains(w, "***") || strings.Contains(w, "****") {
			words[i] = "[redacted]"
		}
	}
	s = strings.Join(words, " ")
	for _, secret := range cl.secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
		if quotes(s, secret) {
			return "(the server's message is withheld: it quoted the request)"
		}
	}
	return s
}

// quotes reports whether s contains secret or a run of 12 bytes of it
// (8 for short secrets), so that a quoted fragment is caught too.
func quotes(s, secret string) bool {
	secret = strings.Join(strings.Fields(secret), " ")
	if len(secret) < 6 {
		return false
	}
	w := min(12, len(secret))
	if len(secret) < 24 {
		w = min(8, len(secret))
	}
	for i := 0; i+w <= len(secret); i++ {
		if strings.Contains(s, secret[i:i+w]) {
			return true
		}
	}
	return false
}

// retryAfter reads Retry-After (seconds or an HTTP-date) or OpenAI's
// retry-after-ms.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if ms, err := strconv.ParseFloat(strings.TrimSpace(h.Get("Retry-After-Ms")), 64); err == nil && ms > 0 {
		return min(time.Duration(ms*float64(time.Millisecond)), maxRetryAfter)
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return min(time.Duration(n*float64(time.Second)), maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// logDone logs a finished call without a word of its content.
func (c *Client) logDone(cl *call, op string, u session.ModelUsage, err error) {
	d := time.Since(cl.start).Round(time.Millisecond)
	if err == nil {
		c.log.Debug("model call", "op", op, "duration", d, "prompt_tokens", u.PromptTokens, "completion_tokens", u.CompletionTokens)
		return
	}
	if errors.Is(err, context.Canceled) {
		c.log.Debug("model call abandoned", "op", op, "duration", d)
		return
	}
	var me *session.ModelError
	if errors.As(err, &me) {
		c.log.Warn("model call failed", "op", op, "duration", d, "kind", string(me.Kind), "status", me.Status, "error", me.Message)
		return
	}
	c.log.Warn("model call failed", "op", op, "duration", d, "kind", string(session.ModelErrorKindOf(err)))
}
