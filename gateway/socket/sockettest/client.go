// Package sockettest is a WebSocket client for tests that talk to Baton's
// sockets as an outside client would: JSON frames collected as they come,
// waits for the frame a test expects, and the visitor's common steps.
// The gateway's, the console's and the end-to-end tests share it, so a
// change to how a test reads frames is made once.
package sockettest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// Wait is how long Next waits for a frame: long enough for a loaded CI
// machine, short enough that a missing frame fails the test soon.
const Wait = 5 * time.Second

// Client is a test socket that collects frames.
type Client struct {
	T    *testing.T
	Conn *websocket.Conn

	frames chan map[string]any
	closed chan struct{}
	mu     sync.Mutex
	err    error
	all    []map[string]any
}

// Dial opens a socket to url (ws:// or wss://) and reads it until it
// closes; the socket is closed when t ends.
func Dial(t *testing.T, url string, header http.Header) (*Client, *http.Response, error) {
	return DialWith(t, websocket.DefaultDialer, url, header, 4096)
}

// DialWith is Dial through a dialer of the test's own (another source
// address, say), keeping up to buffer frames unread (a test that opens
// thousands of sockets wants few).
func DialWith(t *testing.T, d *websocket.Dialer, url string, header http.Header, buffer int) (*Client, *http.Response, error) {
	conn, res, err := d.Dial(url, header)
	if err != nil {
		return nil, res, err
	}
	c := &Client{T: t, Conn: conn, frames: make(chan map[string]any, buffer), closed: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { _ = conn.Close() })
	return c, res, nil
}

// URL turns an http:// server address and a path into the ws:// address.
func URL(base, path string) string { return "ws" + strings.TrimPrefix(base, "http") + path }

func (c *Client) read() {
	defer close(c.closed)
	for {
		_, data, err := c.Conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var f map[string]any
		if json.Unmarshal(data, &f) != nil {
			c.T.Errorf("server sent a frame that is not JSON: %q", data)
			continue
		}
		c.mu.Lock()
		c.all = append(c.all, f)
		c.mu.Unlock()
		c.frames <- f
	}
}

// Send writes v as one JSON frame.
func (c *Client) Send(v any) {
	c.T.Helper()
	require.NoError(c.T, c.Conn.WriteJSON(v))
}

// SendRaw writes one text frame as is.
func (c *Client) SendRaw(data string) {
	c.T.Helper()
	require.NoError(c.T, c.Conn.WriteMessage(websocket.TextMessage, []byte(data)))
}

// Next returns the next frame that satisfies ok, failing after Wait.
func (c *Client) Next(what string, ok func(map[string]any) bool) map[string]any {
	c.T.Helper()
	return c.NextWithin(Wait, what, ok)
}

// NextWithin is Next with its own deadline, for what comes later by design.
func (c *Client) NextWithin(d time.Duration, what string, ok func(map[string]any) bool) map[string]any {
	c.T.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-c.frames:
			if ok(f) {
				return f
			}
		case <-deadline:
			c.T.Fatalf("no %s frame within %s; frames so far: %v", what, d, c.Snapshot())
			return nil
		}
	}
}

// Expect returns the next frame of type typ, skipping others.
func (c *Client) Expect(typ string) map[string]any {
	c.T.Helper()
	return c.Next(typ, func(f map[string]any) bool { return f["type"] == typ })
}

