package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// spyAlerts records the console's desktop notifications and sounds: a
// headless browser shows neither, so the test watches the calls.
const spyAlerts = `
window.__notes = [];
window.Notification = class {
  constructor(title, opts) { window.__notes.push({title: title, body: (opts && opts.body) || ""}); }
  close() {}
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
window.__beeps = 0;
(() => {
  const C = window.AudioContext;
  if (!C) return;
  const make = C.prototype.createOscillator;
  C.prototype.createOscillator = function () { window.__beeps++; return make.call(this); };
})();
`

func signIdentity(t *testing.T, secret, sub, email string) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()}
	if email != "" {
		claims["email"] = email
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	require.NoError(t, err)
	return s
}

// signIn logs into the console through its form.
func signIn(p *page, base, email, password string) {
	p.t.Helper()
	p.navigate(base + "/console/")
	p.typeInto("the email field", `document.querySelector("#login-email")`, email)
	p.typeInto("the password field", `document.querySelector("#login-password")`, password+"\r")
	p.wait("the console to go live", `document.querySelector("#conn").dataset.state === "live"`)
}

// openSettings goes to the settings and waits until every part has loaded.
func openSettings(p *page) {
	p.t.Helper()
	p.click("settings", `document.querySelector("#nav-settings")`)
	p.wait("the settings", `!document.querySelector("#settings-view").hidden && !document.querySelector("#settings-view").hasAttribute("aria-busy")`)
}

type shownLine struct {
	Seq  int64  `json:"seq"`
	Role string `json:"role"`
	Text string `json:"text"`
}

// shown lists the transcript lines a page shows, top to bottom.
func shown(p *page, root string) []shownLine {
	p.t.Helper()
	return eval[[]shownLine](p, `Array.from(`+root+`.querySelectorAll("[data-seq]")).map(n => ({
		seq: Number(n.dataset.seq), role: n.dataset.role, text: n.querySelector(".text").textContent }))`)
}

// requireSameTranscript checks that a page shows exactly the stored
// transcript: every line once, in seq order, with its text.
func requireSameTranscript(t *testing.T, p *page, root string, ref []map[string]any) {
	t.Helper()
	p.wait(fmt.Sprintf("%d transcript lines", len(ref)), root+`.querySelectorAll("[data-seq]").length >= `+fmt.Sprint(len(ref)))
	got := shown(p, root)
	require.Len(t, got, len(ref), "%s shows %v", p.name, got)
	for i, m := range ref {
		require.EqualValues(t, i+1, got[i].Seq, "%s: line %d", p.name, i)
		require.EqualValues(t, num(m["seq"]), got[i].Seq)
		require.Equal(t, m["role"], got[i].Role)
		require.Equal(t, m["text"], got[i].Text)
	}
	require.Zero(t, eval[int](p, root+`.querySelectorAll(".pending").length`), "%s: lines still pending", p.name)
}

func widgetConversation(p *page, key string) string {
	p.t.Helper()
	return eval[string](p, `(JSON.parse(localStorage.getItem("baton:`+key+`")) || {}).conversation_id`)
}

const (
	pane     = `document.querySelector(".pane")`
	paneText = pane + `.querySelector(".transcript").textContent`
)

// TestBrowserVisitorAndAgentCompleteTheFlow: a visitor and an agent, each
// in a browser of their own, go through the whole handoff through the pages
// alone.
func TestBrowserVisitorAndAgentCompleteTheFlow(t *testing.T) {
	browser(t)
	start := time.Now()
	e := newEnv(t)
	s := e.shop("Flow Shop")
	code, _ := e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(t, 200, code)
	e.addAgent(s, "anna@flow.example", "Anna")
	// A signed-in shopper without an email address on file: the widget
	// knows their profile id but must still ask for an address.
	identity := signIdentity(t, s.m.IdentitySecret, "cust-42", "")
	shop := shopPage(t, e.srv.URL, s.m.WidgetKey, `data-identity="`+identity+`"`)

	visitor := newPage(t, "visitor")
	visitor.navigate(shop.URL)
	launcher := inWidget(".launcher")
	visitor.wait("the launcher", launcher+`.getAttribute("aria-label") === "Open chat"`)
	require.Equal(t, "rgb(255, 255, 255)", eval[string](visitor, `getComputedStyle(`+launcher+`).color`),
		"the shop's button styles reached the widget")
	require.Equal(t, "0px", eval[string](visitor, `getComputedStyle(document.querySelector("#baton-chat")).borderTopWidth`),
		"the shop's div styles reached the widget's host")
	require.Equal(t, "log", eval[string](visitor, inWidget(".log")+`.getAttribute("role")`))
	openWidget(visitor)
	visitor.wait("the composer to have the focus", widgetRoot+`.activeElement === `+inWidget("textarea"))
	require.Equal(t, "Type your message", eval[string](visitor, inWidget("textarea")+`.getAttribute("aria-label")`))

	visitor.keys("How long does shipping take?\r")
	visitor.wait("the composer emptied", inWidget("textarea")+`.value === ""`)
	visitor.wait("the assistant's answer", `Array.from(`+widgetRoot+`.querySelectorAll("[data-role=assistant] .text")).some(n => n.textContent.includes("Shipping takes 2 working days."))`)

	visitor.click("talk to a person", byText(widgetRoot, "button", "Talk to a person"))
	visitor.click("yes", byText(widgetRoot, ".offer button", "Yes, connect me"))
	visitor.typeInto("the email field", inWidget("input[type=email]"), "not an address\r")
	visitor.wait("the inline email error", inWidget("#baton-email-error")+`.hidden === false && `+
		inWidget("#baton-email")+`.getAttribute("aria-invalid") === "true" && `+inWidget("#baton-email-error")+`.textContent.includes("does not look like")`)
	visitor.clearField("the email field", inWidget("input[type=email]"))
	visitor.keys("visitor@example.com\r")
	visitor.wait("the queue position", inWidget(".status")+`.textContent.includes("You are number 1 in the queue.")`)
	// Nobody from the team is signed in yet: the auto-response.
	visitor.wait("the team's notice", `Array.from(`+widgetRoot+`.querySelectorAll("[data-role=system] .text")).some(n => n.textContent.includes("Everyone is busy right now"))`)

	// The agent signs in and finds the visitor waiting.
	agent := newPage(t, "agent", spyAlerts)
	signIn(agent, e.srv.URL, "anna@flow.example", "agent-password")
	agent.wait("the handoff in the queue", `document.querySelector("#queue .queue-item .name").textContent === "visitor@example.com"`)
	agent.wait("the waiting time", `/^waiting \d+s$/.test(document.querySelector("#queue .wait").textContent)`)
	agent.wait("the badge", `document.querySelector("#queue-badge").textContent === "1" && document.title.startsWith("(1)")`)
	require.Zero(t, eval[int](agent, `window.__notes.length`), "what waited before signing in is not news")

	// A handoff while the agent is there: a badge, a notification, a sound.
	other := e.visitor(s.m.WidgetKey)
	other.Send(map[string]any{"type": "hello"})
	other.Expect("welcome")
	other.Send(map[string]any{"type": "handoff_request"})
	other.Expect("handoff_offer")
	other.Send(map[string]any{"type": "handoff_reply", "accept": true})
	other.Expect("email_request")
	other.Send(map[string]any{"type": "email", "email": "second@example.com"})
	agent.wait("the second handoff", `document.querySelectorAll("#queue .queue-item").length === 2 && document.querySelector("#queue-badge").textContent === "2" && document.title.startsWith("(2)")`)
	agent.wait("one desktop notification", `window.__notes.length === 1 && window.__notes[0].body.includes("second@example.com")`)
	agent.wait("a sound", `window.__beeps > 0`)

	agent.click("claim", `Array.from(document.querySelectorAll("#queue .queue-item")).find(li => li.querySelector(".name").textContent === "visitor@example.com").querySelector("button.primary")`)
	agent.wait("the whole transcript, the assistant's part too", paneText+`.includes("Shipping takes 2 working days.") && `+paneText+`.includes("How long does shipping take?")`)
	agent.wait("the visitor's email and profile id", pane+`.querySelector(".facts").textContent.includes("visitor@example.com") && `+pane+`.querySelector(".facts").textContent.includes("cust-42")`)
	agent.wait("one left in the queue", `document.querySelectorAll("#queue .queue-item").length === 1 && document.querySelector("#queue-badge").textContent === "1"`)
	visitor.wait("the agent to join", inWidget(".status")+`.textContent === "You are chatting with Anna."`)

	// Live both ways, with typing indicators.
	agent.typeInto("the reply box", pane+`.querySelector("textarea")`, "Hi, Anna here. Let me check.")
	visitor.wait("the agent typing", inWidget(".typing")+`.textContent === "Anna is typing…"`)
	agent.keys("\r")
	visitor.wait("the agent's message", `Array.from(`+widgetRoot+`.querySelectorAll("[data-role=agent]")).some(n => n.querySelector(".who").textContent === "Anna" && n.querySelector(".text").textContent === "Hi, Anna here. Let me check.")`)
	visitor.typeInto("the composer", inWidget("textarea"), "Thanks Anna")
	agent.wait("the visitor typing", pane+`.querySelector(".typing").textContent === "The visitor is typing…"`)
	visitor.keys("\r")
	agent.wait("the visitor's message", `Array.from(`+pane+`.querySelectorAll("[data-role=visitor] .text")).some(n => n.textContent === "Thanks Anna")`)

	convID := widgetConversation(visitor, s.m.WidgetKey)
	require.NotEmpty(t, convID)
	ref := e.transcript(s.adminToken, convID)
	roles := []string{}
	for _, m := range ref {
		roles = append(roles, m["role"].(string))
	}
	require.Equal(t, "visitor,assistant,system,system,agent,visitor", strings.Join(roles, ","))
	requireSameTranscript(t, visitor, widgetRoot, ref)
	requireSameTranscript(t, agent, pane, ref)
	updateScreenshot(t, "widget.png", visitor.shot(inWidget(".panel"), 8, 1))
	updateScreenshot(t, "console.png", agent.shot(`document.documentElement`, 0, 0.75))

	// Released, the visitor is back in the queue; claimed again and closed,
	// the chat ends on both sides.
	agent.click("release", byText("document", ".pane button", "Release to queue"))
	visitor.wait("the queue again", inWidget(".status")+`.textContent.includes("in the queue")`)
	agent.click("claim again", byText("document", ".pane button", "Claim"))
	visitor.wait("the agent again", inWidget(".status")+`.textContent === "You are chatting with Anna."`)
	agent.click("close", byText("document", ".pane button", "Close conversation"))
	agent.click("confirm", byText("document", ".pane button", "Confirm close"))
	visitor.wait("the end", inWidget(".ended")+`.textContent.includes("This conversation has ended.") && `+inWidget(".composer")+`.hidden`)
	agent.wait("the ended pane", pane+`.querySelector(".pane-status").textContent === "This conversation has ended." && `+pane+`.querySelector(".composer").hidden`)

	// A second conversation opens beside the first; claimed, it has its own
	// composer and transcript.
	agent.click("the waiting visitor", byText("document", "#queue .name", "second@example.com"))
	second := `document.querySelector(".pane[data-conversation='` + eval[string](agent, `document.querySelector("#queue .queue-item").dataset.conversation`) + `']")`
	agent.wait("two panes", `document.querySelectorAll(".pane").length === 2 && `+second+`.querySelector(".facts").textContent.includes("second@example.com")`)
	agent.click("claim it", second+`.querySelector(".pane-tools .primary")`)
	agent.wait("its composer", `!`+second+`.querySelector(".composer").hidden && `+second+`.querySelector(".transcript").textContent.includes("Anna joined the conversation.")`)
	require.Equal(t, 2, eval[int](agent, `document.querySelectorAll(".pane").length`))

	// Away, and back: the presence the console shows is the one Baton keeps.
	agent.choose("the presence", `document.querySelector("#presence")`, "away")
	annaToken := e.login("anna@flow.example", "agent-password")
	deadline := time.Now().Add(waitFor)
	for {
		code, body := e.do("GET", "/v1/agent/presence", annaToken, nil)
		require.Equal(t, 200, code)
		if body["status"] == "away" {
			break
		}
		require.True(t, time.Now().Before(deadline), "the presence stayed %v", body["status"])
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("visitor and agent went through the flow in %s", time.Since(start).Round(time.Millisecond))
}

// postAsAgent writes agent messages over REST from another goroutine, so it
// reports errors instead of failing the test itself.
func (e *env) postAsAgent(token, convID string, texts ...string) error {
	for i, text := range texts {
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/agent/conversations/"+convID+"/messages",
			strings.NewReader(fmt.Sprintf(`{"client_id":"bg-%d-%d","text":%s}`, time.Now().UnixNano(), i, jsq(text))))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != 201 {
			return fmt.Errorf("posting %q: status %d", text, res.StatusCode)
		}
	}
	return nil
}

