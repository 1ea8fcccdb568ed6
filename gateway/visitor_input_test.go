package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway"
)

// TestVisitorBadFrames sends one bad frame to a started visitor socket per
// case: the gateway answers with an error frame, the socket keeps working
// (a good message after it is acknowledged), and the transcript holds
// exactly the good messages, before and after, and nothing of the bad one.
func TestVisitorBadFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Bad Frames Shop")

	cases := []struct {
		name  string
		frame string
		// code is the error code the contract or the gateway's documented
		// behaviour fixes; "" accepts any non-empty code.
		code string
	}{
		{"malformed JSON", `{"type":"message","client_id":"x",`, "bad_frame"},
		{"not JSON at all", `hello there`, "bad_frame"},
		{"JSON array", `[{"type":"message","client_id":"x","text":"hi"}]`, "bad_frame"},
		{"JSON string", `"message"`, "bad_frame"},
		{"JSON number", `42`, "bad_frame"},
		{"JSON null", `null`, "bad_frame"},
		{"JSON true", `true`, "bad_frame"},
		{"empty frame", ``, "bad_frame"},
		{"empty object", `{}`, "bad_frame"},
		{"type empty", `{"type":""}`, "bad_frame"},
		{"type not a string", `{"type":7}`, "bad_frame"},
		{"type null", `{"type":null,"text":"hi"}`, "bad_frame"},
		{"unknown type", `{"type":"launch_missiles"}`, "unknown_type"},
		{"type in other case", `{"type":"MESSAGE","client_id":"up","text":"hi"}`, "unknown_type"},
		{"server-side type", `{"type":"welcome","conversation_id":"c_x"}`, "unknown_type"},
		{"client_id not a string", `{"type":"message","client_id":5,"text":"hi"}`, "bad_frame"},
		{"text not a string", `{"type":"message","client_id":"arr","text":["hi"]}`, "bad_frame"},
		{"text missing", `{"type":"message","client_id":"nt"}`, ""},
		{"text empty", `{"type":"message","client_id":"et","text":""}`, ""},
		{"text spaces", `{"type":"message","client_id":"sp","text":"   "}`, ""},
		{"text tabs and newlines", `{"type":"message","client_id":"tn","text":" \t\r\n "}`, ""},
		{"text nbsp and zero-width", `{"type":"message","client_id":"nb","text":"\u00a0\u200b\ufeff"}`, ""},
		{"text ideographic space", `{"type":"message","client_id":"is","text":"\u3000\u3000"}`, ""},
		{"text em spaces", `{"type":"message","client_id":"em","text":"\u2003\u2002\u2009"}`, ""},
		{"text vertical tab and form feed", `{"type":"message","client_id":"vf","text":"\u000b\u000c"}`, ""},
		{"text line separator", `{"type":"message","client_id":"ls","text":"\u2028\u2029\u0085"}`, ""},
		{"client_id missing", `{"type":"message","text":"hi"}`, ""},
		{"client_id empty", `{"type":"message","client_id":"","text":"hi"}`, ""},
		{"client_id 65 characters", `{"type":"message","client_id":"` + repeat("k", 65) + `","text":"hi"}`, ""},
		{"client_id 65 emoji", `{"type":"message","client_id":"` + repeat("🔑", 65) + `","text":"hi"}`, ""},
		{"text 4001 characters", `{"type":"message","client_id":"long","text":"` + repeat("a", 4001) + `"}`, ""},
		{"text 4001 emoji", `{"type":"message","client_id":"longe","text":"` + repeat("😀", 4001) + `"}`, ""},
		{"handoff_reply without accept", `{"type":"handoff_reply"}`, "bad_frame"},
		{"handoff_reply accept null", `{"type":"handoff_reply","accept":null}`, "bad_frame"},
		{"handoff_reply accept a string", `{"type":"handoff_reply","accept":"yes"}`, "bad_frame"},
		{"handoff_reply with no offer open", `{"type":"handoff_reply","accept":true}`, ""},
		{"handoff_reply decline with no offer", `{"type":"handoff_reply","accept":false}`, ""},
		{"typing without active", `{"type":"typing"}`, "bad_frame"},
		{"typing active a number", `{"type":"typing","active":1}`, "bad_frame"},
		{"email nobody asked for", `{"type":"email","email":"v@example.com"}`, ""},
		{"second hello", `{"type":"hello"}`, ""},
		{"second hello resuming something else", `{"type":"hello","conversation_id":"c_other","resume_token":"x"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			v := e.visitor(s.m.WidgetKey)
			w := hello(v)
			convID := w["conversation_id"].(string)
			say(v, "before", "hello")

			v.SendRaw(tc.frame)
			f := v.Next("error", func(f map[string]any) bool {
				return f["type"] == "error" || (f["type"] == "message" && f["role"] == "visitor" && f["client_id"] != "before")
			})
			// Guards against storing the frame's text as a message
			// instead of refusing it (a past bug for Unicode white space).
			require.Equal(t, "error", f["type"], "the bad frame was accepted: %v", f)
			if tc.code != "" {
				require.Equal(t, tc.code, f["code"], "error frame %v", f)
			}
			require.NotEmpty(t, f["code"], "error frame %v", f)
			require.NotEmpty(t, f["message"], "error frame %v", f)

			// The socket still works, in the same conversation.
			say(v, "after", "hello")
			msgs := e.transcript(s, convID)
			require.Equal(t, []string{"before", "after"}, visitorClientIDs(msgs),
				"the transcript must hold the good messages only: %v", msgs)
			for _, m := range msgs {
				if m["role"] == "visitor" {
					require.Equal(t, "hello", m["text"])
				}
			}
			// A second hello must not have switched the socket to another
			// conversation or started one.
			for _, fr := range v.Snapshot() {
				if fr["type"] == "welcome" {
					require.Equal(t, convID, fr["conversation_id"])
				}
			}
			require.Len(t, framesOfType(v, "welcome"), 1, "one welcome per socket")
		})
	}
}

// TestVisitorBinaryFrame: a binary frame is refused with an error, before
// and after hello, and the socket stays usable.
func TestVisitorBinaryFrame(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Binary Shop")
	v := e.visitor(s.m.WidgetKey)
	require.NoError(t, v.Conn.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"hello"}`)))
	require.Equal(t, "bad_frame", v.Expect("error")["code"])
	w := hello(v)
	say(v, "b1", "hello")
	require.NoError(t, v.Conn.WriteMessage(websocket.BinaryMessage, []byte{0xff, 0x00, 0x01}))
	require.Equal(t, "bad_frame", v.Expect("error")["code"])
	require.NoError(t, v.Conn.WriteMessage(websocket.BinaryMessage,
		[]byte(`{"type":"message","client_id":"bin","text":"sneaky"}`)))
	require.Equal(t, "bad_frame", v.Expect("error")["code"])
	say(v, "b2", "hello")
	msgs := e.transcript(s, w["conversation_id"].(string))
	require.Equal(t, []string{"b1", "b2"}, visitorClientIDs(msgs))
}

