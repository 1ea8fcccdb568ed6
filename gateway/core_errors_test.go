package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway"
	"github.com/batonchat/baton/gateway/socket"
	"github.com/batonchat/baton/session"
)

// fakeCore is the gateway's Conversations with only what a test sets:
// anything else answers an error, so a test that reaches further fails.
type fakeCore struct {
	merchantByWidgetKey func(ctx context.Context, key string) (*session.Merchant, error)
	ping                func(ctx context.Context) error
}

var errNotFaked = errors.New("fakeCore: not part of this test")

func (f fakeCore) MerchantByWidgetKey(ctx context.Context, key string) (*session.Merchant, error) {
	if f.merchantByWidgetKey == nil {
		return nil, errNotFaked
	}
	return f.merchantByWidgetKey(ctx, key)
}

func (f fakeCore) Ping(ctx context.Context) error {
	if f.ping == nil {
		return errNotFaked
	}
	return f.ping(ctx)
}

func (fakeCore) StartConversation(context.Context, *session.Merchant, session.VisitorInfo) (*session.Conversation, string, error) {
	return nil, "", errNotFaked
}

func (fakeCore) ResumeConversation(context.Context, string, string, string) (*session.Conversation, error) {
	return nil, errNotFaked
}

func (fakeCore) Identify(_ context.Context, t session.Turn, _ session.VisitorInfo) (session.Turn, error) {
	return t, errNotFaked
}

func (fakeCore) VisitorMessageThen(context.Context, session.Turn, string, string, func()) error {
	return errNotFaked
}
func (fakeCore) RequestHandoff(context.Context, session.Turn) error       { return errNotFaked }
func (fakeCore) ReplyToOffer(context.Context, session.Turn, bool) error   { return errNotFaked }
func (fakeCore) SubmitEmail(context.Context, session.Turn, string) error  { return errNotFaked }
func (fakeCore) CloseByVisitor(context.Context, session.Turn) error       { return errNotFaked }
func (fakeCore) Rate(context.Context, session.Turn, int, string) error    { return errNotFaked }
func (fakeCore) Typing(context.Context, string, session.Role, bool) error { return errNotFaked }
func (fakeCore) Office(*session.Merchant) session.OfficeState             { return session.OfficeState{} }

// noWatcher is a Watcher for tests that never get as far as a feed.
type noWatcher struct{}

func (noWatcher) WatchConversation(context.Context, string, int64, session.ConversationWatcher) *session.Feed {
	return nil
}

func (noWatcher) WatchMerchant(context.Context, string, session.MerchantWatcher) func() {
	return func() {}
}

func fakeGateway(t *testing.T, core fakeCore) *httptest.Server {
	t.Helper()
	gw, err := gateway.New(core, noWatcher{}, socket.NewRegistry(socket.Options{}), gateway.Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// TestUpgradeWhenTheKeyLookupFails: the visitor socket's upgrade answers
// the core's failure to look up a widget key with the contract's error body:
// 404 unknown_key, 503 while storage is away, 500 for anything else.
func TestUpgradeWhenTheKeyLookupFails(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want int
		code string
	}{
		{"no such key", session.ErrNotFound, http.StatusNotFound, "unknown_key"},
		{"storage unavailable", &session.Error{Kind: session.KindUnavailable, Code: "unavailable", Message: "down"}, http.StatusServiceUnavailable, "unavailable"},
		{"anything else", errors.New("disk on fire"), http.StatusInternalServerError, "internal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			asked := make(chan string, 1)
			srv := fakeGateway(t, fakeCore{merchantByWidgetKey: func(_ context.Context, key string) (*session.Merchant, error) {
				asked <- key
				return nil, tc.err
			}})
			e := &env{t: t, srv: srv}
			code, raw := e.dialStatus("/v1/widget/ws?key=wk_test", nil)
			require.Equal(t, tc.want, code, "body %s", raw)
			require.Equal(t, tc.code, requireAPIError(t, raw))
			require.Equal(t, "wk_test", <-asked)
			require.NotContains(t, string(raw), "disk on fire", "an internal error's text reached the visitor")
		})
	}
}

// TestHealth: /healthz says whether the core reaches Redis.
func TestHealth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ping error
		want int
		body map[string]any
	}{
		{"up", nil, http.StatusOK, map[string]any{"status": "ok", "redis": "up", "sockets": float64(0)}},
		{"down", errors.New("connection refused"), http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "redis": "down"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeGateway(t, fakeCore{ping: func(context.Context) error { return tc.ping }})
			res, err := http.Get(srv.URL + "/healthz")
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, tc.want, res.StatusCode)
			var body map[string]any
			require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
			require.Equal(t, tc.body, body)
		})
	}
}

func (fakeCore) ReopenConversation(context.Context, string, string) (*session.Conversation, string, error) {
	return nil, "", errNotFaked
}
func (fakeCore) VisitorOnline(context.Context, string) (func(), error) { return func() {}, nil }
