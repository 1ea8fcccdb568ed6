package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBrowserSettingsAndOverview: an admin reads the overview's figures
// and chart, and edits the widget's origins, the knowledge and the team; a
// helpdesk that is not connected leads into its connection form first.
func TestBrowserSettingsAndOverview(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Settings Shop")

	// Some history: one conversation the assistant resolved, one routed.
	v1 := e.visitor(s.m.WidgetKey)
	v1.Send(map[string]any{"type": "hello"})
	v1.Expect("welcome")
	v1.Send(map[string]any{"type": "message", "client_id": "m1", "text": "hello there"})
	v1.ExpectMessage("assistant")
	v1.Send(map[string]any{"type": "close"})
	v1.Expect("closed")
	v2 := e.visitor(s.m.WidgetKey)
	v2.Send(map[string]any{"type": "hello"})
	v2.Expect("welcome")
	v2.Send(map[string]any{"type": "handoff_request"})
	v2.Expect("handoff_offer")
	v2.Send(map[string]any{"type": "handoff_reply", "accept": true})
	v2.Expect("email_request")
	v2.Send(map[string]any{"type": "email", "email": "routed@example.com"})
	require.Equal(t, "queued", v2.Expect("status")["status"])

	admin := newPage(t, "admin")
	signIn(admin, e.srv.URL, "settingsshop-admin@example.com", "admin-password")
	admin.click("overview", `document.querySelector("#nav-overview")`)
	kpi := func(label string) string {
		return `Array.from(document.querySelectorAll(".kpi")).find(k => k.querySelector(".kpi-label").textContent === ` + jsq(label) + `).querySelector(".kpi-value").textContent`
	}
	admin.wait("the figures", kpi("Conversations")+` === "2" && `+kpi("Resolution rate")+` === "50%" && `+kpi("Routed to the team")+` === "1"`)
	today := time.Now().UTC().Format(time.DateOnly)
	admin.wait("today's bars", `document.querySelector(".chart-svg .day[data-date='`+today+`'] .bar.resolved") && document.querySelector(".chart-svg .day[data-date='`+today+`'] .bar.routed")`)
	require.Equal(t, 30, eval[int](admin, `document.querySelectorAll(".chart-svg .day").length`))
	require.Equal(t, 30, eval[int](admin, `document.querySelectorAll("#metrics-table tbody tr").length`))
	require.Contains(t, eval[string](admin, `document.querySelector(".chart-svg .day[data-date='`+today+`'] title").textContent`),
		"2 conversations, 1 resolved by the assistant, 1 routed to the team, resolution rate 50%")
	updateScreenshot(t, "overview.png", admin.shot(`document.querySelector(".chart-card")`, 4, 0.75))
	admin.choose("the period", `document.querySelector("#range")`, "7")
	admin.wait("a week", `document.querySelectorAll(".chart-svg .day").length === 7 && document.querySelectorAll("#metrics-table tbody tr").length === 7`)

	openSettings(admin)
	admin.wait("the snippet", `document.querySelector("#snippet").value === `+jsq(`<script src="`+e.srv.URL+`/widget.js" data-key="`+s.m.WidgetKey+`" async></script>`))

	require.Equal(t, "password", eval[string](admin, `document.querySelector("#identity-secret").type`))
	admin.click("show the secret", `document.querySelector("#reveal-secret")`)
	admin.wait("the identity secret", `document.querySelector("#identity-secret").type === "text" && document.querySelector("#identity-secret").value === `+jsq(s.m.IdentitySecret))

	// Allowed origins: a bad one is refused in the page, good ones are kept
	// as Baton normalises them.
	admin.typeInto("the origins", `document.querySelector("#origins")`, "ftp://files.example")
	admin.click("save origins", byText("document", "#widget-form button", "Save allowed origins"))
	admin.wait("the refusal", `document.querySelector("#widget-status").textContent.includes("is not an origin")`)
	admin.clearField("the origins", `document.querySelector("#origins")`)
	admin.keys("https://shop.example\rhttps://Other.Example:443/")
	admin.click("save origins", byText("document", "#widget-form button", "Save allowed origins"))
	admin.wait("the saved origins", `document.querySelector("#widget-status").textContent === "Saved." && document.querySelector("#origins").value === "https://shop.example\nhttps://other.example"`)

	// The gateway obeys them: the test shop's own origin is not among them.
	refused := newPage(t, "visitor")
	refused.navigate(shopPage(t, e.srv.URL, s.m.WidgetKey, "").URL)
	refused.click("the launcher", inWidget(".launcher"))
	refused.wait("the refusal", inWidget(".status")+`.textContent === "The chat is not available right now. Please try again later." && document.querySelector("#baton-chat").dataset.state === "unavailable"`)

	// Knowledge.
	admin.click("add an entry", `document.querySelector("#add-entry")`)
	admin.keys("Do you ship to Iceland?")
	admin.typeInto("the answer", `document.querySelector("#knowledge-list .entry:last-child .a")`, "Yes, within 5 working days.")
	admin.click("save knowledge", byText("document", "#knowledge-form button", "Save knowledge"))
	admin.wait("the saved entry", `document.querySelector("#knowledge-status").textContent === "Saved 1 entry."`)
	code, body := e.do("GET", "/v1/admin/knowledge", s.adminToken, nil)
	require.Equal(t, 200, code)
	entries := body["entries"].([]any)
	require.Len(t, entries, 1)
	require.Equal(t, "Do you ship to Iceland?", entries[0].(map[string]any)["question"])
	require.Equal(t, "Yes, within 5 working days.", entries[0].(map[string]any)["answer"])

	// Zendesk before it is connected: its form comes first, and nothing is
	// saved until Zendesk accepts the credentials.
	admin.click("Zendesk", `document.querySelector("input[name=method][value=zendesk]")`)
	admin.wait("the Zendesk form", `!document.querySelector("#integration-zendesk").hidden && document.querySelector("[data-integration=zendesk]").textContent === "Not connected yet"`)
	admin.click("save", byText("document", "#handoff-form button", "Save handoff method"))
	admin.wait("connect first", `document.querySelector("#handoff-status").textContent === "Connect Zendesk first: fill in the form above." && document.activeElement === document.querySelector("#zd-subdomain")`)
	admin.click("an API token", `document.querySelector("input[name=zd-auth][value=api_token]")`)
	admin.click("connect", byText("document", "#integration-zendesk button", "Connect Zendesk"))
	admin.wait("every field", `document.querySelector("[data-status=zendesk]").textContent === "Fill in every field."`)
	admin.typeInto("the subdomain", `document.querySelector("#zd-subdomain")`, "settingsshop")
	admin.typeInto("the email", `document.querySelector("#zd-email")`, "support@shop.example")
	admin.typeInto("the token", `document.querySelector("#zd-token")`, "not-a-real-token")
	admin.click("advanced", `document.querySelector("#integration-zendesk summary")`)
	admin.typeInto("the base URL", `document.querySelector("#zd-base")`, "http://127.0.0.1:1")
	admin.click("connect", byText("document", "#integration-zendesk button", "Connect Zendesk"))
	admin.wait("the refusal", `document.querySelector("[data-status=zendesk]").textContent.startsWith("Zendesk is not connected:")`)
	code, body = e.do("GET", "/v1/admin/settings", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "inbox", body["handoff"].(map[string]any)["method"])
	admin.click("Gorgias", `document.querySelector("input[name=method][value=gorgias]")`)
	admin.wait("the Gorgias form instead", `!document.querySelector("#integration-gorgias").hidden && document.querySelector("#integration-zendesk").hidden`)
	admin.click("Inbox", `document.querySelector("input[name=method][value=inbox]")`)
	admin.wait("no form", `document.querySelector("#integration-gorgias").hidden && document.querySelector("#integration-zendesk").hidden`)
	admin.click("save", byText("document", "#handoff-form button", "Save handoff method"))
	admin.wait("saved", `document.querySelector("#handoff-status").textContent === "Saved. The assistant now uses the inbox."`)

	// The team, on a view of its own.
	admin.click("team", `document.querySelector("#nav-team")`)
	admin.wait("the team", `document.querySelectorAll("#team-list tr").length === 1`)
	admin.typeInto("the name", `document.querySelector("#agent-name")`, "Fay")
	admin.typeInto("the email", `document.querySelector("#agent-email")`, "fay@settings.example")
	admin.typeInto("the password", `document.querySelector("#agent-password")`, "a long password\r")
	admin.wait("Fay on the team", `document.querySelector("#agent-status").textContent === "Fay can now sign in." && document.querySelector("#team-list").textContent.includes("fay@settings.example")`)
	e.login("fay@settings.example", "a long password")
}
