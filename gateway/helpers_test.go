package gateway_test

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

func (e *env) visitor(key string) *client {
	e.t.Helper()
	c, _, err := e.dial("/v1/widget/ws?key="+key, nil)
	require.NoError(e.t, err)
	return c
}

func framesOfType(c *client, typ string) []map[string]any {
	var out []map[string]any
	for _, f := range c.Snapshot() {
		if f["type"] == typ {
			out = append(out, f)
		}
	}
	return out
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

// client is the shared test socket (gateway/socket/sockettest).
type client = sockettest.Client

func (e *env) wsURL(path string) string { return sockettest.URL(e.srv.URL, path) }

func (e *env) dial(path string, header http.Header) (*client, *http.Response, error) {
	return sockettest.Dial(e.t, e.wsURL(path), header)
}

// The visitor's common steps (see sockettest).
var (
	hello   = sockettest.Hello
	say     = sockettest.Say
	echoOf  = sockettest.EchoOf
	handoff = sockettest.Handoff
)

func (e *env) dialStatus(path string, header http.Header) (int, []byte) {
	e.t.Helper()
	return sockettest.DialStatus(e.t, e.wsURL(path), header)
}

func originHeader(origin string) http.Header { return sockettest.Origin(origin) }
