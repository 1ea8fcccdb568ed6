package main

import (
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// webhookItem is the endpoint's row in the webhooks card.
func webhookItem(url string) string {
	return `Array.from(document.querySelectorAll("#webhook-list .webhook")).find(n => n.querySelector(".webhook-url").textContent === ` + jsq(url) + `)`
}

// webhookButton is one of the row's buttons, by its accessible name.
func webhookButton(label string) string {
	return `Array.from(document.querySelectorAll("#webhook-list button")).find(b => b.getAttribute("aria-label") === ` + jsq(label) + `)`
}

// TestBrowserWebhooks: an admin adds an endpoint in the console (a refused
// address is said next to the field), copies the secret shown once, sends a
// test the endpoint receives signed with it, gives it a new secret (the old
// one still signs meanwhile, as the card says), sees a delivery that failed
// for good and sends it again, and removes the endpoint.
func TestBrowserWebhooks(t *testing.T) {
	browser(t)
	e := newEnv(t, fastWebhooks)
	s := e.shop("Hook Browser Shop")
	sink := newHookSink(t)
	url := sink.srv.URL + "/baton"

	admin := newPage(t, "admin")
	signIn(admin, e.srv.URL, "hookbrowsershop-admin@example.com", "admin-password")
	openSettings(admin)
	admin.wait("no endpoints", `!document.querySelector("#webhooks-empty").hidden && document.querySelectorAll("#webhook-list li").length === 0 && !document.querySelector("#deliveries-empty").hidden`)

	// The page's own checks: an address and at least one event.
	admin.click("add", `document.querySelector("#webhook-form button[type=submit]")`)
	admin.wait("both field errors", `document.querySelector("#webhook-url-error").textContent.startsWith("Enter a full address") && `+
		`document.querySelector("#webhook-events-error").textContent === "Choose at least one event." && `+
		`document.querySelector("#webhook-url").getAttribute("aria-invalid") === "true" && document.activeElement === document.querySelector("#webhook-url")`)
	// The server's: an address outside the operator's allow-list.
	admin.typeInto("the URL", `document.querySelector("#webhook-url")`, "http://127.0.0.2:9/x")
	admin.wait("the URL error gone while typing", `document.querySelector("#webhook-url-error").hidden`)
	admin.click("started", `document.querySelector("#webhook-events input[value='conversation.started']")`)
	admin.click("add", `document.querySelector("#webhook-form button[type=submit]")`)
	admin.wait("the refusal next to the URL", `!document.querySelector("#webhook-url-error").hidden && `+
		`document.querySelector("#webhook-url-error").textContent.startsWith("Baton may not send to this address") && document.querySelector("#webhook-events-error").hidden`)
	require.Equal(t, "webhook-url-error", eval[string](admin, `document.querySelector("#webhook-url").getAttribute("aria-describedby")`))
	code, body := e.do("GET", "/v1/admin/webhooks", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Empty(t, body["endpoints"], "nothing was saved")

	admin.clearField("the URL", `document.querySelector("#webhook-url")`)
	admin.typeInto("the URL", `document.querySelector("#webhook-url")`, url)
	admin.click("closed", `document.querySelector("#webhook-events input[value='conversation.closed']")`)
	admin.click("add", `document.querySelector("#webhook-form button[type=submit]")`)
	admin.wait("the secret, once", `!document.querySelector("#webhook-secret").hidden && document.querySelector("#webhook-secret-value").value.startsWith("whsec_") && `+
		`document.activeElement === document.querySelector("#webhook-secret-value") && `+webhookItem(url)+` !== undefined`)
	secret := eval[string](admin, `document.querySelector("#webhook-secret-value").value`)
	require.Equal(t, "Copy it now and keep it on your server: Baton does not show it again.", eval[string](admin, `document.querySelector("#webhook-secret-hint").textContent`))
	require.True(t, eval[bool](admin, `document.querySelector("#webhook-secret-grace").hidden`), "a new endpoint has no old secret")
	require.Equal(t, "Active", eval[string](admin, webhookItem(url)+`.querySelector(".webhook-state").textContent`))
	require.Equal(t, "Events: Started, Closed", eval[string](admin, webhookItem(url)+`.querySelector(".webhook-events").textContent`))
	require.Empty(t, eval[string](admin, `document.querySelector("#webhook-url").value`), "the form is ready for another")
	code, body = e.do("GET", "/v1/admin/webhooks", s.adminToken, nil)
	require.Equal(t, 200, code)
	eps := body["endpoints"].([]any)
	require.Len(t, eps, 1)
	ep := eps[0].(map[string]any)
	require.Equal(t, url, ep["url"])
	require.ElementsMatch(t, []any{"conversation.started", "conversation.closed"}, ep["events"])

	admin.click("copy the secret", `document.querySelector("#webhook-secret-copy")`)
	admin.wait("copied", `document.querySelector("#webhook-secret-status").textContent === "Copied."`)
	admin.click("done", `document.querySelector("#webhook-secret-done")`)
	admin.wait("the secret gone", `document.querySelector("#webhook-secret").hidden && document.querySelector("#webhook-secret-value").value === ""`)
	// Read afresh, the page has no secret anywhere.
	admin.reload()
	admin.wait("the console again", `document.querySelector("#conn").dataset.state === "live"`)
	openSettings(admin)
	admin.wait("the endpoint listed", webhookItem(url)+` !== undefined`)
	require.False(t, eval[bool](admin, `document.documentElement.outerHTML.includes(`+jsq(secret)+`) || Array.from(document.querySelectorAll("input")).some(i => i.value === `+jsq(secret)+`)`),
		"the secret is not shown again")

	// A test delivery, signed with that secret.
	admin.click("send test", webhookButton("Send a test event to "+url))
	admin.wait("the test's result", webhookItem(url)+`.querySelector(".test-result").textContent.startsWith("Delivered: your endpoint answered HTTP 200 in ")`)
	require.Equal(t, "status", eval[string](admin, webhookItem(url)+`.querySelector(".test-result").getAttribute("role")`))
	tests := sink.ofType("webhook.test")
	require.Len(t, tests, 1)
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(tests[0].body, tests[0].header), "signed with the secret the page showed")

	// A new secret: shown once, and the old one still signs for a day.
	admin.click("new secret", webhookButton("Give "+url+" a new secret"))
	admin.wait("the new secret", `!document.querySelector("#webhook-secret").hidden && document.querySelector("#webhook-secret-value").value.startsWith("whsec_") && `+
		`document.querySelector("#webhook-secret-value").value !== `+jsq(secret))
	rotated := eval[string](admin, `document.querySelector("#webhook-secret-value").value`)
	require.Regexp(t, `^The previous secret stays valid until .+: until then every delivery is signed with both, so your server can switch without missing one\.$`,
		eval[string](admin, `document.querySelector("#webhook-secret-grace").textContent`))
	require.False(t, eval[bool](admin, `document.querySelector("#webhook-secret-grace").hidden`))
	admin.click("done", `document.querySelector("#webhook-secret-done")`)
	admin.wait("the secret gone", `document.querySelector("#webhook-secret").hidden && document.querySelector("#webhook-secret-value").value === ""`)
	admin.wait("the grace in the list", webhookItem(url)+`.querySelector(".webhook-state").textContent.startsWith("Active · the previous secret also signs until ")`)
	admin.click("send test", webhookButton("Send a test event to "+url))
	require.Eventually(t, func() bool { return len(sink.ofType("webhook.test")) == 2 }, waitFor, 20*time.Millisecond)
	second := sink.ofType("webhook.test")[1]
	for _, sec := range []string{secret, rotated} {
		wh, err := standardwebhooks.NewWebhook(sec)
		require.NoError(t, err)
		require.NoError(t, wh.Verify(second.body, second.header), "signed with both secrets during the grace")
	}

	// The endpoint answers 500: an event ends as a dead letter.
	sink.mu.Lock()
	sink.status = 500
	sink.mu.Unlock()
	v := e.visitor(s.m.WidgetKey)
	hello(v)
	say(v, "down-1", "anyone there?")
	require.Eventually(t, func() bool {
		_, body := e.do("GET", "/v1/admin/webhooks/deliveries?state=failed", s.adminToken, nil)
		dead, _ := body["deliveries"].([]any)
		return len(dead) == 1
	}, waitFor, 20*time.Millisecond)
	admin.click("refresh the deliveries", `document.querySelector("#deliveries-refresh")`)
	admin.wait("the failed delivery", `document.querySelectorAll("#delivery-list .delivery").length === 1 && document.querySelector("#deliveries-status").textContent === "1 failed delivery" && `+
		`document.querySelector("#deliveries-empty").hidden`)
	require.Equal(t, "conversation.started → "+url, eval[string](admin, `document.querySelector("#delivery-list .delivery-head").textContent`))
	require.Contains(t, eval[string](admin, `document.querySelector("#delivery-list .delivery .hint").textContent`), "3 attempts · last answer HTTP 500")
	admin.wait("the endpoint says so", webhookItem(url)+`.querySelector(".webhook-state").textContent.endsWith(" · 1 failed delivery")`)

	sink.mu.Lock()
	sink.status = 204
	sink.mu.Unlock()
	started := sink.ofType("conversation.started")
	msgID := started[len(started)-1].header.Get("webhook-id")
	admin.click("retry", `Array.from(document.querySelectorAll("#delivery-list button")).find(b => b.getAttribute("aria-label") === `+jsq(`Send conversation.started to `+url+` again`)+`)`)
	admin.wait("sent again", `document.querySelector("#delivery-list .delivery [role=status]").textContent === "Sent again: it is on its way." && `+
		`!`+webhookItem(url)+`.querySelector(".webhook-state").textContent.includes("failed")`)
	require.Eventually(t, func() bool {
		_, body := e.do("GET", "/v1/admin/webhooks/deliveries", s.adminToken, nil)
		for _, x := range body["deliveries"].([]any) {
			if d := x.(map[string]any); d["type"] == "conversation.started" && d["webhook_id"] == msgID {
				return d["state"] == "delivered"
			}
		}
		return false
	}, waitFor, 20*time.Millisecond, "the retried delivery arrives")
	started = sink.ofType("conversation.started")
	require.Equal(t, msgID, started[len(started)-1].header.Get("webhook-id"), "with the same webhook-id")
	wh, err = standardwebhooks.NewWebhook(rotated)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(started[len(started)-1].body, started[len(started)-1].header))
	admin.click("refresh the deliveries", `document.querySelector("#deliveries-refresh")`)
	admin.wait("none failed", `document.querySelectorAll("#delivery-list .delivery").length === 0 && document.querySelector("#deliveries-status").textContent === "0 failed deliveries"`)

	// Editing keeps the secret; removing asks first.
	admin.click("edit", webhookButton("Edit "+url))
	admin.wait("the form edits", `document.querySelector("#webhook-form-h").textContent === "Edit the endpoint" && document.querySelector("#webhook-url").value === `+jsq(url)+` && `+
		`document.querySelector("#webhook-events input[value='conversation.closed']").checked && !document.querySelector("#webhook-cancel").hidden`)
	admin.click("assigned", `document.querySelector("#webhook-events input[value='conversation.assigned']")`)
	admin.click("save", `document.querySelector("#webhook-form button[type=submit]")`)
	admin.wait("saved", `document.querySelector("#webhook-form-status").textContent === "Saved." && document.querySelector("#webhook-form-h").textContent === "Add an endpoint" && `+
		webhookItem(url)+`.querySelector(".webhook-events").textContent === "Events: Started, Assigned to an agent, Closed"`)
	require.True(t, eval[bool](admin, `document.querySelector("#webhook-secret").hidden`), "an edit shows no secret")
	code, body = e.do("GET", "/v1/admin/webhooks", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, ep["id"], body["endpoints"].([]any)[0].(map[string]any)["id"], "the same endpoint")

	admin.click("remove", webhookButton("Remove "+url))
	admin.wait("asked", webhookItem(url)+`.querySelector(".confirm p").textContent === `+jsq("Remove "+url+"? Its deliveries still waiting are dropped."))
	admin.keys("\r") // the focus is on "Yes, remove"
	admin.wait("removed", `document.querySelectorAll("#webhook-list li").length === 0 && document.querySelector("#webhooks-status").textContent === `+jsq("Removed "+url+"."))
	code, body = e.do("GET", "/v1/admin/webhooks", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Empty(t, body["endpoints"])
}

// TestBrowserDutchWebhooksAndExport: the webhooks card, its secret, test
// results and failed deliveries, and the export, in a Dutch console.
func TestBrowserDutchWebhooksAndExport(t *testing.T) {
	browser(t)
	e := newEnv(t, fastWebhooks)
	s := e.shop("Haakwinkel")
	code, body := e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"locale": "nl"})
	require.Equal(t, 200, code, "settings: %v", body)
	sink := newHookSink(t)
	sink.status = 500
	url := sink.srv.URL + "/haak"
	code, body = e.do("PUT", "/v1/admin/webhooks", s.adminToken, map[string]any{"endpoints": []any{
		map[string]any{"url": url, "events": []string{"conversation.started"}}}})
	require.Equal(t, 200, code, "%v", body)
	v := e.visitor(s.m.WidgetKey)
	v.Send(map[string]any{"type": "hello", "locale": "nl"})
	v.Expect("welcome")
	say(v, "m1", "hallo")
	require.Eventually(t, func() bool {
		_, body := e.do("GET", "/v1/admin/webhooks/deliveries?state=failed", s.adminToken, nil)
		dead, _ := body["deliveries"].([]any)
		return len(dead) == 1
	}, waitFor, 20*time.Millisecond)

	admin := newPage(t, "beheerder")
	signIn(admin, e.srv.URL, "haakwinkel-admin@example.com", "admin-password")
	english := newLanguageCheck(t)
	data := []string{"Baton", "Haakwinkel Admin", url, "conversation.started", "→"}
	openSettings(admin)
	admin.wait("the Dutch card", `document.querySelector("#webhooks-h").textContent === "Webhooks" && document.querySelectorAll("#delivery-list .delivery").length === 1 && `+
		webhookItem(url)+`.querySelector(".webhook-state").textContent === "Actief · 1 mislukte aflevering"`)
	require.Equal(t, "Gebeurtenissen: Begonnen", eval[string](admin, webhookItem(url)+`.querySelector(".webhook-events").textContent`))
	admin.click("test versturen", webhookButton("Een testgebeurtenis naar "+url+" sturen"))
	admin.wait("the Dutch result", webhookItem(url)+`.querySelector(".test-result").textContent.startsWith("Niet afgeleverd: je endpoint antwoordde HTTP 500 in ")`)
	admin.click("nieuw geheim", webhookButton(url+" een nieuw geheim geven"))
	admin.wait("the Dutch secret", `!document.querySelector("#webhook-secret").hidden && document.querySelector("#webhook-secret-grace").textContent.startsWith("Het vorige geheim blijft geldig tot ")`)
	admin.click("kopiëren", `document.querySelector("#webhook-secret-copy")`)
	admin.wait("gekopieerd", `document.querySelector("#webhook-secret-status").textContent === "Gekopieerd."`)
	requireDutch(t, admin, "the webhooks card", english, data...)

	admin.click("edit", webhookButton(url+" bewerken"))
	admin.wait("the Dutch form", `document.querySelector("#webhook-form-h").textContent === "Het endpoint bewerken"`)
	admin.clearField("the URL", `document.querySelector("#webhook-url")`)
	admin.typeInto("the URL", `document.querySelector("#webhook-url")`, "http://127.0.0.2:9/x")
	admin.click("opslaan", `document.querySelector("#webhook-form button[type=submit]")`)
	admin.wait("the Dutch refusal", `document.querySelector("#webhook-url-error").textContent.startsWith("Baton mag niet naar dit adres sturen")`)
	admin.click("remove", webhookButton(url+" verwijderen"))
	admin.wait("the Dutch question", webhookItem(url)+`.querySelector(".confirm p").textContent === `+jsq(url+" verwijderen? Afleveringen die nog wachten vervallen."))
	requireDutch(t, admin, "the webhooks card with errors", english, data...)

	// The export's checks and results.
	eval[bool](admin, `(() => { document.querySelector("#export-to").value = "2026-01-01"; document.querySelector("#export-from").value = "2026-02-01"; return true; })()`)
	admin.click("exporteren", `document.querySelector("#export-form button[type=submit]")`)
	admin.wait("the Dutch range error", `document.querySelector("#export-to-error").textContent === "Het einde ligt voor het begin."`)
	requireDutch(t, admin, "the export", english, data...)
}
