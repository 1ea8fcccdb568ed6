package agentconsole_test

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// TestConsoleSocketOrigin: the agent socket is for Baton's own pages.
func TestConsoleSocketOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	code, raw := e.dialStatus("/v1/agent/ws", originHeader("https://evil.example"))
	require.Equal(t, 403, code)
	requireAPIError(t, raw)
	code, _ = e.dialStatus("/v1/agent/ws", originHeader(e.srv.URL))
	require.Equal(t, 101, code)
}

// TestConsoleSocketThatNeverAuthenticates: a console socket that never
// authenticates gets an error frame auth_timeout and a close with 1008
// after about 10 seconds (the visitor socket's hello_timeout is tested in
// gateway).
func TestConsoleSocketThatNeverAuthenticates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start := time.Now()
	console, _, err := e.dial("/v1/agent/ws", nil)
	require.NoError(t, err)
	code := console.WaitCloseCode(13 * time.Second)
	after := time.Since(start)
	require.Greater(t, after, 8*time.Second, "closed too early")
	require.Less(t, after, 12*time.Second, "closed too late")
	var f map[string]any
	for _, fr := range console.Snapshot() {
		if fr["type"] == "error" && fr["code"] == "auth_timeout" {
			f = fr
		}
	}
	// The error frame and the 1008 close come before the deadline (a past
	// bug closed the console's socket bare, 1006).
	require.NotNil(t, f, "no error auth_timeout before the close (close code %d); frames %v", code, console.Snapshot())
	require.NotEmpty(t, f["message"])
	require.Equal(t, websocket.ClosePolicyViolation, code)
}
