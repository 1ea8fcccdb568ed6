package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Helpers shared by the end-to-end tests. They sit on top of
// helpers_test.go's env and client. (The tests of bad input and hostile
// callers live with their adapters: gateway and agentconsole.)

// withT returns the same Baton seen from another test (a subtest): requests,
// sockets and their cleanups then belong to t, so a failure stops t only.
func (e *env) withT(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
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

func (c *client) snapshot() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.all...)
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

func cid(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }
