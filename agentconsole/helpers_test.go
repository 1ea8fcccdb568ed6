package agentconsole_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
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

// doRaw sends a request and returns the status and the raw body. body may be
// nil, a string (sent as is), []byte, or anything JSON-encodable.
func (e *env) doRaw(method, path, token string, body any, header http.Header) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return res.StatusCode, raw
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

func (e *env) wsURL(path string) string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + path }

// client is a console socket that collects frames.
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

// console opens a console socket signed in with token.
func (e *env) console(token string) *client {
	e.t.Helper()
	c, _, err := e.dial("/v1/agent/ws", nil)
	require.NoError(e.t, err)
	c.send(map[string]any{"type": "auth", "token": token})
	c.expect("ready")
	return c
}

// dialStatus tries a socket upgrade and returns the HTTP status and body;
// 101 means it upgraded (the socket is closed again at once).
func (e *env) dialStatus(path string, header http.Header) (int, []byte) {
	e.t.Helper()
	conn, res, err := websocket.DefaultDialer.Dial(e.wsURL(path), header)
	if err == nil {
		_ = conn.Close()
		return res.StatusCode, nil
	}
	require.ErrorIs(e.t, err, websocket.ErrBadHandshake, "dial %s", path)
	require.NotNil(e.t, res)
	raw, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	return res.StatusCode, raw
}

func originHeader(origin string) http.Header {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return h
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

// sendRaw writes one text frame as is.
func (c *client) sendRaw(data string) {
	c.t.Helper()
	require.NoError(c.t, c.conn.WriteMessage(websocket.TextMessage, []byte(data)))
}

// next returns the next frame that satisfies ok, failing after a few seconds.
func (c *client) next(what string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f := <-c.frames:
			if ok(f) {
				return f
			}
		case <-deadline:
			c.t.Fatalf("no %s frame within 5s; frames so far: %v", what, c.snapshot())
			return nil
		}
	}
}

// nextWithin is next with a deadline of one's own.
func (c *client) nextWithin(d time.Duration, what string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-c.frames:
			if ok(f) {
				return f
			}
		case <-c.closed:
			// Frames read before the close are still in the channel.
			for {
				select {
				case f := <-c.frames:
					if ok(f) {
						return f
					}
				default:
					c.t.Fatalf("socket closed (%v) before a %s frame; frames: %v", c.closeErr(), what, c.snapshot())
					return nil
				}
			}
		case <-deadline:
			c.t.Fatalf("no %s frame within %s; frames so far: %v", what, d, c.snapshot())
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
		m, _ := f["message"].(map[string]any)
		return m["role"] == role
	})
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

func (c *client) snapshot() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.all...)
}

func (c *client) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// waitCloseCode waits up to d for the server to close the socket and
// returns the close code it sent (1006 when there was no close frame).
func (c *client) waitCloseCode(d time.Duration) int {
	c.t.Helper()
	select {
	case <-c.closed:
	case <-time.After(d):
		c.t.Fatalf("socket not closed within %s; frames: %v", d, c.snapshot())
	}
	var ce *websocket.CloseError
	if errors.As(c.closeErr(), &ce) {
		return ce.Code
	}
	return websocket.CloseAbnormalClosure
}

// framesJSON renders every frame a client got, for "never contains" checks.
func (c *client) framesJSON() string {
	b, _ := json.Marshal(c.snapshot())
	return string(b)
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
