package main

import (
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
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

// TestBrowserClaimSurvivesAQueueUpdate: an agent presses Claim just as the
// queue changes (another visitor joins it). The press still claims: the
// queue is updated in place, not rebuilt under the agent's mouse (a list
// rebuilt between mousedown and mouseup loses the click; it made
// TestBrowserXSSNeverRuns fail under load).
func TestBrowserClaimSurvivesAQueueUpdate(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Press Shop")
	e.addAgent(s, "pat@press.example", "Pat")
	first := e.visitor(s.m.WidgetKey)
	firstID := hello(first)["conversation_id"].(string)
	handoff(first, "first@example.com")

	agent := newPage(t, "agent")
	signIn(agent, e.srv.URL, "pat@press.example", "agent-password")
	claim := `document.querySelector('#queue [data-conversation="` + firstID + `"] button.primary')`
	agent.wait("the first in the queue", claim+` !== null`)
	pt := eval[struct{ X, Y float64 }](agent, `(() => { const r = `+claim+`.getBoundingClientRect(); return {x: r.left + r.width / 2, y: r.top + 4}; })()`)

	ctx, cancel := agent.timeout(5 * time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, pt.X, pt.Y, chromedp.ButtonLeft, chromedp.ClickCount(1))))
	// The queue changes while the button is held down.
	second := e.visitor(s.m.WidgetKey)
	hello(second)
	handoff(second, "second@example.com")
	agent.wait("the queue updated", `document.querySelectorAll("#queue .queue-item").length === 2`)
	require.NoError(t, chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, pt.X, pt.Y, chromedp.ButtonLeft, chromedp.ClickCount(1))))
	first.Expect("agent_joined")
}
