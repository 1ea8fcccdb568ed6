package agentconsole_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// queuedIDs is the ids of a queue frame's or listing's conversations.
func queuedIDs(convs any) []string {
	list, _ := convs.([]any)
	out := make([]string, 0, len(list))
	for _, c := range list {
		m, _ := c.(map[string]any)
		id, _ := m["id"].(string)
		out = append(out, id)
	}
	return out
}

// TestConsoleQueueStreams: a console that did not opt in gets the
// contract's queue frames (no version, no deltas), folded during a burst
// to at most one per 200 ms and ending with the queue as it is; one that
// opted in gets a versioned snapshot, then deltas numbered one by one, and
// queue_sync answers it with the snapshot at the version it reached.
func TestConsoleQueueStreams(t *testing.T) {
	t.Parallel()
	const burst = 12
	cases := []struct {
		name   string
		deltas bool
	}{
		{"the contract's frames, folded", false},
		{"deltas", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			s := e.shop("Stream Shop")
			token := e.addAgent(s, "sol@stream.example", "Sol")
			con, _, err := e.dial("/v1/agent/ws", nil)
			require.NoError(t, err)
			auth := map[string]any{"type": "auth", "token": token}
			if tc.deltas {
				auth["queue_deltas"] = true
			}
			con.Send(auth)
			con.Expect("ready")
			first := con.Expect("queue")
			require.Equal(t, tc.deltas, first["version"] != nil, "a version only for a console that asked: %v", first)

			start := time.Now()
			var wg sync.WaitGroup
			for i := range burst {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.visitor(s).handoff(fmt.Sprintf("v%d@example.com", i))
				}()
			}
			wg.Wait()
			code, body := e.do("GET", "/v1/agent/conversations?status=queued", token, nil)
			require.Equal(t, 200, code)
			want := queuedIDs(body["conversations"])
			require.Len(t, want, burst)

			if !tc.deltas {
				last := con.Next("the last queue frame", func(f map[string]any) bool {
					return f["type"] == "queue" && len(queuedIDs(f["conversations"])) == burst
				})
				elapsed := time.Since(start)
				require.Equal(t, want, queuedIDs(last["conversations"]))
				require.EqualValues(t, burst, last["total"])
				time.Sleep(400 * time.Millisecond) // nothing is still due
				n := 0
				for _, f := range con.Snapshot() {
					require.NotEqual(t, "queue_delta", f["type"], "deltas only for a console that asked")
					if f["type"] == "queue" {
						require.Nil(t, f["version"], "the contract's frame as it is: %v", f)
						n++
					}
				}
				n-- // the one on connect
				require.LessOrEqual(t, n, int(elapsed/(200*time.Millisecond))+2,
					"%d queue frames for %d handoffs in %v: not folded", n, burst, elapsed)
				t.Logf("%d handoffs in %v: %d queue frames", burst, elapsed.Round(time.Millisecond), n)
				return
			}

			version := int64(first["version"].(float64))
			held := queuedIDs(first["conversations"])
			for len(held) < burst {
				f := con.Next("a queue change", func(f map[string]any) bool {
					return f["type"] == "queue_delta" || f["type"] == "queue"
				})
				v := int64(f["version"].(float64))
				if f["type"] == "queue" {
					// Sent in place of deltas that would outweigh it.
					require.GreaterOrEqual(t, v, version)
					version, held = v, queuedIDs(f["conversations"])
					continue
				}
				require.Equal(t, version+1, v, "deltas are numbered one by one: %v", f)
				version = v
				require.Contains(t, []any{"added", "changed"}, f["op"], "nothing left the queue: %v", f)
				id := queuedIDs([]any{f["conversation"]})[0]
				held = slices.DeleteFunc(held, func(x string) bool { return x == id })
				pos := int(f["position"].(float64))
				require.True(t, pos >= 1 && pos <= len(held)+1, "%v", f)
				held = slices.Insert(held, pos-1, id)
			}
			require.Equal(t, want, held)

			con.Send(map[string]any{"type": "queue_sync"})
			snap := con.Expect("queue")
			require.EqualValues(t, version, snap["version"], "the snapshot at the version reached")
			require.Equal(t, want, queuedIDs(snap["conversations"]))
		})
	}
}
