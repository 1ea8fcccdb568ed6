package main

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBrowserRoutingSettingsAssignByThemselves: a visitor waits in the
// queue while the shop routes by hand. The admin opens the routing card on
// the Team view, is told inline that a capacity of 0 cannot be saved, then
// saves automatic routing with capacity 2: the waiting visitor goes to the
// one available agent at once, without anyone clicking, and the agent's
// console shows the conversation and their load.
func TestBrowserRoutingSettingsAssignByThemselves(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Route Shop")
	// The admin is away, so only Bea can be given the conversation.
	code, _ := e.do("PUT", "/v1/agent/presence", s.adminToken, map[string]string{"status": "away"})
	require.Equal(t, 200, code)
	e.addAgent(s, "bea@route.example", "Bea")

	agent := newPage(t, "agent")
	signIn(agent, e.srv.URL, "bea@route.example", "agent-password")
	agent.wait("Bea's load", `document.querySelector("#load").textContent === "You have 0 of 3 conversations"`)

	r := queueVisitor(e, s.m.WidgetKey, "waiting@example.com")
	agent.wait("the visitor in the queue", byText("document", "#queue .name", "waiting@example.com")+` !== undefined`)

	admin := newPage(t, "admin")
	signIn(admin, e.srv.URL, "routeshop-admin@example.com", "admin-password")
	admin.click("team", `document.querySelector("#nav-team")`)
	admin.wait("the routing settings", `document.querySelector("input[name=routing-mode][value=manual]").checked && `+
		`document.querySelector("#routing-capacity").value === "3" && document.querySelector("#routing-reassign").value === "120"`)
	// By hand, nobody was given it.
	_, c := e.do("GET", "/v1/agent/conversations/"+r.id, s.adminToken, nil)
	require.Equal(t, "queued", c["conversation"].(map[string]any)["status"])

	admin.clearField("the capacity", `document.querySelector("#routing-capacity")`)
	admin.keys("0")
	admin.click("save", byText("document", "#routing-form button", "Save routing"))
	admin.wait("the refusal", `document.querySelector("#routing-status").textContent === "Not saved: the capacity is a whole number from 1 to 100." && `+
		`document.querySelector("#routing-status").classList.contains("error") && document.querySelector("#routing-capacity").getAttribute("aria-invalid") === "true"`)
	_, rt := e.do("GET", "/v1/admin/routing", s.adminToken, nil)
	require.Equal(t, "manual", rt["mode"], "a refused form saved something")

	admin.clearField("the capacity", `document.querySelector("#routing-capacity")`)
	admin.keys("2")
	admin.click("automatic", `document.querySelector("input[name=routing-mode][value=auto]")`)
	admin.click("save", byText("document", "#routing-form button", "Save routing"))
	admin.wait("saved", `document.querySelector("#routing-status").textContent === "Saved. Waiting conversations go to available agents by themselves." && `+
		`!document.querySelector("#routing-capacity").hasAttribute("aria-invalid")`)
	_, rt = e.do("GET", "/v1/admin/routing", s.adminToken, nil)
	require.Equal(t, "auto", rt["mode"])
	require.EqualValues(t, 2, rt["capacity"])

	joined := r.v.Next("agent_joined", func(f map[string]any) bool { return f["type"] == "agent_joined" })
	require.Equal(t, "Bea", joined["agent"].(map[string]any)["name"])
	theirs := `document.querySelector(` + jsq(`.pane[data-conversation="`+r.id+`"]`) + `)`
	agent.wait("the conversation in Bea's console", theirs+` !== null && !`+theirs+`.querySelector(".composer").hidden && `+
		byText("document", "#mine button", "waiting@example.com")+` !== undefined && document.querySelectorAll("#queue .queue-item").length === 0`)
	agent.wait("Bea's load", `document.querySelector("#load").textContent === "You have 1 of 2 conversations"`)
}

