package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBrowserConsoleSendsRefusedLinesAgain: an agent writes lines faster
// than their console socket may send frames (BATON_AGENT_FRAME_LIMIT=2).
// The socket refuses some, naming them; the console sends each again after
// a short wait, and every line is stored once, in the order written, none
// shown as failed.
func TestBrowserConsoleSendsRefusedLinesAgain(t *testing.T) {
	browser(t)
	e := newEnv(t, func(c *appConfig) { c.AgentFrameLimit = 2 })
	s := e.shop("Slow Shop")
	token := e.addAgent(s, "sam@slow.example", "Sam")
	v := e.visitor(s.m.WidgetKey)
	convID := hello(v)["conversation_id"].(string)
	handoff(v, "slow@example.com")

	agent := newPage(t, "agent", countFrames)
	signIn(agent, e.srv.URL, "sam@slow.example", "agent-password")
	agent.click("claim", byText("document", "#queue button", "Claim"))
	agent.wait("the composer", `!`+pane+`.querySelector(".composer").hidden`)
	lines := []string{"Hello, Sam here.", "Let me look at your order.", "One moment.", "Found it.", "It ships today."}
	agent.click("the reply box", pane+`.querySelector("textarea")`)
	for _, l := range lines {
		agent.insertText(l)
		agent.keys("\r")
	}
	agent.wait("every line stored", pane+`.querySelectorAll(".pending").length === 0 && `+
		pane+`.querySelectorAll("[data-seq][data-role=agent]").length === 5`)
	require.Zero(t, eval[int](agent, pane+`.querySelectorAll(".failed").length`), "lines shown as failed")
	refusals := frameCount(agent, "got", "error:rate_limited+client_id")
	sent := frameCount(agent, "sent", "message")
	t.Logf("%d lines, %d sent, %d refused", len(lines), sent, refusals)
	require.Positive(t, refusals, "the socket never refused a line: the test did not test")
	require.Greater(t, sent, len(lines), "no line was sent again")

	var stored []string
	for _, m := range e.transcript(token, convID) {
		if m["role"] == "agent" {
			stored = append(stored, m["text"].(string))
		}
	}
	require.Equal(t, lines, stored, "every line once, in the order written")
	require.Equal(t, lines, eval[[]string](agent, `Array.from(`+pane+`.querySelectorAll("[data-seq][data-role=agent] .text")).map(n => n.textContent)`))
}
