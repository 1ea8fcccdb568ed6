package gateway_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// TestCustomMessageMethod: with handoff method "message", the merchant's
// message is sent instead of an offer, even when the visitor asks for a
// person, and the conversation stays with the assistant.
func TestCustomMessageMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Custom Message Shop")
	const custom = "Please write to help@shop.example or see https://shop.example/help."
	e.settings(s, func(set *session.Settings) {
		set.Handoff.Method, set.Handoff.Message = session.MethodMessage, custom
	})
	e.agentOnline(s, "ready@custom.example", "Ready") // someone is even available

	asks := []struct {
		name  string
		frame map[string]any
	}{
		{"asks for a human", map[string]any{"type": "message", "client_id": "h", "text": "I want to talk to a human please"}},
		{"asks in Dutch", map[string]any{"type": "message", "client_id": "nl", "text": "Ik wil een medewerker spreken"}},
		{"a question nobody answers", map[string]any{"type": "message", "client_id": "q", "text": "What is the airspeed velocity of an unladen swallow?"}},
		{"presses the button", map[string]any{"type": "handoff_request"}},
	}
	for _, a := range asks {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			v := e.visitor(s.m.WidgetKey)
			w := hello(v)
			convID := w["conversation_id"].(string)
			v.Send(a.frame)
			got := v.ExpectMessage("assistant")
			require.Equal(t, custom, got["text"])
			v.Quiet(300*time.Millisecond, func(f map[string]any) bool {
				return f["type"] == "handoff_offer" || f["type"] == "email_request" || f["type"] == "status"
			})
			// Accepting an offer that was never made does nothing.
			v.Send(map[string]any{"type": "handoff_reply", "accept": true})
			v.Expect("error")
			body := e.conversation(s, convID)
			require.Equal(t, "assistant", body["conversation"].(map[string]any)["status"])
			require.NotContains(t, mustJSON(t, e.conversations(s, session.StatusQueued)), convID)
		})
	}
}