// testClock is real time moved on by hand: waits of minutes without
// waiting minutes.
type testClock struct{ off atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// watchStatus records the status frames the page's sockets receive, as
// they came (wait_estimate_s included, null or not).
const watchStatus = `
window.__status = [];
(() => {
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        try { const f = JSON.parse(ev.data); if (f.type === "status") window.__status.push(f); } catch (e) {}
      });
    }
  };
})();
`

// handOffInWidgetNL is handOffInWidget for a Dutch page.
func handOffInWidgetNL(p *page, email string) {
	p.t.Helper()
	p.typeInto("the composer", inWidget("textarea"), "Ik wil graag een medewerker spreken\r")
	p.click("ja", byText(widgetRoot, ".offer button", "Ja, verbind me door"))
	p.typeInto("the email field", inWidget("input[type=email]"), email+"\r")
	p.wait("the queue", inWidget(".status")+`.textContent.includes("in de wachtrij")`)
}

// TestBrowserWidgetShowsTheWaitEstimate: the team answered its last three
// visitors after a little over three minutes each. A visitor who queues
// while nobody is available gets no estimate, and the widget shows none;
// once an agent's console is open they hear 195 s, shown as "about 4
// minutes" (rounded up, never down), and a Dutch visitor third in line
// "ongeveer 10 minuten" (three rounds of the one agent). A person taking the
// conversation ends the estimate. A shop whose team answers at once tells
// its visitors "less than a minute".
func TestBrowserWidgetShowsTheWaitEstimate(t *testing.T) {
	browser(t)
	clk := &testClock{}
	e := newEnv(t, func(c *appConfig) { c.Now = clk.now })
	s := e.shop("Wait Shop")
	token := e.addAgent(s, "wes@wait.example", "Wes")

	// History, through the real flow: three visitors queue, the clock moves
	// on 185 s, Wes claims and answers, and closes.
	for i := range 3 {
		r := queueVisitor(e, s.m.WidgetKey, fmt.Sprintf("past%d@example.com", i))
		r.v.Next("queued", func(f map[string]any) bool { return f["type"] == "status" && f["status"] == "queued" })
		clk.advance(185 * time.Second)
		code, body := e.do("POST", "/v1/agent/conversations/"+r.id+"/claim", token, nil)
		require.Equal(t, 200, code, "claim: %v", body)
		require.NoError(t, e.postAsAgent(token, r.id, "Hello, Wes here."))
		code, body = e.do("POST", "/v1/agent/conversations/"+r.id+"/close", token, nil)
		require.Equal(t, 200, code, "close: %v", body)
	}

	status := inWidget(".status") + `.textContent`
	v := newPage(t, "visitor", watchStatus)
	v.navigate(shopPage(t, e.srv.URL, s.m.WidgetKey, "").URL)
	openWidget(v)
	handOffInWidget(v, "now@example.com")
	// Nobody is available: the gateway has no estimate, and says so.
	v.wait("a queued status without an estimate", `window.__status.some(f => f.status === "queued" && "wait_estimate_s" in f && f.wait_estimate_s === null)`)
	require.Equal(t, "You are number 1 in the queue.", eval[string](v, status))
	require.False(t, eval[bool](v, `window.__status.some(f => typeof f.wait_estimate_s === "number")`), "an estimate came with nobody available")

	// Wes opens his console: now there is someone to wait for.
	e.console(token)
	v.wait("the estimate", status+` === "You are number 1 in the queue. The wait is about 4 minutes."`)
	got := eval[int](v, `window.__status.filter(f => typeof f.wait_estimate_s === "number").pop().wait_estimate_s`)
	require.Equal(t, 195, got, "185 s a round, rounded up to a quarter minute")

	queueVisitor(e, s.m.WidgetKey, "next@example.com")
	nl := newPage(t, "bezoeker")
	nl.navigate(shopPageIn(t, "nl", e.srv.URL, s.m.WidgetKey, "").URL)
	openWidget(nl)
	handOffInWidgetNL(nl, "derde@example.com")
	nl.wait("the Dutch estimate", inWidget(".status")+`.textContent === "Je bent nummer 3 in de wachtrij. De wachttijd is ongeveer 10 minuten."`)

	// Someone takes it: no more waiting, no more estimate.
	convID := widgetConversation(v, s.m.WidgetKey)
	code, body := e.do("POST", "/v1/agent/conversations/"+convID+"/claim", token, nil)
	require.Equal(t, 200, code, "claim: %v", body)
	v.wait("Wes joined", status+` === "You are chatting with Wes."`)

	quick := e.shop("Quick Shop")
	kim := e.addAgent(quick, "kim@quick.example", "Kim")
	for i := range 3 {
		r := queueVisitor(e, quick.m.WidgetKey, fmt.Sprintf("fast%d@example.com", i))
		r.v.Next("queued", func(f map[string]any) bool { return f["type"] == "status" && f["status"] == "queued" })
		code, body := e.do("POST", "/v1/agent/conversations/"+r.id+"/claim", kim, nil)
		require.Equal(t, 200, code, "claim: %v", body)
		require.NoError(t, e.postAsAgent(kim, r.id, "Right here."))
		code, body = e.do("POST", "/v1/agent/conversations/"+r.id+"/close", kim, nil)
		require.Equal(t, 200, code, "close: %v", body)
	}
	e.console(kim)
	q := newPage(t, "quick visitor")
	q.navigate(shopPage(t, e.srv.URL, quick.m.WidgetKey, "").URL)
	openWidget(q)
	handOffInWidget(q, "soon@example.com")
	q.wait("less than a minute", status+` === "You are number 1 in the queue. The wait is less than a minute."`)
}
