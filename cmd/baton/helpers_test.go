package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/sessiontest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}

// env is one Baton on a test Redis prefix, served by httptest.
type env struct {
	t   *testing.T
	app *app
	srv *httptest.Server
	ctx context.Context
	cfg appConfig // what app was made from: more nodes can share its Redis prefix
}

type envOption func(*appConfig)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	rdb, prefix := sessiontest.Redis(t)
	return newEnvOn(t, rdb, prefix, opts...)
}

// newEnvOn starts a Baton node on a given Redis and prefix: several nodes on
// one prefix are one gateway, as behind a load balancer.
func newEnvOn(t *testing.T, rdb redis.UniversalClient, prefix string, opts ...envOption) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := appConfig{Redis: rdb, Prefix: prefix, Secret: []byte("test-secret-0123456789"),
		VisitorRateLimit: 0, BcryptCost: bcrypt.MinCost,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// The fake helpdesks listen on 127.0.0.1: the test deployment
		// allows that host as a base_url (BATON_HELPDESK_BASE_URLS).
		HelpdeskBaseURLs: []string{"http://127.0.0.1"}}
	if debugLogs() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := newApp(ctx, cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(a.gw.Handler())
	e := &env{t: t, app: a, srv: srv, ctx: ctx, cfg: cfg}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 3*time.Second)
		a.sockets.Drain(dctx)
		dcancel()
		srv.Close()
		cancel()
		a.Close()
	})
	return e
}

type shop struct {
	m          *session.Merchant
	adminToken string
}

// shop makes a merchant with an admin signed in.
func (e *env) shop(name string, origins ...string) shop {
	e.t.Helper()
	m, err := e.app.svc.CreateMerchant(e.ctx, name, origins, "")
	require.NoError(e.t, err)
	email := strings.ToLower(strings.ReplaceAll(name, " ", "")) + "-admin@example.com"
	_, err = e.app.svc.CreateAgent(e.ctx, m.ID, email, name+" Admin", "admin-password", true)
	require.NoError(e.t, err)
	return shop{m: m, adminToken: e.login(email, "admin-password")}
}

func (e *env) addAgent(s shop, email, name string) string {
	e.t.Helper()
	_, err := e.app.svc.CreateAgent(e.ctx, s.m.ID, email, name, "agent-password", false)
	require.NoError(e.t, err)
	return e.login(email, "agent-password")
}

func (e *env) login(email, password string) string {
	e.t.Helper()
	code, body := e.do("POST", "/v1/auth/login", "", map[string]string{"email": email, "password": password})
	require.Equal(e.t, 200, code, "login: %v", body)
	return body["token"].(string)
}

// do sends a JSON request and decodes a JSON object back.
func (e *env) do(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	code, raw := e.doRaw(method, path, token, body, nil)
	out := map[string]any{}
	if len(raw) > 0 {
		require.NoError(e.t, json.Unmarshal(raw, &out), "body %q", raw)
	}
	return code, out
}

func (e *env) wsURL(path string) string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + path }

// client is a test socket that collects frames.
type client struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan map[string]any
	closed chan struct{}
	mu     sync.Mutex
	err    error
	all    []map[string]any
}

func (e *env) dial(path string, header http.Header) (*client, *http.Response, error) {
	conn, res, err := websocket.DefaultDialer.Dial(e.wsURL(path), header)
	if err != nil {
		return nil, res, err
	}
	c := &client{t: e.t, conn: conn, frames: make(chan map[string]any, 4096), closed: make(chan struct{})}
	go c.read()
	e.t.Cleanup(func() { _ = conn.Close() })
	return c, res, nil
}

func (e *env) visitor(key string) *client {
	e.t.Helper()
	c, _, err := e.dial("/v1/widget/ws?key="+key, nil)
	require.NoError(e.t, err)
	return c
}

func (e *env) console(token string) *client {
	e.t.Helper()
	c, _, err := e.dial("/v1/agent/ws", nil)
	require.NoError(e.t, err)
	c.send(map[string]any{"type": "auth", "token": token})
	c.expect("ready")
	return c
}

func (c *client) read() {
	defer close(c.closed)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var f map[string]any
		if json.Unmarshal(data, &f) != nil {
			c.t.Errorf("server sent a frame that is not JSON: %q", data)
			continue
		}
		c.mu.Lock()
		c.all = append(c.all, f)
		c.mu.Unlock()
		c.frames <- f
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	require.NoError(c.t, c.conn.WriteJSON(v))
}

// next returns the next frame that satisfies ok, failing after a few seconds.
func (c *client) next(what string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	return c.nextWithin(5*time.Second, what, ok)
}

// nextWithin is next with its own deadline, for what comes later by design.
func (c *client) nextWithin(d time.Duration, what string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-c.frames:
			if ok(f) {
				return f
			}
		case <-deadline:
			c.mu.Lock()
			seen := c.all
			c.mu.Unlock()
			c.t.Fatalf("no %s frame within %s; frames so far: %v", what, d, seen)
			return nil
		}
	}
}

// expect returns the next frame of type typ, skipping others.
func (c *client) expect(typ string) map[string]any {
	c.t.Helper()
	return c.next(typ, func(f map[string]any) bool { return f["type"] == typ })
}

// expectMessage returns the next message frame with the given role.
func (c *client) expectMessage(role string) map[string]any {
	c.t.Helper()
	return c.next("message/"+role, func(f map[string]any) bool {
		if f["type"] != "message" {
			return false
		}
		m := f
		if inner, ok := f["message"].(map[string]any); ok {
			m = inner
		}
		return m["role"] == role
	})
}

// expectError returns the next error frame and checks its code.
func (c *client) expectError(code string) map[string]any {
	c.t.Helper()
	f := c.expect("error")
	require.Equal(c.t, code, f["code"], "error frame %v", f)
	return f
}

// quiet asserts no frame matching ok arrives for d.
func (c *client) quiet(d time.Duration, ok func(map[string]any) bool) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-c.frames:
			if ok(f) {
				c.t.Fatalf("unexpected frame %v", f)
			}
		case <-deadline:
			return
		}
	}
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// debugLogs: with -v the app's debug logs go to stderr. go test -json (CI)
// sets -test.v too, to test2json; there the logs stay off, as without -v.
func debugLogs() bool {
	f := flag.Lookup("test.v")
	return testing.Verbose() && (f == nil || f.Value.String() != "test2json")
}
