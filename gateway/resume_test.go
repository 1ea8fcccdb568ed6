package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// resumable is a conversation with a known transcript, its socket closed.
type resumable struct {
	id, token string
	lastSeq   int64
}

// sixEntries starts a conversation of six entries (three visitor greetings,
// three assistant replies) and drops its socket.
func sixEntries(e *env, key string) resumable {
	e.t.Helper()
	v := e.visitor(key)
	w := hello(v)
	for i := 1; i <= 3; i++ {
		say(v, cid("g", i), "hello")
		v.ExpectMessage("assistant")
	}
	require.NoError(e.t, v.Conn.Close())
	return resumable{id: w["conversation_id"].(string), token: w["resume_token"].(string), lastSeq: 6}
}

// replayed collects the message frames that follow a welcome until none
// arrives for a short while.
func replayed(v *client) []map[string]any {
	v.T.Helper()
	var out []map[string]any
	for {
		select {
		case f := <-v.Frames():
			if f["type"] == "message" {
				out = append(out, f)
			}
		case <-time.After(300 * time.Millisecond):
			return out
		}
	}
}

func seqs(msgs []map[string]any) []int64 {
	out := []int64{}
	for _, m := range msgs {
		out = append(out, num(m["seq"]))
	}
	return out
}

// TestResumeRefused: a resume with a wrong token, an unknown id, or another
// merchant's conversation (even with its valid token) is refused with an
// error frame, resumes nothing, and leaves the socket able to start afresh.
func TestResumeRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.shop("Resume Shop A")
	b := e.shop("Resume Shop B")
	convA := sixEntries(e, a.m.WidgetKey)
	convB := sixEntries(e, b.m.WidgetKey)

	cases := []struct {
		name  string
		hello map[string]any
		code  string
	}{
		{"wrong token", map[string]any{"conversation_id": convA.id, "resume_token": "not-the-token", "last_seq": 0}, "invalid_resume_token"},
		{"token of another conversation", map[string]any{"conversation_id": convA.id, "resume_token": convB.token}, "invalid_resume_token"},
		{"token with a changed letter", map[string]any{"conversation_id": convA.id, "resume_token": flipLast(convA.token)}, "invalid_resume_token"},
		{"empty token", map[string]any{"conversation_id": convA.id, "resume_token": ""}, "invalid_resume_token"},
		{"no token", map[string]any{"conversation_id": convA.id}, "invalid_resume_token"},
		{"unknown conversation", map[string]any{"conversation_id": "c_doesnotexist0000000000", "resume_token": convA.token}, "not_found"},
		{"id with hash-tag braces", map[string]any{"conversation_id": "{c:" + convA.id + "}", "resume_token": convA.token}, "not_found"},
		{"id with a key separator", map[string]any{"conversation_id": convA.id + ":m", "resume_token": convA.token}, "not_found"},
		{"very long id", map[string]any{"conversation_id": strings.Repeat("c", 5000), "resume_token": convA.token}, "not_found"},
		{"another merchant's conversation with its valid token", map[string]any{"conversation_id": convB.id, "resume_token": convB.token, "last_seq": 0}, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			v := e.visitor(a.m.WidgetKey)
			h := map[string]any{"type": "hello"}
			for k, val := range tc.hello {
				h[k] = val
			}
			v.Send(h)
			f := v.Next("error", func(f map[string]any) bool { return f["type"] == "error" || f["type"] == "welcome" })
			require.Equal(t, "error", f["type"], "the resume was accepted: %v", f)
			require.Equal(t, tc.code, f["code"], "%v", f)
			// Nothing of the conversation reached this socket.
			v.Quiet(200*time.Millisecond, func(f map[string]any) bool {
				return f["type"] == "message" || f["type"] == "status" || f["type"] == "closed"
			})
			// The socket is still good for a fresh start.
			w := hello(v)
			require.NotEqual(t, convA.id, w["conversation_id"])
			require.NotEqual(t, convB.id, w["conversation_id"])
			require.EqualValues(t, 0, num(w["last_seq"]))
			say(v, "fresh", "hello")
		})
	}

	// Neither conversation was touched.
	require.Len(t, e.transcript(a, convA.id), 6)
	require.Len(t, e.transcript(b, convB.id), 6)
}

