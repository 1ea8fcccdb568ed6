package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/model/modeltest"
)

// modelEnv is Baton with a fake OpenAI-compatible model, and a shop whose
// answers come from it.
func modelEnv(t *testing.T, timeout time.Duration) (*env, shop, *modeltest.Server) {
	t.Helper()
	fake := modeltest.New(t, modeltest.Options{APIKey: "sk-test-0123456789abcdef"})
	e := newEnv(t, func(c *appConfig) {
		c.Model = modelConfig{BaseURL: fake.URL(), Name: fake.Model(), APIKey: "sk-test-0123456789abcdef", Timeout: timeout}
	})
	s := e.shop("Model Shop")
	code, body := e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(t, 200, code, "%v", body)
	code, body = e.do("PUT", "/v1/admin/assistant", s.adminToken, map[string]any{"mode": "model", "instructions": "Sign as Tea Bot."})
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, "model", body["mode"])
	require.Equal(t, true, body["model_available"])
	return e, s, fake
}

// TestModelAnswersStreamOverTheSocket: the visitor sees message_delta
// frames as the model writes, then the answer as one message with the same
// draft_id and its sources; the transcript holds the message, not the
// draft, and the API key appears nowhere.
func TestModelAnswersStreamOverTheSocket(t *testing.T) {
	e, s, fake := modelEnv(t, 10*time.Second)
	fake.Enqueue(modeltest.Reply{Content: []string{"Orders ", "ship the ", "same day [", "1]."}, Delay: 30 * time.Millisecond})
	v := e.visitor(s.m.WidgetKey)
	conv := hello(v)["conversation_id"].(string)
	// Not say(): its wait for the echo would pass over a typing frame that
	// comes before it.
	v.Send(map[string]any{"type": "message", "client_id": "q1", "text": "How long does shipping take?"})
	var deltas []string
	var final map[string]any
	typing := false
	for final == nil {
		f := v.Next("a delta or the answer", func(f map[string]any) bool {
			return f["type"] == "message_delta" || (f["type"] == "message" && f["role"] == "assistant") ||
				(f["type"] == "typing" && f["role"] == "assistant" && f["active"] == true)
		})
		if f["type"] == "typing" {
			typing = true
			continue
		}
		// The conversation's first message stored it: the socket follows it
		// before the answer begins, so it sees the typing line first (before:
		// a socket that followed after the call missed it when the model was
		// quick, as a loaded machine showed in the browser).
		require.True(t, typing, "the assistant's typing came after its first words, or not at all")
		if f["type"] == "message_delta" {
			deltas = append(deltas, f["text"].(string))
			require.NotEmpty(t, f["draft_id"])
			continue
		}
		final = f
	}
	require.Greater(t, len(deltas), 1, "the answer streamed in pieces: %q", deltas)
	require.Equal(t, final["text"], strings.Join(deltas, ""), "the deltas add up to the answer")
	require.True(t, strings.HasPrefix(final["text"].(string), "Orders ship the same day"), "%q", final["text"])
	require.NotContains(t, final["text"], "[1]", "citation markers are not shown")
	require.NotEmpty(t, final["draft_id"])
	require.Len(t, final["sources"], 1)

	msgs := e.transcript(s.adminToken, conv)
	require.Len(t, msgs, 2)
	require.Equal(t, final["text"], msgs[1]["text"])
	_, raw := e.doRaw("GET", "/v1/admin/assistant", s.adminToken, nil, nil)
	require.NotContains(t, string(raw), "sk-test")
	require.Empty(t, fake.Problems())
	req := fake.Requests()[0]
	require.Contains(t, req.System(), "Sign as Tea Bot.")
}

