package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// Helpers shared by the spine tests (bad input, hostile callers). They sit
// on top of helpers_test.go's env and client.

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

// sendRaw writes one text frame as is.
func (c *client) sendRaw(data string) {
	c.t.Helper()
	require.NoError(c.t, c.conn.WriteMessage(websocket.TextMessage, []byte(data)))
}

// framesJSON renders every frame a client got, for "never contains" checks.
func (c *client) framesJSON() string {
	b, _ := json.Marshal(c.snapshot())
	return string(b)
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

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func cid(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }
