package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway"
	"github.com/batonchat/baton/gateway/rest"
)

// logLines collects JSON log records.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// with returns the records whose request_id is id.
func (l *logLines) with(t *testing.T, id string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "%s", sc.Bytes())
		if rec["request_id"] == id {
			out = append(out, rec)
		}
	}
	return out
}

func messages(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["msg"].(string))
	}
	return out
}

// TestEveryRequestHasAnID: each request and each socket gets an id of its
// own, given back in X-Request-Id and in refusals' bodies, and every log
// line about it carries it, so a merchant's report leads to the logs.
func TestEveryRequestHasAnID(t *testing.T) {
	t.Parallel()
	logs := &logLines{}
	e := newEnv(t, func(o *gateway.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	s := e.shop("Request Id Shop")

	get := func(t *testing.T, path string, header http.Header) (*http.Response, []byte) {
		req, err := http.NewRequest("GET", e.srv.URL+path, nil)
		require.NoError(t, err)
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, body
	}

	seen := map[string]bool{}
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"no such route", "/v1/nothing-here", 404},
		{"unknown widget key", "/v1/widget/ws?key=wk_nope", 404},
		{"a plain GET on the socket route", "/v1/widget/ws?key=" + s.m.WidgetKey, 426},
	} {
		res, body := get(t, tc.path, http.Header{"Origin": {"https://evil.example"}})
		require.Equal(t, tc.status, res.StatusCode, "%s: %s", tc.name, body)
		id := res.Header.Get(rest.HeaderRequestID)
		require.Regexp(t, `^req_[a-z2-7]{16}$`, id, tc.name)
		require.False(t, seen[id], "ids are not reused")
		seen[id] = true
		var refusal struct {
			Error rest.Error `json:"error"`
		}
		require.NoError(t, json.Unmarshal(body, &refusal), "%s", body)
		require.Equal(t, id, refusal.Error.RequestID, "%s: the body names the request: %s", tc.name, body)
		recs := logs.with(t, id)
		require.Len(t, recs, 1, "%s: one line about the request: %v", tc.name, recs)
		require.Equal(t, "request", recs[0]["msg"])
		require.EqualValues(t, tc.status, recs[0]["status"])
	}

	t.Run("a client's id is logged beside ours, never taken", func(t *testing.T) {
		res, _ := get(t, "/v1/nothing-here", http.Header{rest.HeaderRequestID: {"lb-7f3a"}})
		id := res.Header.Get(rest.HeaderRequestID)
		require.NotEqual(t, "lb-7f3a", id)
		recs := logs.with(t, id)
		require.Len(t, recs, 1)
		require.Equal(t, "lb-7f3a", recs[0]["upstream_request_id"])
		require.Empty(t, logs.with(t, "lb-7f3a"))

		res, _ = get(t, "/v1/nothing-here", http.Header{rest.HeaderRequestID: {"<script>alert(1)</script>"}})
		require.NotContains(t, logs.with(t, res.Header.Get(rest.HeaderRequestID))[0], "upstream_request_id",
			"a malformed id is not logged")
	})

	t.Run("a socket", func(t *testing.T) {
		c, res, err := e.dial("/v1/widget/ws?key="+s.m.WidgetKey, nil)
		require.NoError(t, err)
		id := res.Header.Get(rest.HeaderRequestID)
		require.Regexp(t, `^req_`, id, "the upgrade's answer names the socket")
		hello(c)
		require.NoError(t, c.Conn.Close())
		// The socket's own lines come in order; the upgrade's "request" line
		// is written by the handler's goroutine when it returns, which may
		// be after a socket that closes at once has logged its close.
		socketLines := func() []string {
			var out []string
			for _, m := range messages(logs.with(t, id)) {
				if m != "request" {
					out = append(out, m)
				}
			}
			return out
		}
		require.Eventually(t, func() bool {
			return slices.Contains(socketLines(), "visitor socket closed")
		}, 5*time.Second, 10*time.Millisecond)
		require.Equal(t, []string{"visitor socket opened", "visitor socket closed"}, socketLines())
		require.Eventually(t, func() bool {
			return slices.Contains(messages(logs.with(t, id)), "request")
		}, 5*time.Second, 10*time.Millisecond, "the upgrade is logged too")
	})
}