// TestVisitorFramesBeforeHello: every frame type but hello is refused with
// hello_required until hello; the socket stays open and hello then works.
func TestVisitorFramesBeforeHello(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Before Hello Shop")
	v := e.visitor(s.m.WidgetKey)
	frames := []map[string]any{
		{"type": "message", "client_id": "early", "text": "hi"},
		{"type": "handoff_request"},
		{"type": "handoff_reply", "accept": true},
		{"type": "email", "email": "v@example.com"},
		{"type": "typing", "active": true},
		{"type": "close"},
	}
	for _, f := range frames {
		v.Send(f)
		got := v.Expect("error")
		require.Equal(t, "hello_required", got["code"], "for %v: %v", f, got)
	}
	// Malformed ones before hello are still answered, not fatal.
	v.SendRaw(`{"type":`)
	require.Equal(t, "bad_frame", v.Expect("error")["code"])

	w := hello(v)
	require.Equal(t, "assistant", w["status"], "the early close must not have closed anything")
	require.EqualValues(t, 0, num(w["last_seq"]), "nothing sent before hello may be stored")
	say(v, "first", "hello")
	msgs := e.transcript(s, w["conversation_id"].(string))
	require.Equal(t, []string{"first"}, visitorClientIDs(msgs))
	convs := e.conversations(s, "")
	require.Len(t, convs, 1, "frames before hello must not start conversations: %v", convs)
}

// TestVisitorMessageLimits: text is 1–4000 characters and client_id 1–64,
// counted in characters (Unicode code points), not bytes. Accepted texts
// come back exactly as sent.
func TestVisitorMessageLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Limits Shop")
	cases := []struct {
		name     string
		clientID string
		text     string
		ok       bool
	}{
		{"one character", "c", "a", true},
		{"one emoji", "c", "🙂", true},
		{"exactly 4000 ascii", "c", repeat("a", 4000), true},
		{"4001 ascii", "c", repeat("a", 4001), false},
		{"exactly 4000 emoji (16000 bytes)", "c", repeat("😀", 4000), true},
		{"4001 emoji", "c", repeat("😀", 4001), false},
		{"exactly 4000 two-byte letters", "c", repeat("é", 4000), true},
		{"exactly 4000 CJK", "c", repeat("漢", 4000), true},
		{"3999 ascii and one emoji", "c", repeat("a", 3999) + "😀", true},
		{"4000 ascii and one emoji", "c", repeat("a", 4000) + "😀", false},
		{"JSON-escaped characters", "c", repeat("<\"\\/>&\u2028", 500), true},
		{"client_id 64 ascii", repeat("k", 64), "hi", true},
		{"client_id 64 emoji", repeat("🔑", 64), "hi", true},
		{"client_id 65 ascii", repeat("k", 65), "hi", false},
		{"client_id 65 emoji", repeat("🔑", 65), "hi", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			v := e.visitor(s.m.WidgetKey)
			convID := hello(v)["conversation_id"].(string)
			v.Send(map[string]any{"type": "message", "client_id": tc.clientID, "text": tc.text})
			got := v.Next("echo or error", func(f map[string]any) bool {
				return f["type"] == "error" || (f["type"] == "message" && f["role"] == "visitor")
			})
			if tc.ok {
				require.Equal(t, "message", got["type"], "refused: %v", got["code"])
				require.Equal(t, tc.text, got["text"], "the echo must be the text as sent")
				require.Equal(t, tc.clientID, got["client_id"])
				require.EqualValues(t, 1, num(got["seq"]))
			} else {
				require.Equal(t, "error", got["type"], "accepted a message over the limit")
				require.NotEmpty(t, got["code"])
			}
			say(v, "next", "hello")
			msgs := e.transcript(s, convID)
			want := []string{"next"}
			if tc.ok {
				want = []string{tc.clientID, "next"}
				require.Equal(t, tc.text, msgs[0]["text"])
			}
			require.Equal(t, want, visitorClientIDs(msgs))
		})
	}
}

// TestVisitorDuplicateClientID: the same client_id twice is stored once,
// even with another text.
func TestVisitorDuplicateClientID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Dup Shop")
	v := e.visitor(s.m.WidgetKey)
	convID := hello(v)["conversation_id"].(string)
	say(v, "same", "hello")
	v.Send(map[string]any{"type": "message", "client_id": "same", "text": "a different text"})
	v.Send(map[string]any{"type": "message", "client_id": "same", "text": "hello"})
	say(v, "other", "hello")
	msgs := e.transcript(s, convID)
	require.Equal(t, []string{"same", "other"}, visitorClientIDs(msgs))
	require.Equal(t, "hello", msgs[0]["text"])
}

// TestVisitorOversizedFrame: a frame over 64 KiB closes the socket with
// 1009; what was stored before stays; a frame of exactly 64 KiB is fine.
func TestVisitorOversizedFrame(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Big Frame Shop")

	t.Run("exactly 64 KiB is accepted", func(t *testing.T) {
		t.Parallel()
		e := e.withT(t)
		v := e.visitor(s.m.WidgetKey)
		hello(v)
		head := `{"type":"message","client_id":"edge","text":"hello","pad":"`
		tail := `"}`
		frame := head + repeat("p", 64<<10-len(head)-len(tail)) + tail
		require.Len(t, frame, 64<<10)
		v.SendRaw(frame)
		echoOf(v, "edge")
		say(v, "after", "hello")
	})

	for _, size := range []int{64<<10 + 1, 70 << 10, 1 << 20} {
		t.Run(fmt.Sprintf("%d bytes closes with 1009", size), func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			v := e.visitor(s.m.WidgetKey)
			w := hello(v)
			convID, token := w["conversation_id"].(string), w["resume_token"].(string)
			say(v, "kept", "hello")

			head := `{"type":"message","client_id":"huge","text":"`
			tail := `"}`
			frame := head + repeat("x", size-len(head)-len(tail)) + tail
			// The server may stop reading mid-frame; the write's own error
			// does not matter, the close code does.
			_ = v.Conn.WriteMessage(websocket.TextMessage, []byte(frame))
			require.Equal(t, websocket.CloseMessageTooBig, v.WaitCloseCode(5*time.Second),
				"close error: %v", v.CloseErr())

			msgs := e.transcript(s, convID)
			require.Equal(t, []string{"kept"}, visitorClientIDs(msgs))

			// The conversation resumes on a new socket with nothing lost.
			v2 := e.visitor(s.m.WidgetKey)
			v2.Send(map[string]any{"type": "hello", "conversation_id": convID, "resume_token": token, "last_seq": 0})
			require.Equal(t, convID, v2.Expect("welcome")["conversation_id"])
			require.Equal(t, "kept", v2.ExpectMessage("visitor")["client_id"])
			say(v2, "again", "hello")
		})
	}

	t.Run("before hello too", func(t *testing.T) {
		t.Parallel()
		e := e.withT(t)
		v := e.visitor(s.m.WidgetKey)
		_ = v.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","page":"`+repeat("x", 80<<10)+`"}`))
		require.Equal(t, websocket.CloseMessageTooBig, v.WaitCloseCode(5*time.Second),
			"close error: %v", v.CloseErr())
	})
}

// TestVisitorFlood: a burst of frames is answered with rate_limited errors
// and the socket survives once it slows down; a flood that persists is
// closed (1008). Either way the transcript keeps what was stored.
func TestVisitorFlood(t *testing.T) {
	t.Parallel()
	// The flood guard (BATON_VISITOR_FRAME_LIMIT) at its production default.
	e := newEnv(t, func(o *gateway.Options) { o.VisitorRateLimit = 120; o.VisitorFrameLimit = 20 })
	s := e.shop("Flood Shop")

	t.Run("a burst, then calm", func(t *testing.T) {
		t.Parallel()
		e := e.withT(t)
		v := e.visitor(s.m.WidgetKey)
		convID := hello(v)["conversation_id"].(string)
		say(v, "before", "hello")
		for i := 0; i < 150; i++ {
			v.SendRaw(`{"type":"ping"}`)
		}
		// Every ping is answered: a pong or a refusal. Take all 150 off the
		// channel before the first try.
		limited := 0
		for i := 0; i < 150; i++ {
			f := v.Next("pong or refusal", func(f map[string]any) bool { return f["type"] == "pong" || f["type"] == "error" })
			if f["type"] == "error" {
				require.Equal(t, "rate_limited", f["code"])
				limited++
			}
		}
		require.Positive(t, limited, "150 frames at once: none refused")
		// Once it slows down, messages get through again.
		var ok bool
		deadline := time.Now().Add(5 * time.Second)
		for i := 0; !ok && time.Now().Before(deadline); i++ {
			id := cid("calm", i)
			v.Send(map[string]any{"type": "message", "client_id": id, "text": "hello"})
			// A message the flood limiter drops is refused with its
			// client_id.
			f := v.Next("echo or refusal of "+id, func(f map[string]any) bool {
				return (f["type"] == "message" && f["client_id"] == id) ||
					(f["type"] == "error" && f["client_id"] == id)
			})
			ok = f["type"] == "message"
			if !ok {
				require.Equal(t, "rate_limited", f["code"])
				time.Sleep(100 * time.Millisecond) // let the bucket refill
			}
		}
		require.True(t, ok, "the socket never recovered from a burst")
		ids := visitorClientIDs(e.transcript(s, convID))
		require.Equal(t, "before", ids[0])
		require.Len(t, ids, 2, "refused messages must not be stored: %v", ids)
	})

	t.Run("a flood that persists is closed", func(t *testing.T) {
		t.Parallel()
		e := e.withT(t)
		v := e.visitor(s.m.WidgetKey)
		w := hello(v)
		convID := w["conversation_id"].(string)
		say(v, "kept", "hello")
		for i := 0; i < 3000; i++ {
			if v.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)) != nil {
				break
			}
		}
		code := v.WaitCloseCode(10 * time.Second)
		limited := 0
		for _, f := range v.Snapshot() {
			if f["type"] == "error" && f["code"] == "rate_limited" {
				limited++
			}
		}
		require.Positive(t, limited, "no rate_limited error before the close")
		require.Equal(t, websocket.ClosePolicyViolation, code, "close: %v", v.CloseErr())
		require.Equal(t, []string{"kept"}, visitorClientIDs(e.transcript(s, convID)))
	})
}

