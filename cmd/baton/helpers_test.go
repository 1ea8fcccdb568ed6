package main

import (
	"context"
	"encoding/json"
	"flag"
	"github.com/batonchat/baton/gateway/socket/sockettest"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
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
	c.Send(map[string]any{"type": "auth", "token": token})
	c.Expect("ready")
	return c
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

// client is the shared test socket (gateway/socket/sockettest).
type client = sockettest.Client

func (e *env) wsURL(path string) string { return sockettest.URL(e.srv.URL, path) }

func (e *env) dial(path string, header http.Header) (*client, *http.Response, error) {
	return sockettest.Dial(e.t, e.wsURL(path), header)
}
