package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/helpdesk/helpdesktest"
)

// TestBrowserConnectWithZendesk: an admin connects Zendesk from the
// settings with "Connect with Zendesk": the console sends the browser to
// the (fake) Zendesk's authorization page, the admin denies, then allows,
// and each time comes back to the settings with the result. Connected,
// Zendesk is the handoff method and a visitor's handoff becomes a ticket.
// When Zendesk revokes Baton's access, every view shows a banner and the
// settings say why; reconnecting the same way clears it and sends the
// ticket that waited.
func TestBrowserConnectWithZendesk(t *testing.T) {
	browser(t)
	e := newEnv(t, fastHelpdesk, withOperatorClient, func(c *appConfig) { c.Outbox.Poll = 250 * time.Millisecond })
	z := helpdesktest.NewZendesk(t, "owner@zd.example", "unused-api-token-0123")
	z.AddClient(operatorClient, operatorSecret)
	s := e.shop("Browser OAuth Shop")

	admin := newPage(t, "admin")
	signIn(admin, e.srv.URL, "browseroauthshop-admin@example.com", "admin-password")
	openSettings(admin)
	admin.click("Zendesk", q("input[name=method][value=zendesk]"))
	admin.wait("the Zendesk form, connecting with Zendesk", `!`+q("#integration-zendesk")+`.hidden && `+q("input[name=zd-auth][value=browser]")+`.checked &&
		`+q("#zd-own-client")+`.hidden && `+q("[data-zd-auth=api_token]")+`.hidden && `+q("[data-connect=zendesk]")+`.textContent === "Connect with Zendesk"`)
	admin.typeInto("the subdomain", q("#zd-subdomain"), "fakeshop")
	admin.click("advanced", q("#integration-zendesk summary"))
	admin.typeInto("the base URL", q("#zd-base"), z.URL())

	// Denied in Zendesk: back in the settings, with Zendesk's reason.
	admin.click("connect with Zendesk", q("[data-connect=zendesk]"))
	admin.wait("Zendesk's authorization page", `location.origin === `+jsq(z.URL())+` && document.querySelector("#deny") !== null`)
	admin.click("deny", q("#deny"))
	admin.wait("the refusal in the settings", `location.origin === `+jsq(e.srv.URL)+` && location.search === "" && location.hash === "#settings" &&
		!`+q("#integration-zendesk")+`.hidden && `+q("[data-status=zendesk]")+`.textContent === "Zendesk is not connected: Zendesk answered access_denied: The end-user or authorization server denied the request."`)

	// Allowed: connected, and Zendesk is the handoff method.
	admin.typeInto("the subdomain", q("#zd-subdomain"), "fakeshop")
	admin.click("advanced", q("#integration-zendesk summary"))
	admin.typeInto("the base URL", q("#zd-base"), z.URL())
	admin.click("connect with Zendesk", q("[data-connect=zendesk]"))
	admin.wait("Zendesk's authorization page", `location.origin === `+jsq(z.URL())+` && document.querySelector("#allow") !== null`)
	admin.click("allow", q("#allow"))
	admin.wait("connected, in the settings", `location.origin === `+jsq(e.srv.URL)+` && location.search === "" && location.hash === "#settings" &&
		`+q("#handoff-status")+`.textContent === "Zendesk is connected. The assistant now uses Zendesk." &&
		`+q("#integration-zendesk")+`.hidden && !`+q("#connected-zendesk")+`.hidden &&
		`+q("[data-summary=zendesk]")+`.textContent.includes("to fakeshop as owner@zd.example") &&
		`+q("[data-summary=zendesk]")+`.textContent.includes("signed in with Zendesk (OAuth)") &&
		`+q("[data-integration=zendesk]")+`.textContent === "Connected" && `+q("#helpdesk-banner")+`.hidden`)
	code, body := e.do("GET", "/v1/admin/settings", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "zendesk", body["handoff"].(map[string]any)["method"])
	code, body = e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "authorization_code", body["grant"])
	conv := e.handOff(s.m.WidgetKey, 1)
	require.Eventually(t, func() bool { return len(z.TicketsFor("baton-"+conv)) == 1 }, 10*time.Second, 20*time.Millisecond)

	// Zendesk revokes Baton's access: the next ticket waits, and the
	// console says so on every view.
	z.RevokeAll()
	waiting := e.handOff(s.m.WidgetKey, 2)
	require.Eventually(t, func() bool {
		_, body := e.do("GET", "/v1/admin/integrations/zendesk", s.adminToken, nil)
		return body["status"] == "needs_reconnect"
	}, 10*time.Second, 20*time.Millisecond)
	admin.reload()
	admin.wait("the banner", `document.querySelector("#conn").dataset.state === "live" && !`+q("#helpdesk-banner")+`.hidden &&
		`+q("#helpdesk-banner")+`.textContent.startsWith("Zendesk needs reconnecting (") &&
		`+q("#helpdesk-banner")+`.textContent.includes("invalid_grant") && `+q("#helpdesk-banner a")+`.getAttribute("href") === "#settings"`)
	admin.click("reconnect under settings", q("#helpdesk-banner a"))
	admin.wait("the settings say why", `!`+q("#settings-view")+`.hidden && !`+q("#settings-view")+`.hasAttribute("aria-busy") &&
		`+q("[data-integration=zendesk]")+`.textContent === "Needs reconnecting" &&
		`+q("[data-warn=zendesk]")+`.textContent.startsWith("Zendesk needs reconnecting: ") && !`+q("[data-warn=zendesk]")+`.hidden`)
	require.Empty(t, z.TicketsFor("baton-"+waiting))

	// Reconnecting the same way: the form comes back as it was connected.
	admin.click("change", q("[data-change=zendesk]"))
	admin.wait("the form, connecting with Zendesk", `!`+q("#integration-zendesk")+`.hidden && `+q("input[name=zd-auth][value=browser]")+`.checked &&
		`+q("#zd-subdomain")+`.value === "fakeshop" && `+q("#zd-base")+`.value === `+jsq(z.URL()))
	admin.click("connect with Zendesk", q("[data-connect=zendesk]"))
	admin.wait("Zendesk's authorization page", `location.origin === `+jsq(z.URL())+` && document.querySelector("#allow") !== null`)
	admin.click("allow", q("#allow"))
	admin.wait("connected again", `location.origin === `+jsq(e.srv.URL)+` && `+q("[data-integration=zendesk]")+`.textContent === "Connected" &&
		`+q("[data-warn=zendesk]")+`.hidden && `+q("#helpdesk-banner")+`.hidden`)
	require.Eventually(t, func() bool { return len(z.TicketsFor("baton-"+waiting)) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Empty(t, z.Problems())
	require.Zero(t, z.Duplicates())
}
