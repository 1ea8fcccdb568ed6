package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/helpdesk/helpdesktest"
)

// q finds the first element matching a CSS selector.
func q(sel string) string { return `document.querySelector(` + jsq(sel) + `)` }

// paneOf finds the pane of one conversation.
func paneOf(convID string) string { return q(`.pane[data-conversation="` + convID + `"]`) }

// rowOf finds one handoff in the admins' handoffs view.
func rowOf(convID string) string { return q(`#handoff-list [data-handoff="` + convID + `"]`) }

// recentOf finds one conversation in the inbox's recent list.
func recentOf(convID string) string { return q(`#recent [data-conversation="` + convID + `"]`) }

// TestBrowserHelpdeskTickets: an admin connects Zendesk through the
// settings form (against a fake Zendesk) and makes it the handoff method; a
// visitor hands off in the widget, and the console shows the ticket's id
// and link on that conversation, to the admin and to an agent. A second
// handoff that Zendesk refuses for good is listed as failed with its
// reason (markup in it stays text), and the admin retries it from the
// keyboard once Zendesk accepts: it is created, in the list and in the
// conversation's pane.
func TestBrowserHelpdeskTickets(t *testing.T) {
	browser(t)
	start := time.Now()
	// Fast helpdesk calls, but no need to poll hard: a handoff and a
	// retry wake the workers themselves, and nothing here waits on a
	// backoff. (Polling every 10ms under -race slows the browsers.)
	e := newEnv(t, fastHelpdesk, func(c *appConfig) { c.Outbox.Poll = 250 * time.Millisecond })
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "zd-secret-token-0123")
	var mu sync.Mutex
	refuse := false
	z.SetPlan(func(string, int) helpdesktest.Fault {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return helpdesktest.Fault{Status: 422, Body: `{"error":"RecordInvalid","description":` + jsq(xssPayload("ticket")) + `}`}
		}
		return helpdesktest.Fault{}
	})
	s := e.shop("Ticket Shop")
	e.addAgent(s, "tia@ticket.example", "Tia")

	// A conversation the visitor closed, before anyone signs in.
	v := e.visitor(s.m.WidgetKey)
	v.Send(map[string]any{"type": "hello"})
	closedID := v.Expect("welcome")["conversation_id"].(string)
	v.Send(map[string]any{"type": "message", "client_id": "c1", "text": "hello there"})
	v.ExpectMessage("assistant")
	v.Send(map[string]any{"type": "close"})
	v.Expect("closed")

	// Connect Zendesk in the settings: choosing it shows its form, and
	// connecting saves the method too.
	// The admin's console can have a list of handoffs held back, to be
	// answered after what the admin does meanwhile.
	lists := newGate(func(r *http.Request) bool { return r.Method == "GET" && r.URL.Path == "/v1/admin/handoffs" })
	admin := newPage(t, "admin")
	signIn(admin, gatedServer(t, e, lists).URL, "ticketshop-admin@example.com", "admin-password")
	openSettings(admin)
	admin.click("Zendesk", `document.querySelector("input[name=method][value=zendesk]")`)
	admin.wait("the Zendesk form", `!document.querySelector("#integration-zendesk").hidden`)
	admin.typeInto("the subdomain", `document.querySelector("#zd-subdomain")`, "ticketshop")
	admin.click("an API token", `document.querySelector("input[name=zd-auth][value=api_token]")`)
	admin.typeInto("the email", `document.querySelector("#zd-email")`, "owner@zd.example")
	admin.typeInto("the token", `document.querySelector("#zd-token")`, "zd-secret-token-0123")
	admin.click("advanced", `document.querySelector("#integration-zendesk summary")`)
	admin.typeInto("the base URL", `document.querySelector("#zd-base")`, z.URL())
	admin.click("connect", byText("document", "#integration-zendesk button", "Connect Zendesk"))
	admin.wait("the method saved", `document.querySelector("#handoff-status").textContent === "Saved. The assistant now uses Zendesk."`)
	admin.wait("the connection's summary", `document.querySelector("#integration-zendesk").hidden && !document.querySelector("#connected-zendesk").hidden &&
		document.querySelector("[data-summary=zendesk]").textContent.includes("to ticketshop as owner@zd.example") &&
		document.querySelector("[data-summary=zendesk]").textContent.includes("API token ********0123") &&
		document.querySelector("[data-warn=zendesk]").textContent.startsWith("Zendesk stops API tokens on 30 April 2027") &&
		document.querySelector("[data-integration=zendesk]").textContent === "Connected"`)
	// Changing the connection: the form comes back with what Baton has but
	// not the token, which may stay empty (Baton keeps its own and checks
	// it again). Enter in a field connects.
	checks := func() int {
		n := 0
		for _, r := range z.Requests() {
			if r.Path == "/api/v2/users/me.json" && r.Status == 200 {
				n++
			}
		}
		return n
	}
	before := checks()
	admin.click("change", `document.querySelector("[data-change=zendesk]")`)
	admin.wait("the form, filled in", `!document.querySelector("#integration-zendesk").hidden && document.activeElement === document.querySelector("#zd-subdomain") &&
		document.querySelector("#zd-subdomain").value === "ticketshop" && document.querySelector("#zd-email").value === "owner@zd.example" &&
		document.querySelector("#zd-token").value === "" && !document.querySelector("[data-keep=zendesk]").hidden &&
		document.querySelector("#zd-base").value === `+jsq(z.URL()))
	admin.keys("\r")
	require.Eventually(t, func() bool { return checks() == before+1 }, waitFor, 20*time.Millisecond, "the kept token was not checked again")
	admin.wait("connected again", `document.querySelector("#integration-zendesk").hidden && document.activeElement === document.querySelector("[data-change=zendesk]")`)
	code, body := e.do("GET", "/v1/admin/settings", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "zendesk", body["handoff"].(map[string]any)["method"])
	code, body = e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, true, body["connected"])
	require.Equal(t, z.URL(), body["base_url"])

	agent := newPage(t, "agent")
	signIn(agent, e.srv.URL, "tia@ticket.example", "agent-password")

	// A visitor hands off in the widget: the chat ends with the promise of
	// an email, and Zendesk gets the ticket.
	visitor := newPage(t, "visitor")
	visitor.navigate(shopPage(t, e.srv.URL, s.m.WidgetKey, "").URL)
	openWidget(visitor)
	visitor.typeInto("the composer", inWidget("textarea"), "I want to talk to a human please\r")
	// The widget forgets an ended conversation: its id is read before.
	visitor.wait("the offer", byText(widgetRoot, ".offer button", "Yes, connect me"))
	convID := widgetConversation(visitor, s.m.WidgetKey)
	require.NotEmpty(t, convID)
	visitor.click("yes", byText(widgetRoot, ".offer button", "Yes, connect me"))
	visitor.typeInto("the email field", inWidget("input[type=email]"), "vera@example.com\r")
	visitor.wait("the promise", inWidget(".log")+`.textContent.includes("reply by email to vera@example.com")`)
	var ticketID string
	require.Eventually(t, func() bool {
		ts := z.TicketsFor("baton-" + convID)
		if len(ts) == 1 {
			ticketID = fmt.Sprint(ts[0].ID)
		}
		return ticketID != ""
	}, waitFor, 20*time.Millisecond)
	ticketURL := z.URL() + "/agent/tickets/" + ticketID

	// The agent finds it under "Sent to helpdesk" (the list follows the
	// conversation frames) and opens it read-only, with the ticket.
	agent.wait("the ticketed conversation", `document.querySelector("#recent-status").value === "ticketed" &&
		`+recentOf(convID)+`.querySelector(".ticket-line").textContent === "Created Zendesk ticket `+ticketID+`"`)
	agent.click("open it", recentOf(convID)+`.querySelector("button")`)
	requireTicketLink(t, agent, convID, ticketID, ticketURL)
	agent.wait("the whole transcript, read-only", paneOf(convID)+`.querySelector(".transcript").textContent.includes("talk to a human") &&
		`+paneOf(convID)+`.querySelector(".transcript").textContent.includes("reply by email to vera@example.com") &&
		`+paneOf(convID)+`.querySelector(".composer").hidden && `+paneOf(convID)+`.querySelector(".pane-tools button:not([hidden])") === null`)

	// The admin sees the same, and finds the closed one under "Closed".
	admin.click("inbox", `document.querySelector("#nav-inbox")`)
	admin.click("open it", recentOf(convID)+`.querySelector("button")`)
	requireTicketLink(t, admin, convID, ticketID, ticketURL)
	admin.choose("closed conversations", `document.querySelector("#recent-status")`, "closed")
	admin.click("open the closed one", recentOf(closedID)+`.querySelector("button")`)
	admin.wait("its transcript", paneOf(closedID)+`.querySelector(".transcript").textContent.includes("hello there") &&
		`+paneOf(closedID)+`.querySelector(".pane-status").textContent === "This conversation has ended." && `+paneOf(closedID)+`.querySelector(".composer").hidden`)

	// Zendesk now refuses for good: the next handoff is a dead letter at once.
	mu.Lock()
	refuse = true
	mu.Unlock()
	v2 := e.visitor(s.m.WidgetKey)
	v2.Send(map[string]any{"type": "hello"})
	failedID := v2.Expect("welcome")["conversation_id"].(string)
	v2.Send(map[string]any{"type": "handoff_request"})
	v2.Expect("handoff_offer")
	v2.Send(map[string]any{"type": "handoff_reply", "accept": true})
	v2.Expect("email_request")
	v2.Send(map[string]any{"type": "email", "email": "wren@example.com"})
	require.Equal(t, "ticketed", v2.Expect("closed")["reason"])

	admin.wait("the failed count on the tab", `document.querySelector("#failed-badge").textContent === "1 failed" && !document.querySelector("#failed-badge").hidden`)
	admin.click("handoffs", `document.querySelector("#nav-handoffs")`)
	admin.wait("the failed handoff", `document.querySelector("#handoff-state").value === "failed" && `+rowOf(failedID)+`.dataset.state === "failed" &&
		`+rowOf(failedID)+`.querySelector(".ticket-error").textContent === `+jsq("zendesk answered 422: RecordInvalid; "+xssPayload("ticket"))+` &&
		`+rowOf(failedID)+`.textContent.includes("Zendesk") && `+rowOf(failedID)+`.textContent.includes("The visitor asked for a person")`)
	require.Equal(t, 1, eval[int](admin, `document.querySelectorAll("#handoff-list .handoff").length`), "only the failed one is listed")
	admin.wait("the helpdesk's status", `document.querySelector("[data-integration-status=zendesk]").textContent.includes("Connected") &&
		document.querySelector("[data-integration-status=zendesk]").textContent.includes("********0123") &&
		document.querySelector("[data-integration-status=zendesk] time") !== null &&
		document.querySelector("[data-integration-status=gorgias]").textContent.includes("Not connected")`)
	requireInert(t, admin, `document.querySelectorAll("#handoff-list dl")`, "ticket")

	// Its conversation, from the list: the pane says it failed, and why.
	admin.click("the failed conversation", rowOf(failedID)+`.querySelector("a.handoff-conv")`)
	admin.wait("the failure in the pane", paneOf(failedID)+`.querySelector(".ticket").dataset.state === "failed" &&
		`+paneOf(failedID)+`.querySelector(".ticket-state").textContent === "Failed: no ticket was made" &&
		`+paneOf(failedID)+`.querySelector(".ticket-error").textContent.includes("<img src=x")`)
	requireInert(t, admin, paneOf(failedID)+`.querySelector(".ticket")`, "ticket")
	agent.wait("the failure for the agent, with no retry", recentOf(failedID)+`.querySelector(".ticket-line").textContent === "Failed Zendesk"`)
	agent.click("open it", recentOf(failedID)+`.querySelector("button")`)
	agent.wait("the reason", paneOf(failedID)+`.querySelector(".ticket-error").textContent.includes("RecordInvalid")`)
	require.Zero(t, eval[int](agent, paneOf(failedID)+`.querySelectorAll(".ticket button").length`), "agents cannot retry")

	// Zendesk accepts again; the admin retries from the keyboard.
	mu.Lock()
	refuse = false
	mu.Unlock()
	// The list the view reads again is answered only after the retry: it
	// tells of before, and must not take the retried row away.
	lists.hold()
	admin.click("handoffs", `document.querySelector("#nav-handoffs")`)
	lists.waitHeld(t)
	admin.wait("the retry button", rowOf(failedID)+`.querySelector("button.retry-btn").getAttribute("aria-label") === "Retry the Zendesk ticket for wren@example.com"`)
	// Focus takes only once the view is shown (the nav's hashchange).
	admin.wait("the retry button focused", `(b => { b.focus(); return document.activeElement === b; })(`+rowOf(failedID)+`.querySelector("button.retry-btn"))`)
	admin.keys("\r")
	var retriedID string
	require.Eventually(t, func() bool {
		ts := z.TicketsFor("baton-" + failedID)
		if len(ts) == 1 {
			retriedID = fmt.Sprint(ts[0].ID)
		}
		return retriedID != ""
	}, waitFor, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		_, body := e.do("GET", "/v1/admin/handoffs/"+failedID, s.adminToken, nil)
		h, _ := body["handoff"].(map[string]any)
		return h["state"] == "created"
	}, waitFor, 20*time.Millisecond, "the retried handoff was never recorded as created")
	lists.release()
	retriedURL := z.URL() + "/agent/tickets/" + retriedID
	admin.wait("created, where it was retried", rowOf(failedID)+`.dataset.state === "created" &&
		`+rowOf(failedID)+`.querySelector(".form-status").textContent === "Created: Zendesk ticket `+retriedID+`." &&
		`+rowOf(failedID)+`.querySelector("a.ticket-id").href === `+jsq(retriedURL)+` &&
		document.activeElement === `+rowOf(failedID)+`.querySelector(".form-status")`)
	admin.wait("no failures on the tab", `document.querySelector("#failed-badge").hidden`)
	admin.choose("created tickets", `document.querySelector("#handoff-state")`, "created")
	admin.wait("both created", `document.querySelectorAll("#handoff-list .handoff[data-state=created]").length === 2 && `+rowOf(convID)+` !== null`)
	admin.click("inbox", `document.querySelector("#nav-inbox")`)
	requireTicketLink(t, admin, failedID, retriedID, retriedURL)
	requireTicketLink(t, agent, failedID, retriedID, retriedURL)
	require.Empty(t, z.Problems())
	t.Logf("helpdesk tickets in the console in %s", time.Since(start).Round(time.Millisecond))
}

// requireTicketLink waits until a conversation's pane shows its ticket as
// created, with its id linked safely into the helpdesk.
func requireTicketLink(t *testing.T, p *page, convID, ticketID, url string) {
	t.Helper()
	box := paneOf(convID) + `.querySelector(".ticket")`
	p.wait("the ticket "+ticketID, box+`.dataset.state === "created" && `+box+`.querySelector(".ticket-state").textContent === "Created" &&
		`+box+`.querySelector("a.ticket-id") && `+box+`.querySelector("a.ticket-id").textContent.startsWith("Zendesk ticket `+ticketID+`")`)
	type link struct {
		Href, Rel, Target, Facts string
	}
	l := eval[link](p, `(() => { const a = `+box+`.querySelector("a.ticket-id");
		return {href: a.getAttribute("href"), rel: a.rel, target: a.target, facts: `+box+`.textContent}; })()`)
	require.Equal(t, url, l.Href, "%s: the ticket's link", p.name)
	require.Equal(t, "noopener noreferrer", l.Rel)
	require.Equal(t, "_blank", l.Target)
	require.Contains(t, l.Facts, "HelpdeskZendesk")
}