func flipLast(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return s[:len(s)-1] + string(repl)
}

// TestResumeReplay: a resume replays exactly the entries after last_seq, in
// order, once; a last_seq beyond the transcript starts over (recovered
// false) with the whole transcript.
func TestResumeReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Replay Shop")

	cases := []struct {
		name      string
		lastSeq   any // nil: left out
		want      []int64
		recovered any // nil: not checked
	}{
		{"from the start", 0, []int64{1, 2, 3, 4, 5, 6}, true},
		{"last_seq left out", nil, []int64{1, 2, 3, 4, 5, 6}, nil},
		{"in the middle", 3, []int64{4, 5, 6}, true},
		{"one missing", 5, []int64{6}, true},
		{"up to date", 6, []int64{}, true},
		{"beyond the transcript", 99, []int64{1, 2, 3, 4, 5, 6}, false},
		{"just beyond", 7, []int64{1, 2, 3, 4, 5, 6}, false},
		{"negative", -5, []int64{1, 2, 3, 4, 5, 6}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			conv := sixEntries(e, s.m.WidgetKey)
			v := e.visitor(s.m.WidgetKey)
			h := map[string]any{"type": "hello", "conversation_id": conv.id, "resume_token": conv.token}
			if tc.lastSeq != nil {
				h["last_seq"] = tc.lastSeq
			}
			v.Send(h)
			w := v.Expect("welcome")
			require.Equal(t, conv.id, w["conversation_id"])
			require.Equal(t, conv.token, w["resume_token"])
			require.Equal(t, "assistant", w["status"])
			require.EqualValues(t, conv.lastSeq, num(w["last_seq"]))
			if tc.recovered != nil {
				require.Equal(t, tc.recovered, w["recovered"], "welcome %v", w)
			}
			got := replayed(v)
			require.Equal(t, tc.want, seqs(got), "replayed %v", got)
			for _, m := range got {
				require.NotEmpty(t, m["id"])
				require.NotEmpty(t, m["ts"])
				require.Contains(t, []any{"visitor", "assistant"}, m["role"])
			}
			// New entries continue the numbering without a gap.
			echo := say(v, "more", "hello")
			require.EqualValues(t, conv.lastSeq+1, num(echo["seq"]))
		})
	}
}

// TestResumeClosedConversation: resuming a closed conversation gives a
// welcome with status closed, the replay, then a closed frame; nothing more
// can be said in it.
func TestResumeClosedConversation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Closed Resume Shop")
	v := e.visitor(s.m.WidgetKey)
	w := hello(v)
	convID, token := w["conversation_id"].(string), w["resume_token"].(string)
	say(v, "g1", "hello")
	v.ExpectMessage("assistant")
	v.Send(map[string]any{"type": "close"})
	require.NotEmpty(t, v.Expect("closed")["reason"])
	require.NoError(t, v.Conn.Close())

	v2 := e.visitor(s.m.WidgetKey)
	v2.Send(map[string]any{"type": "hello", "conversation_id": convID, "resume_token": token, "last_seq": 0})
	w2 := v2.Expect("welcome")
	require.Equal(t, "closed", w2["status"])
	require.Equal(t, convID, w2["conversation_id"])
	closed := v2.Expect("closed")
	require.NotEmpty(t, closed["reason"])
	// Order: welcome, every entry, then closed.
	var order []string
	for _, f := range v2.Snapshot() {
		switch f["type"] {
		case "message":
			order = append(order, "message")
		case "welcome", "closed":
			order = append(order, f["type"].(string))
		}
	}
	require.Equal(t, []string{"welcome", "message", "message", "closed"}, order)
	v2.Quiet(200*time.Millisecond, func(f map[string]any) bool { return f["type"] == "closed" })

	v2.Send(map[string]any{"type": "message", "client_id": "late", "text": "anyone?"})
	v2.ExpectError("conversation_closed")
	require.Len(t, e.transcript(s, convID), 2)
}
