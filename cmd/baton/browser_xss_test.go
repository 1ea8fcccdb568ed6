package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// xssPayload is markup that runs code if any page ever treats text as
// HTML, or makes a javascript: link clickable. Each attack sets
// window.__xss to say where it came from.
func xssPayload(who string) string {
	return strings.Join([]string{
		`<script>window.__xss="` + who + `-script"</script>`,
		`<img src=x onerror="window.__xss='` + who + `-img'">`,
		`<svg onload="window.__xss='` + who + `-svg'"><circle r=1 /></svg>`,
		`<iframe srcdoc="<script>parent.__xss='` + who + `-iframe'</script>"></iframe>`,
		`<a href="javascript:window.__xss='` + who + `-a'">a link</a>`,
		`<details open ontoggle="window.__xss='` + who + `-details'">x</details>`,
		`[click me](javascript:window.__xss='` + who + `-link')`,
		`javascript:window.__xss='` + who + `-bare'`,
	}, " ")
}

// requireInert checks a page after the payloads went through it: nothing
// ran, no element or handler came from the payload, every link is http(s),
// and the payload is there as plain text. root finds the element (or the
// elements) where the texts are shown.
func requireInert(t *testing.T, p *page, root string, who ...string) {
	t.Helper()
	type verdict struct {
		XSS  string   `json:"xss"`
		Bad  []string `json:"bad"`
		Text string   `json:"text"`
	}
	v := eval[verdict](p, `(() => {
		const roots = [document];
		const host = document.querySelector("#baton-chat");
		if (host && host.shadowRoot) roots.push(host.shadowRoot);
		const bad = [];
		// Neither Baton page has an inline handler of its own.
		for (const r of roots) {
			for (const n of r.querySelectorAll("*")) {
				for (const a of n.attributes) if (/^on/i.test(a.name)) bad.push(n.tagName + "[" + a.name + "]");
			}
		}
		// Where texts are shown, only text and http(s) links may appear.
		const found = `+root+`;
		const shown = found instanceof Element ? [found] : Array.from(found);
		for (const n of shown.flatMap(r => Array.from(r.querySelectorAll("*")))) {
			if (n.tagName === "A" && !/^https?:\/\//i.test(n.getAttribute("href") || "")) bad.push("A[href=" + n.getAttribute("href") + "]");
			if (!/^(DIV|SPAN|P|A|TIME|SECTION|H2|H3|DL|DT|DD|UL|LI|OL|LABEL|TEXTAREA|INPUT|BUTTON|FORM|HEADER|FIELDSET|LEGEND|SELECT|OPTION|B|STRONG|DETAILS|SUMMARY|TABLE|THEAD|TBODY|TR|TH|TD|CAPTION|svg|path)$/.test(n.tagName)) bad.push(n.tagName);
			if (n.closest(".msg, .preview, .text") && !/^(DIV|SPAN|P|A|TIME)$/.test(n.tagName)) bad.push(n.tagName + " in a message");
		}
		return {xss: window.__xss || "", bad, text: shown.map(r => r.textContent).join("\n")};
	})()`)
	require.Empty(t, v.XSS, "%s: a payload ran", p.name)
	require.Empty(t, v.Bad, "%s: elements from a payload", p.name)
	for _, w := range who {
		require.Contains(t, v.Text, xssPayload(w), "%s: the %s payload is not shown as text", p.name, w)
	}
}

