package agentconsole_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/batonchat/baton/gateway/socket/sockettest"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/batonchat/baton/agentconsole"
	"github.com/batonchat/baton/gateway/socket"
	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/assistant"
	"github.com/batonchat/baton/session/sessiontest"
)

// The console's REST routes and socket, tested against a real session core
// on a test Redis. The visitor's side goes through the core directly (see
// visitor_test.go): the console never imports the gateway.

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

const testSecret = "test-secret-0123456789" // signs the agent tokens

// env is one console on a session core of its own, served by httptest.
type env struct {
	t   *testing.T
	svc *session.Service
	srv *httptest.Server
	ctx context.Context
}

func newEnv(t *testing.T, opts ...func(*agentconsole.Console)) *env {
	t.Helper()
	return newEnvWith(t, nil, opts...)
}

// newEnvWith is newEnv with the core's options edited first.
func newEnvWith(t *testing.T, edit func(*session.Options), opts ...func(*agentconsole.Console)) *env {
	t.Helper()
	rdb, prefix := sessiontest.Redis(t)
	log := slog.New(slog.DiscardHandler)
	if debugLogs() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	sopts := session.Options{Redis: rdb, Prefix: prefix, Assistant: assistant.New(), Logger: log, BcryptCost: bcrypt.MinCost}
	if edit != nil {
		edit(&sopts)
	}
	svc := session.New(sopts)
	svc.Run(ctx)
	sockets := socket.NewRegistry(socket.Options{Logger: log})
	go sockets.Run(ctx)
	engine := gin.New()
	console := agentconsole.New(svc, svc.Hub(), agentconsole.NewTokens([]byte(testSecret), nil), sockets, log)
	for _, o := range opts {
		o(console)
	}
	console.Register(engine)
	srv := httptest.NewServer(engine)
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 3*time.Second)
		sockets.Drain(dctx)
		dcancel()
		srv.Close()
		cancel()
		svc.Close()
	})
	return &env{t: t, svc: svc, srv: srv, ctx: ctx}
}

// withT returns the same console seen from a subtest: requests, sockets and
// their cleanups then belong to t, so a failure stops t only.
func (e *env) withT(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

type shop struct {
	m          *session.Merchant
	adminToken string
}

// shop makes a merchant with an admin signed in.
func (e *env) shop(name string, origins ...string) shop {
	e.t.Helper()
	m, err := e.svc.CreateMerchant(e.ctx, name, origins, "")
	require.NoError(e.t, err)
	email := strings.ToLower(strings.ReplaceAll(name, " ", "")) + "-admin@example.com"
	_, err = e.svc.CreateAgent(e.ctx, m.ID, email, name+" Admin", "admin-password", true)
	require.NoError(e.t, err)
	return shop{m: m, adminToken: e.login(email, "admin-password")}
}

func (e *env) addAgent(s shop, email, name string) string {
	e.t.Helper()
	_, err := e.svc.CreateAgent(e.ctx, s.m.ID, email, name, "agent-password", false)
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

// requireAPIError checks that raw is the contract's error body,
// {"error": {"code": "snake_case", "message": "..."}}, and returns the code.
func requireAPIError(t *testing.T, raw []byte) string {
	t.Helper()
	var body struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(raw, &body), "error body is not JSON: %q", raw)
	require.NotNil(t, body.Error, "no \"error\" object in %s", raw)
	require.NotNil(t, body.Error.Code, "no error.code in %s", raw)
	require.NotNil(t, body.Error.Message, "no error.message in %s", raw)
	require.Regexp(t, `^[a-z][a-z0-9_]*$`, *body.Error.Code, "error.code is not snake_case in %s", raw)
	require.NotEmpty(t, *body.Error.Message, "empty error.message in %s", raw)
	return *body.Error.Code
}

// transcript reads a conversation's messages over REST.
func (e *env) transcript(token, convID string) []map[string]any {
	e.t.Helper()
	code, body := e.do("GET", "/v1/agent/conversations/"+convID, token, nil)
	require.Equal(e.t, 200, code, "%v", body)
	raw, _ := body["messages"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for i, m := range raw {
		mm := m.(map[string]any)
		require.EqualValues(e.t, i+1, num(mm["seq"]), "transcript seq gap at %d: %v", i, raw)
		out = append(out, mm)
	}
	return out
}

// visitorClientIDs lists the client_ids of the visitor's entries, in order.
func visitorClientIDs(msgs []map[string]any) []string {
	out := []string{}
	for _, m := range msgs {
		if m["role"] == "visitor" {
			id, _ := m["client_id"].(string)
			out = append(out, id)
		}
	}
	return out
}

// console opens a console socket signed in with token.
func (e *env) console(token string) *client {
	e.t.Helper()
	c, _, err := e.dial("/v1/agent/ws", nil)
	require.NoError(e.t, err)
	c.Send(map[string]any{"type": "auth", "token": token})
	c.Expect("ready")
	return c
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }

func cid(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

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

// doRaw sends a request and returns the status and the raw body (see
// sockettest.Do for what body may be).
func (e *env) doRaw(method, path, token string, body any, header http.Header) (int, []byte) {
	e.t.Helper()
	return sockettest.Do(e.t, e.srv.URL, method, path, token, body, header)
}

func (e *env) dialStatus(path string, header http.Header) (int, []byte) {
	e.t.Helper()
	return sockettest.DialStatus(e.t, e.wsURL(path), header)
}

func originHeader(origin string) http.Header { return sockettest.Origin(origin) }
