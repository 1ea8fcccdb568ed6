package gateway_test

import (
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

	"github.com/batonchat/baton/gateway"
	"github.com/batonchat/baton/gateway/socket"
	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/assistant"
	"github.com/batonchat/baton/session/sessiontest"
)

// The visitor socket's behaviour, tested against a real session core on a
// test Redis. The agent's side, where a test needs one, goes through the
// core directly: the gateway never imports the agent console.

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// env is one gateway on a session core of its own, served by httptest.
type env struct {
	t   *testing.T
	svc *session.Service
	srv *httptest.Server
	ctx context.Context
}

func newEnv(t *testing.T, opts ...func(*gateway.Options)) *env {
	t.Helper()
	rdb, prefix := sessiontest.Redis(t)
	log := slog.New(slog.DiscardHandler)
	if debugLogs() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc := session.New(session.Options{Redis: rdb, Prefix: prefix, Assistant: assistant.New(),
		Logger: log, BcryptCost: bcrypt.MinCost})
	svc.Run(ctx)
	sockets := socket.NewRegistry(socket.Options{Logger: log})
	go sockets.Run(ctx)
	o := gateway.Options{Logger: log}
	for _, f := range opts {
		f(&o)
	}
	gw, err := gateway.New(svc, svc.Hub(), sockets, o)
	require.NoError(t, err)
	srv := httptest.NewServer(gw.Handler())
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

// withT returns the same gateway seen from a subtest: sockets and their
// cleanups then belong to t, so a failure stops t only.
func (e *env) withT(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

type shop struct{ m *session.Merchant }

func (e *env) shop(name string, origins ...string) shop {
	e.t.Helper()
	m, err := e.svc.CreateMerchant(e.ctx, name, origins, "")
	require.NoError(e.t, err)
	return shop{m: m}
}

// settings changes a merchant's settings as an admin would.
func (e *env) settings(s shop, change func(*session.Settings)) {
	e.t.Helper()
	_, err := e.svc.UpdateSettings(e.ctx, s.m.ID, 0, change)
	require.NoError(e.t, err)
}

// conversation is a conversation as the team sees it, in the shape of
// GET /v1/agent/conversations/{id}: {"conversation": ..., "messages": [...]}.
func (e *env) conversation(s shop, convID string) map[string]any {
	e.t.Helper()
	conv, entries, err := e.svc.Conversation(e.ctx, s.m.ID, convID)
	require.NoError(e.t, err)
	msgs := make([]json.RawMessage, len(entries))
	for i, en := range entries {
		msgs[i] = en.JSON
	}
	return decode(e.t, map[string]any{"conversation": conv, "messages": msgs})
}

// conversations lists a merchant's conversations ("" for all statuses).
func (e *env) conversations(s shop, status session.Status) []any {
	e.t.Helper()
	convs, err := e.svc.Conversations(e.ctx, s.m.ID, status)
	require.NoError(e.t, err)
	out, _ := decode(e.t, map[string]any{"c": convs})["c"].([]any)
	return out
}

// transcript is a conversation's stored messages, checked to be numbered
// from 1 without gaps.
func (e *env) transcript(s shop, convID string) []map[string]any {
	e.t.Helper()
	raw, _ := e.conversation(s, convID)["messages"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for i, m := range raw {
		mm := m.(map[string]any)
		require.EqualValues(e.t, i+1, num(mm["seq"]), "transcript seq gap at %d: %v", i, raw)
		out = append(out, mm)
	}
	return out
}

func decode(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(b, &out))
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

// expect returns the next frame of type typ, skipping others.
func (c *client) expect(typ string) map[string]any {
	c.t.Helper()
	return c.next(typ, func(f map[string]any) bool { return f["type"] == typ })
}

// expectMessage returns the next message frame with the given role.
func (c *client) expectMessage(role string) map[string]any {
	c.t.Helper()
	return c.next("message/"+role, func(f map[string]any) bool { return f["type"] == "message" && f["role"] == role })
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

func framesOfType(c *client, typ string) []map[string]any {
	var out []map[string]any
	for _, f := range c.snapshot() {
		if f["type"] == typ {
			out = append(out, f)
		}
	}
	return out
}

// hello starts a conversation on v and returns the welcome frame.
func hello(v *client) map[string]any {
	v.t.Helper()
	v.send(map[string]any{"type": "hello", "locale": "en"})
	w := v.expect("welcome")
	require.NotEmpty(v.t, w["conversation_id"])
	require.NotEmpty(v.t, w["resume_token"])
	return w
}

// say sends a message and waits for its acknowledgement (its own echo).
func say(v *client, clientID, text string) map[string]any {
	v.t.Helper()
	v.send(map[string]any{"type": "message", "client_id": clientID, "text": text})
	return echoOf(v, clientID)
}

// echoOf waits for the visitor message frame carrying clientID.
func echoOf(v *client, clientID string) map[string]any {
	v.t.Helper()
	return v.next("echo of "+clientID, func(f map[string]any) bool {
		return f["type"] == "message" && f["role"] == "visitor" && f["client_id"] == clientID
	})
}

// handoff takes a visitor in status assistant to queued through the button,
// the offer and the email request, and returns the system message the queue
// sends.
func handoff(v *client, email string) map[string]any {
	v.t.Helper()
	v.send(map[string]any{"type": "handoff_request"})
	v.expect("handoff_offer")
	v.send(map[string]any{"type": "handoff_reply", "accept": true})
	v.expect("email_request")
	v.send(map[string]any{"type": "email", "email": email})
	st := v.expect("status")
	require.Equal(v.t, "queued", st["status"], "status frame %v", st)
	return v.expectMessage("system")
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

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }

func cid(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

// agentOnline makes an agent with a console open, as far as the core can
// tell: available, and counted when the queue says whether someone is on.
func (e *env) agentOnline(s shop, email, name string) session.Actor {
	e.t.Helper()
	a, err := e.svc.CreateAgent(e.ctx, s.m.ID, email, name, "agent-password", false)
	require.NoError(e.t, err)
	actor := session.Actor{ID: a.ID, MerchantID: s.m.ID, Name: a.Name}
	closed, err := e.svc.ConsoleOpened(e.ctx, actor)
	require.NoError(e.t, err)
	e.t.Cleanup(closed)
	return actor
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// debugLogs: with -v the app's debug logs go to stderr. go test -json (CI)
// sets -test.v too, to test2json; there the logs stay off, as without -v.
func debugLogs() bool {
	f := flag.Lookup("test.v")
	return testing.Verbose() && (f == nil || f.Value.String() != "test2json")
}