// ExpectMessage returns the next message frame with the given role (the
// visitor's flat frame or the console's {message: …}).
func (c *Client) ExpectMessage(role string) map[string]any {
	c.T.Helper()
	return c.Next("message/"+role, func(f map[string]any) bool {
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

// ExpectError returns the next error frame and checks its code.
func (c *Client) ExpectError(code string) map[string]any {
	c.T.Helper()
	f := c.Expect("error")
	require.Equal(c.T, code, f["code"], "error frame %v", f)
	return f
}

// Quiet fails if a frame that satisfies ok comes within d.
func (c *Client) Quiet(d time.Duration, ok func(map[string]any) bool) {
	c.T.Helper()
	deadline := time.After(d)
	for {
		select {
		case f := <-c.frames:
			if ok(f) {
				c.T.Fatalf("unexpected frame %v", f)
			}
		case <-deadline:
			return
		}
	}
}

// Snapshot is every frame received so far, in order.
func (c *Client) Snapshot() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.all...)
}

// FramesJSON is Snapshot as JSON, for failure messages.
func (c *Client) FramesJSON() string {
	b, _ := json.Marshal(c.Snapshot())
	return string(b)
}

// CloseErr is the error that ended the reading (nil while it reads).
func (c *Client) CloseErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Frames is where frames arrive, for a test that selects on them itself.
func (c *Client) Frames() <-chan map[string]any { return c.frames }

// Closed is closed once the socket has stopped reading.
func (c *Client) Closed() <-chan struct{} { return c.closed }

// WaitCloseCode waits up to d for the socket to close and returns the
// close code (1006 when no close frame came).
func (c *Client) WaitCloseCode(d time.Duration) int {
	c.T.Helper()
	select {
	case <-c.closed:
	case <-time.After(d):
		c.T.Fatalf("socket not closed within %s; frames: %v", d, c.Snapshot())
	}
	var ce *websocket.CloseError
	if errors.As(c.CloseErr(), &ce) {
		return ce.Code
	}
	return websocket.CloseAbnormalClosure
}

// Hello starts a conversation on v and returns the welcome frame.
func Hello(v *Client) map[string]any {
	v.T.Helper()
	v.Send(map[string]any{"type": "hello", "locale": "en"})
	w := v.Expect("welcome")
	require.NotEmpty(v.T, w["conversation_id"])
	require.NotEmpty(v.T, w["resume_token"])
	return w
}

// Say sends a message and waits for its acknowledgement (its own echo).
func Say(v *Client, clientID, text string) map[string]any {
	v.T.Helper()
	v.Send(map[string]any{"type": "message", "client_id": clientID, "text": text})
	return EchoOf(v, clientID)
}

// EchoOf waits for the visitor message frame carrying clientID.
func EchoOf(v *Client, clientID string) map[string]any {
	v.T.Helper()
	return v.Next("echo of "+clientID, func(f map[string]any) bool {
		return f["type"] == "message" && f["role"] == "visitor" && f["client_id"] == clientID
	})
}

// Handoff takes a visitor in status assistant to queued through the
// button, the offer and the email request, and returns the system message
// the queue sends.
func Handoff(v *Client, email string) map[string]any {
	v.T.Helper()
	v.Send(map[string]any{"type": "handoff_request"})
	v.Expect("handoff_offer")
	v.Send(map[string]any{"type": "handoff_reply", "accept": true})
	v.Expect("email_request")
	v.Send(map[string]any{"type": "email", "email": email})
	st := v.Expect("status")
	require.Equal(v.T, "queued", st["status"], "status frame %v", st)
	return v.ExpectMessage("system")
}

// Do sends one HTTP request to base+path and returns the status and the
// raw body. body may be nil, a string (sent as is), []byte, or anything
// JSON-encodable; token, when set, goes in the Authorization header.
func Do(t *testing.T, base, method, path, token string, body any, header http.Header) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, base+path, rd)
	require.NoError(t, err)
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
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, raw
}

// DialStatus tries a socket upgrade and returns the HTTP status and body;
// 101 means it upgraded (the socket is closed again at once).
func DialStatus(t *testing.T, url string, header http.Header) (int, []byte) {
	t.Helper()
	conn, res, err := websocket.DefaultDialer.Dial(url, header)
	if err == nil {
		_ = conn.Close()
		return res.StatusCode, nil
	}
	require.ErrorIs(t, err, websocket.ErrBadHandshake, "dial %s", url)
	require.NotNil(t, res)
	raw, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	return res.StatusCode, raw
}

// Origin is a header with that Origin, or none for "".
func Origin(origin string) http.Header {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return h
}