// handOffInWidget takes an open widget from a question to the queue.
func handOffInWidget(p *page, email string) {
	p.t.Helper()
	p.typeInto("the composer", inWidget("textarea"), "I want to talk to a human please\r")
	p.click("yes", byText(widgetRoot, ".offer button", "Yes, connect me"))
	p.typeInto("the email field", inWidget("input[type=email]"), email+"\r")
	p.wait("the queue", inWidget(".status")+`.textContent.includes("in the queue")`)
}

// TestBrowserVisitorReloadLosesNoLine: the visitor reloads the page while
// the agent writes, then the network drops under both; the widget shows
// every line exactly once, in seq order, each time.
func TestBrowserVisitorReloadLosesNoLine(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Reload Shop")
	code, _ := e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(t, 200, code)
	agentToken := e.addAgent(s, "ben@reload.example", "Ben")
	proxy := newCutProxy(t, e.srv.URL)
	shop := shopPage(t, proxy.URL(), s.m.WidgetKey, "")

	visitor := newPage(t, "visitor")
	visitor.navigate(shop.URL)
	openWidget(visitor)
	for _, q := range []string{"How long does shipping take?", "How do I return an item?"} {
		visitor.typeInto("the composer", inWidget("textarea"), q+"\r")
	}
	visitor.wait("both answers", widgetRoot+`.querySelectorAll("[data-role=assistant]").length === 2`)
	handOffInWidget(visitor, "reload@example.com")
	convID := widgetConversation(visitor, s.m.WidgetKey)
	code, body := e.do("POST", "/v1/agent/conversations/"+convID+"/claim", agentToken, nil)
	require.Equal(t, 200, code, "%v", body)
	visitor.wait("the agent", inWidget(".status")+`.textContent === "You are chatting with Ben."`)

	// Reload while the agent is writing.
	posted := make(chan error, 1)
	go func() { posted <- e.postAsAgent(agentToken, convID, "one moment", "checking your order", "found it") }()
	visitor.reload()
	require.NoError(t, <-posted)
	visitor.wait("the panel to stay open", inWidget(".panel")+`.hidden === false`)
	requireSameTranscript(t, visitor, widgetRoot, e.transcript(agentToken, convID))
	visitor.wait("the agent again", inWidget(".status")+`.textContent === "You are chatting with Ben."`)

	// The network drops; the agent writes while the widget is away and the
	// visitor types before the widget has noticed.
	proxy.cut()
	require.NoError(t, e.postAsAgent(agentToken, convID, "are you still there?", "I will wait"))
	visitor.typeInto("the composer", inWidget("textarea"), "yes, back now\r")
	visitor.wait("the visitor's line, acknowledged", `Array.from(`+widgetRoot+`.querySelectorAll("[data-seq][data-role=visitor] .text")).some(n => n.textContent === "yes, back now")`)
	requireSameTranscript(t, visitor, widgetRoot, e.transcript(agentToken, convID))

	// And once more after all that, a plain reload.
	visitor.reload()
	requireSameTranscript(t, visitor, widgetRoot, e.transcript(agentToken, convID))
}

