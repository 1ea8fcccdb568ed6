package gateway_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVisitorCloses: when the visitor closes, the socket shows a closed
// frame with reason visitor_closed, whether the assistant answered, an
// offer was declined, nothing was said or the conversation was queued; a
// second close is refused with conversation_closed, and a declined offer
// goes back to the assistant. (The metrics these steps make are checked in
// agentconsole's TestMetricsCounts.)
func TestVisitorCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Closing Shop")
	start := func() *client {
		v := e.visitor(s.m.WidgetKey)
		hello(v)
		return v
	}
	closeByVisitor := func(v *client) {
		v.Send(map[string]any{"type": "close"})
		require.Equal(t, "visitor_closed", v.Expect("closed")["reason"])
	}

	// Answered, then closed.
	v := start()
	say(v, "r1", "hello")
	v.ExpectMessage("assistant")
	closeByVisitor(v)
	// A second close changes nothing.
	v.Send(map[string]any{"type": "close"})
	v.ExpectError("conversation_closed")

	// Offered, declined, closed.
	v = start()
	v.Send(map[string]any{"type": "handoff_request"})
	v.Expect("handoff_offer")
	v.Send(map[string]any{"type": "handoff_reply", "accept": false})
	require.Equal(t, "assistant", v.Expect("status")["status"])
	closeByVisitor(v)

	// Hello and close, nothing said.
	closeByVisitor(start())

	// The button, straight to the queue, then the visitor leaves.
	v = start()
	handoff(v, "button@example.com")
	closeByVisitor(v)
}