// TestVisitorRateLimit: with BATON_VISITOR_RATE_LIMIT set, messages over it
// get error rate_limited (naming their client_id) and nothing is stored;
// those within it are stored. 0 turns it off.
func TestVisitorRateLimit(t *testing.T) {
	t.Parallel()

	t.Run("limited", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(o *gateway.Options) { o.VisitorRateLimit = 3 })
		s := e.shop("Rate Shop")
		v := e.visitor(s.m.WidgetKey)
		convID := hello(v)["conversation_id"].(string)
		const n = 25
		for i := 0; i < n; i++ {
			v.Send(map[string]any{"type": "message", "client_id": cid("m", i), "text": fmt.Sprintf("hello %d", i)})
		}
		// Refusals are sent at once, echoes come through the conversation's
		// feed: they may interleave in any order.
		outcome := map[string]string{}
		for len(outcome) < n {
			f := v.Next("an outcome", func(f map[string]any) bool {
				id, _ := f["client_id"].(string)
				return id != "" && (f["type"] == "error" || (f["type"] == "message" && f["role"] == "visitor"))
			})
			id := f["client_id"].(string)
			require.NotContains(t, outcome, id, "two outcomes for %s: %v", id, f)
			if f["type"] == "error" {
				require.Equal(t, "rate_limited", f["code"], "%v", f)
			}
			outcome[id] = f["type"].(string)
		}
		accepted, limited := []string{}, []string{}
		for i := 0; i < n; i++ {
			if outcome[cid("m", i)] == "message" {
				accepted = append(accepted, cid("m", i))
			} else {
				limited = append(limited, cid("m", i))
			}
		}
		require.NotEmpty(t, limited, "25 messages at once at 3 per minute: none refused")
		require.NotEmpty(t, accepted)
		// Nothing refused is stored; everything accepted is, in order.
		require.Equal(t, accepted, visitorClientIDs(e.transcript(s, convID)))
		// Other frames are not messages: typing still works.
		v.Send(map[string]any{"type": "typing", "active": true})
		v.Quiet(200*time.Millisecond, func(f map[string]any) bool {
			return f["type"] == "error" && f["code"] == "rate_limited" && f["client_id"] == nil
		})
		t.Logf("at 3/min: %d accepted at once, %d refused", len(accepted), len(limited))
	})

	t.Run("off", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(o *gateway.Options) { o.VisitorRateLimit = 0 })
		s := e.shop("Unlimited Shop")
		v := e.visitor(s.m.WidgetKey)
		convID := hello(v)["conversation_id"].(string)
		want := []string{}
		for i := 0; i < 40; i++ {
			want = append(want, cid("u", i))
			v.Send(map[string]any{"type": "message", "client_id": cid("u", i), "text": "hello"})
		}
		for _, id := range want {
			echoOf(v, id)
		}
		require.Empty(t, framesOfType(v, "error"))
		require.Equal(t, want, visitorClientIDs(e.transcript(s, convID)))
	})
}

// TestVisitorTextRoundTrip: what a visitor writes reaches the agent's
// transcript byte for byte, whatever characters it holds.
func TestVisitorTextRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Round Trip Shop")
	v := e.visitor(s.m.WidgetKey)
	convID := hello(v)["conversation_id"].(string)
	texts := []string{
		"👨‍👩‍👧‍👦 family, 🇳🇱 flag, é vs e\u0301",
		"<script>alert(1)</script> & \"quotes\" \\ backslash",
		"line\nbreaks\tand\u0000nul",
		"right-to-left \u202eevil\u202c and \u2028 separators",
		strings.Repeat("漢字", 10),
	}
	for i, text := range texts {
		got := say(v, cid("rt", i), text)
		require.Equal(t, text, got["text"])
	}
	msgs := e.transcript(s, convID)
	i := 0
	for _, m := range msgs {
		if m["role"] == "visitor" {
			require.Equal(t, texts[i], m["text"])
			i++
		}
	}
	require.Equal(t, len(texts), i)
}