// TestBrowserConsoleResyncsAfterDrop: the console's socket drops; what
// happened meanwhile (visitor lines, a new handoff) shows once it is back.
func TestBrowserConsoleResyncsAfterDrop(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Resync Shop")
	e.addAgent(s, "cas@resync.example", "Cas")
	proxy := newCutProxy(t, e.srv.URL)

	agent := newPage(t, "agent", spyAlerts)
	signIn(agent, proxy.URL(), "cas@resync.example", "agent-password")

	v := e.visitor(s.m.WidgetKey)
	v.Send(map[string]any{"type": "hello"})
	convID := v.Expect("welcome")["conversation_id"].(string)
	v.Send(map[string]any{"type": "handoff_request"})
	v.Expect("handoff_offer")
	v.Send(map[string]any{"type": "handoff_reply", "accept": true})
	v.Expect("email_request")
	v.Send(map[string]any{"type": "email", "email": "drop@example.com"})
	agent.click("claim", byText("document", "#queue button", "Claim"))
	agent.wait("the pane", pane+`.querySelector(".facts").textContent.includes("drop@example.com")`)
	v.Expect("agent_joined")

	proxy.cut()
	agent.wait("the console to notice", `document.querySelector("#conn").dataset.state !== "live"`)
	for i := 1; i <= 2; i++ {
		v.Send(map[string]any{"type": "message", "client_id": fmt.Sprintf("d%d", i), "text": fmt.Sprintf("while you were away %d", i)})
		v.ExpectMessage("visitor")
	}
	other := e.visitor(s.m.WidgetKey)
	other.Send(map[string]any{"type": "hello"})
	other.Expect("welcome")
	other.Send(map[string]any{"type": "handoff_request"})
	other.Expect("handoff_offer")
	other.Send(map[string]any{"type": "handoff_reply", "accept": true})
	other.Expect("email_request")
	other.Send(map[string]any{"type": "email", "email": "second@example.com"})
	other.Expect("status")

	agent.wait("the console to be live again", `document.querySelector("#conn").dataset.state === "live"`)
	agent.wait("the missed lines", paneText+`.includes("while you were away 2")`)
	agent.wait("the handoff that came meanwhile, with an alert", `document.querySelector("#queue .queue-item .name").textContent === "second@example.com" && window.__notes.some(n => n.body.includes("second@example.com"))`)

	// Live again: new lines arrive over the new socket.
	v.Send(map[string]any{"type": "message", "client_id": "d3", "text": "and now live"})
	agent.wait("a live line", paneText+`.includes("and now live")`)
	requireSameTranscript(t, agent, pane, e.transcript(s.adminToken, convID))
}