// TestModelHandoffAndFailuresOverTheSocket: the model's handoff tool leads
// to the offer with its reason; a failing model falls back within the
// timeout and the visitor's message is kept.
func TestModelHandoffAndFailuresOverTheSocket(t *testing.T) {
	e, s, fake := modelEnv(t, 2*time.Second)
	fake.Enqueue(modeltest.Handoff("the parcel is damaged", 3))
	v := e.visitor(s.m.WidgetKey)
	conv := hello(v)["conversation_id"].(string)
	say(v, "q1", "My parcel arrived broken, what now?")
	v.Expect("handoff_offer")
	v.Send(map[string]any{"type": "handoff_reply", "accept": true})
	v.Expect("email_request")
	v.Send(map[string]any{"type": "email", "email": "b@example.com"})
	v.Expect("status")
	_, body := e.do("GET", "/v1/agent/conversations/"+conv, s.adminToken, nil)
	h := body["conversation"].(map[string]any)["handoff"].(map[string]any)
	require.Equal(t, "model_handoff", h["reason"])
	require.Equal(t, "the parcel is damaged", h["detail"])
	require.Contains(t, h["summary"], "My parcel arrived broken")

	// A model that answers 500: the built-in assistant answers from the
	// knowledge instead.
	fake.Enqueue(modeltest.Fail(500, ""))
	v2 := e.visitor(s.m.WidgetKey)
	hello(v2)
	start := time.Now()
	say(v2, "q1", "How long does shipping take?")
	a := v2.ExpectMessage("assistant")
	require.Less(t, time.Since(start), 2*time.Second)
	require.Equal(t, "Shipping takes 2 working days.", a["text"], "the entry's answer as written")

	// A model that hangs: within the timeout, the offer (nothing to answer
	// from) with reason model_error.
	fake.Enqueue(modeltest.Reply{HangBeforeHeaders: true})
	v3 := e.visitor(s.m.WidgetKey)
	conv3 := hello(v3)["conversation_id"].(string)
	start = time.Now()
	say(v3, "q1", "Do you sell spaceships?")
	v3.Expect("handoff_offer")
	require.Less(t, time.Since(start), 2*time.Second+300*time.Millisecond, "the visitor waited past the timeout")
	_, body = e.do("GET", "/v1/agent/conversations/"+conv3, s.adminToken, nil)
	require.Equal(t, "model_error", body["conversation"].(map[string]any)["handoff_reason"])

	today := time.Now().UTC().Format(time.DateOnly)
	_, body = e.do("GET", "/v1/admin/metrics?from="+today+"&to="+today, s.adminToken, nil)
	model := body["model"].(map[string]any)
	require.EqualValues(t, 3, model["calls"])
	require.EqualValues(t, 2, model["errors"])
}

// TestHandoffRequestStopsTheModel: the visitor's "talk to a person" while
// the answer streams drops the draft at once, and no answer follows.
func TestHandoffRequestStopsTheModel(t *testing.T) {
	e, s, fake := modelEnv(t, 10*time.Second)
	fake.Enqueue(modeltest.Reply{Content: []string{"Orders ", "ship ", "the ", "same ", "day [1]."}, Delay: 300 * time.Millisecond})
	v := e.visitor(s.m.WidgetKey)
	hello(v)
	say(v, "q1", "How long does shipping take?")
	d := v.Expect("message_delta")
	v.Send(map[string]any{"type": "handoff_request"})
	// The draft goes first, then the offer comes.
	f := v.Next("the draft dropped or the offer", func(f map[string]any) bool {
		return f["type"] == "draft_dropped" || f["type"] == "handoff_offer"
	})
	require.Equal(t, "draft_dropped", f["type"])
	require.Equal(t, d["draft_id"], f["draft_id"])
	v.Expect("handoff_offer")
	v.Quiet(1500*time.Millisecond, func(f map[string]any) bool {
		return f["type"] == "message_delta" || (f["type"] == "message" && f["role"] == "assistant")
	})
	require.Eventually(t, func() bool {
		rs := fake.Requests()
		return len(rs) == 1 && rs[0].ClientGone
	}, 3*time.Second, 10*time.Millisecond, "the model's request was cancelled")
}
