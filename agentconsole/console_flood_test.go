package agentconsole_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/agentconsole"
)

// waitFor bounds how long the flood may take to get through.
const waitFor = 15 * time.Second

// TestConsoleFrameLimit: a console that floods its socket with lines gets
// rate_limited errors that name each refused line by client_id and
// conversation_id; sending those again after a short wait, as the console
// does, stores every line exactly once. With the limit off nothing is
// refused.
func TestConsoleFrameLimit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		limit int
	}{
		{"the default", agentconsole.DefaultFrameLimit},
		{"off", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *agentconsole.Console) { c.WithFrameLimit(tc.limit) })
			s := e.shop("Flood Shop")
			token := e.addAgent(s, "fay@flood.example", "Fay")
			v := e.visitor(s)
			convID := v.id
			v.handoff("flood@example.com")
			code, body := e.do("POST", "/v1/agent/conversations/"+convID+"/claim", token, nil)
			require.Equal(t, 200, code, "%v", body)
			con := e.console(token)

			// Five seconds' worth at the default in one go: a flood.
			const lines = 5 * agentconsole.DefaultFrameLimit
			line := func(clientID string) {
				con.Send(map[string]any{"type": "message", "conversation_id": convID, "client_id": clientID, "text": "line " + clientID})
			}
			for i := range lines {
				line(cid("flood", i))
			}
			echoed := map[string]int{}
			var again []string // refused, to be sent again in the order refused
			refusals := 0
			// The console waits a moment before it sends refused lines again.
			resend := time.NewTicker(200 * time.Millisecond)
			defer resend.Stop()
			deadline := time.After(waitFor)
			for len(echoed) < lines {
				select {
				case f := <-con.Frames():
					switch f["type"] {
					case "message":
						m, _ := f["message"].(map[string]any)
						if id, _ := m["client_id"].(string); m["role"] == "agent" && strings.HasPrefix(id, "flood-") {
							echoed[id]++
						}
					case "error":
						require.Equal(t, "rate_limited", f["code"], "%v", f)
						require.Equal(t, convID, f["conversation_id"], "the refusal names the conversation: %v", f)
						id, _ := f["client_id"].(string)
						require.True(t, strings.HasPrefix(id, "flood-"), "the refusal names the line: %v", f)
						again = append(again, id)
						refusals++
					}
				case <-resend.C:
					for _, id := range again {
						line(id)
					}
					again = nil
				case <-deadline:
					t.Fatalf("%d of %d lines echoed within %s (%d refusals)", len(echoed), lines, waitFor, refusals)
				}
			}
			t.Logf("limit %d/s: %d lines, %d refusals", tc.limit, lines, refusals)
			if tc.limit == 0 {
				require.Zero(t, refusals)
			} else {
				require.Positive(t, refusals, "a flood of %d frames was never refused", lines)
			}

			stored := map[string]int{}
			for _, m := range e.transcript(token, convID) {
				if id, _ := m["client_id"].(string); m["role"] == "agent" {
					stored[id]++
				}
			}
			require.Len(t, stored, lines)
			for id, n := range stored {
				require.Equal(t, 1, n, "%s stored %d times", id, n)
				require.Equal(t, 1, echoed[id], "%s echoed %d times", id, echoed[id])
			}
		})
	}
}