// TestBrowserXSSNeverRuns: visitor, agent and merchant texts full of markup
// go through the widget, the console and the settings page as text.
func TestBrowserXSSNeverRuns(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("XSS Shop")
	code, body := e.do("PUT", "/v1/admin/knowledge", s.adminToken, map[string]any{"entries": []map[string]string{
		{"question": "Do you offer gift wrapping?", "answer": "Gift wrapping: " + xssPayload("knowledge")},
	}})
	require.Equal(t, 200, code, "%v", body)
	// Nobody is online, so a queued visitor gets the auto-response.
	code, body = e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"auto_response": "Busy: " + xssPayload("auto")})
	require.Equal(t, 200, code, "%v", body)
	e.addAgent(s, "dee@xss.example", "Dee")
	shop := shopPage(t, e.srv.URL, s.m.WidgetKey, "")

	visitor := newPage(t, "visitor")
	visitor.navigate(shop.URL)
	openWidget(visitor)
	visitor.typeInto("the composer", inWidget("textarea"), "Do you offer gift wrapping?\r")
	visitor.wait("the knowledge answer", inWidget(".log")+`.textContent.includes("Gift wrapping: <script>")`)
	handOffInWidget(visitor, "xss@example.com")
	visitor.wait("the auto-response", inWidget(".log")+`.textContent.includes("Busy: <script>")`)

	agent := newPage(t, "agent")
	signIn(agent, e.srv.URL, "dee@xss.example", "agent-password")
	agent.click("claim", byText("document", "#queue button", "Claim"))
	visitor.wait("the agent", inWidget(".status")+`.textContent === "You are chatting with Dee."`)
	visitor.click("the composer", inWidget("textarea"))
	visitor.insertText(xssPayload("visitor"))
	visitor.keys("\r")
	agent.wait("the visitor's payload", paneText+`.includes("visitor-img")`)
	agent.click("the reply box", pane+`.querySelector("textarea")`)
	agent.insertText(xssPayload("agent"))
	agent.keys("\r")
	visitor.wait("the agent's payload", `Array.from(`+widgetRoot+`.querySelectorAll("[data-seq][data-role=agent]")).some(n => n.textContent.includes("agent-img"))`)

	// The merchant writes a custom message with links in the settings page;
	// a javascript: link is refused there.
	admin := newPage(t, "admin")
	signIn(admin, e.srv.URL, "xssshop-admin@example.com", "admin-password")
	openSettings(admin)
	admin.wait("the settings", `document.querySelector("input[name=method][value=inbox]").checked && document.querySelector("[data-preview=auto-response]").textContent.includes("auto-img")`)
	admin.click("custom message", `document.querySelector("input[name=method][value=message]")`)
	admin.click("the message field", `document.querySelector("#custom-text")`)
	admin.insertText("Sorry! " + xssPayload("custom"))
	admin.click("add a link", `document.querySelector("#add-link")`)
	admin.keys("Help centre")
	admin.typeInto("the link address", `document.querySelector("#custom-links li:nth-child(1) .link-url")`, "https://help.example/faq")
	admin.click("add a link", `document.querySelector("#add-link")`)
	admin.keys("Sneaky")
	admin.typeInto("the link address", `document.querySelector("#custom-links li:nth-child(2) .link-url")`, "javascript:window.__xss='editor'")
	admin.click("save", byText("document", "#handoff-form button", "Save handoff method"))
	admin.wait("the refusal", `document.querySelector("#handoff-status").textContent === "Fix the link addresses first." && document.querySelector("#custom-links li:nth-child(2) .row-error").textContent.includes("https://")`)
	admin.click("remove the bad link", `document.querySelector("[aria-label='Remove link 2']")`)
	admin.click("save", byText("document", "#handoff-form button", "Save handoff method"))
	admin.wait("the saved method", `document.querySelector("#handoff-status").textContent.startsWith("Saved.")`)
	admin.wait("the preview's one link", `(() => { const a = document.querySelectorAll("#custom-preview a"); return a.length === 1 && a[0].href === "https://help.example/faq" && a[0].textContent === "Help centre"; })()`)

	visitor2 := newPage(t, "visitor2")
	visitor2.navigate(shop.URL)
	openWidget(visitor2)
	visitor2.wait("no person on offer", inWidget(".person")+`.hidden`)
	visitor2.typeInto("the composer", inWidget("textarea"), "Can I pay with seashells?\r")
	visitor2.wait("the custom message", inWidget(".log")+`.textContent.includes("Sorry! <script>")`)
	visitor2.wait("its link, clickable", `(() => { const a = `+widgetRoot+`.querySelectorAll("[data-role=assistant] a"); return a.length === 1 && a[0].href === "https://help.example/faq" && a[0].rel.includes("noopener"); })()`)

	requireInert(t, visitor, inWidget(".log"), "knowledge", "auto", "visitor", "agent")
	requireInert(t, agent, pane, "knowledge", "auto", "visitor", "agent")
	requireInert(t, admin, `document.querySelectorAll("#settings-view .preview")`, "auto", "custom")
	requireInert(t, visitor2, inWidget(".log"), "custom")
}
