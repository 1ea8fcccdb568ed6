package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// teamRow finds the Team view's row of the agent with this email address.
func teamRow(email string) string {
	return `Array.from(document.querySelectorAll("#team-list tr")).find(r => r.children[1].textContent === ` + jsq(email) + `)`
}

// countSockets keeps, across the page's own reloads in this tab, how many
// console sockets it opened and the codes they closed with.
const countSockets = `
(() => {
  const WS = window.WebSocket;
  const bump = (k, v) => sessionStorage.setItem(k, JSON.stringify(JSON.parse(sessionStorage.getItem(k) || "[]").concat([v])));
  window.WebSocket = class extends WS {
    constructor(url, ...rest) {
      super(url, ...rest);
      if (String(url).includes("/v1/agent/ws")) {
        bump("__opens", Date.now());
        this.addEventListener("close", (ev) => bump("__closes", ev.code));
      }
    }
  };
})();
`

func socketLog(p *page) (opens int, closes []int) {
	p.t.Helper()
	opens = eval[int](p, `JSON.parse(sessionStorage.getItem("__opens") || "[]").length`)
	closes = eval[[]int](p, `JSON.parse(sessionStorage.getItem("__closes") || "[]")`)
	return opens, closes
}

const revokedNotice = "You were signed out: your session was ended elsewhere (signed out, a new password, or the account disabled or removed). Sign in again to go on."

// TestBrowserTeamPage: an admin adds a person on the Team view (a short
// password is refused next to its field first), gives them a capacity and
// a new name; the person signs in; the admin disables them and their open
// console signs out at once with the reason, rather than reconnecting.
// The admin cannot disable the shop's last admin (themselves): the refusal
// shows in their row. Deleting asks first, then the person is gone.
func TestBrowserTeamPage(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Team Shop")

	admin := newPage(t, "admin")
	signIn(admin, e.srv.URL, "teamshop-admin@example.com", "admin-password")
	admin.click("team", `document.querySelector("#nav-team")`)
	admin.wait("the team", `document.querySelectorAll("#team-list tr").length === 1 && `+teamRow("teamshop-admin@example.com")+`.querySelector(".agent-capacity").textContent === "Default (3)"`)

	admin.typeInto("the name", `document.querySelector("#agent-name")`, "Cy")
	admin.typeInto("the email", `document.querySelector("#agent-email")`, "cy@team.example")
	admin.typeInto("the password", `document.querySelector("#agent-password")`, "short")
	admin.clearField("the capacity", `document.querySelector("#agent-capacity")`)
	admin.keys("2")
	admin.click("add", byText("document", "#agent-form button", "Add"))
	admin.wait("the password refused next to it", `!document.querySelector("#agent-password-error").hidden && `+
		`document.querySelector("#agent-password-error").textContent === "A password is at least 8 characters and at most 72 bytes." && `+
		`document.querySelector("#agent-password").getAttribute("aria-invalid") === "true" && document.activeElement === document.querySelector("#agent-password")`)
	admin.keys(" but longer\r")
	admin.wait("Cy on the team", `document.querySelector("#agent-status").textContent === "Cy can now sign in." && `+teamRow("cy@team.example")+` !== undefined`)
	cy := teamRow("cy@team.example")
	admin.wait("Cy's row", cy+`.querySelector(".agent-capacity").textContent === "2" && `+cy+`.querySelector(".agent-role").textContent === "Agent" && `+
		cy+`.querySelector(".agent-state").textContent === "Enabled" && `+cy+`.querySelector(".agent-presence").textContent === "Offline"`)
	require.Empty(t, eval[string](admin, `document.querySelector("#agent-password").value`))

	// Rename: Edit, a new name, Save.
	admin.click("edit Cy", cy+`.querySelector("[data-act=edit]")`)
	admin.wait("the editor", `document.activeElement === `+cy+`.querySelector("input[data-act=name]")`)
	admin.clearField("Cy's name", cy+`.querySelector("input[data-act=name]")`)
	admin.keys("Cy Young\r")
	admin.wait("the new name", cy+`.querySelector(".agent-name").textContent === "Cy Young" && `+cy+`.querySelector(".row-note").textContent === "Saved Cy Young."`)

	// Cy signs in; the admin sees them online.
	cyPage := newPage(t, "Cy", countSockets)
	signIn(cyPage, e.srv.URL, "cy@team.example", "short but longer")
	opens, _ := socketLog(cyPage)
	require.Equal(t, 1, opens)
	admin.click("refresh", `document.querySelector("#team-refresh")`)
	admin.wait("Cy online", cy+`.querySelector(".agent-presence").textContent === "Available"`)

	// Disabling Cy ends their session: the console says so and signs out.
	admin.click("disable Cy", cy+`.querySelector("[data-act=toggle]")`)
	admin.wait("Cy disabled", cy+`.querySelector(".agent-state").textContent === "Disabled" && `+cy+`.querySelector("[data-act=toggle]").textContent === "Enable"`)
	cyPage.wait("Cy signed out, with the reason", `!document.querySelector("#login-view").hidden && document.querySelector("#app").hidden && `+
		`document.querySelector("#login-error").textContent === `+jsq(revokedNotice))
	require.Empty(t, eval[string](cyPage, `sessionStorage.getItem("baton.console.token") || ""`), "the taken-back token is still kept")
	// Closed with 4001, and not opened again with a token taken back.
	opens, closes := socketLog(cyPage)
	require.Equal(t, []int{4001}, closes)
	require.Equal(t, 1, opens, "the console reconnected after its session ended")

	// The last admin stays: the refusal is in the admin's own row.
	me := teamRow("teamshop-admin@example.com")
	admin.click("disable myself", me+`.querySelector("[data-act=toggle]")`)
	admin.wait("the last-admin refusal", me+`.querySelector(".row-note").textContent === "Not saved: The shop must keep at least one enabled admin: make someone else an admin first." && `+
		me+`.querySelector(".row-note").classList.contains("error")`)
	require.Equal(t, "Enabled", eval[string](admin, me+`.querySelector(".agent-state").textContent`))
	require.Equal(t, "live", eval[string](admin, `document.querySelector("#conn").dataset.state`))

	// Delete asks first; Cancel keeps Cy, the confirmation deletes.
	admin.click("delete Cy", cy+`.querySelector("[data-act=delete]")`)
	admin.wait("the confirmation", cy+`.querySelector(".confirm-text").textContent === "Delete Cy Young? Their conversations go back to the queue." && `+
		`document.activeElement === `+cy+`.querySelector("[data-act=confirm-delete]")`)
	admin.click("cancel", cy+`.querySelector("[data-act=cancel-delete]")`)
	admin.wait("Cy kept", cy+`.querySelector("[data-act=delete]") !== null`)
	admin.click("delete Cy", cy+`.querySelector("[data-act=delete]")`)
	admin.click("confirm", cy+`.querySelector("[data-act=confirm-delete]")`)
	admin.wait("Cy gone", cy+` === undefined && document.querySelector("#team-status").textContent === "Cy Young was deleted."`)
	_, body := e.do("GET", "/v1/admin/agents", s.adminToken, nil)
	require.Len(t, body["agents"], 1)

	// With another admin, the admin may make themselves an agent: the
	// console then shows what an agent's does.
	code, body := e.do("POST", "/v1/admin/agents", s.adminToken, map[string]any{"email": "dana@team.example", "name": "Dana", "password": "dana-password", "role": "admin"})
	require.Equal(t, 201, code, "%v", body)
	admin.click("refresh", `document.querySelector("#team-refresh")`)
	admin.wait("Dana", teamRow("dana@team.example")+` !== undefined`)
	admin.click("edit myself", me+`.querySelector("[data-act=edit]")`)
	admin.choose("my role", me+`.querySelector("select[data-act=role]")`, "agent")
	admin.click("save", me+`.querySelector("[data-act=save]")`)
	admin.wait("an agent's console", `document.querySelector("#conn").dataset.state === "live" && !document.querySelector("#inbox-view").hidden && `+
		`document.querySelector("#nav-team").hidden && document.querySelector("#nav-settings").hidden && location.hash === "#inbox"`)
}

// TestBrowserAccountPasswordAndSignOut: an agent changes their password
// in the console. A wrong current password is refused next to the form;
// the right one keeps this console working (its socket comes back with the
// token the answer carried, REST calls go on) while the old token is
// refused. Sign out ends the session on Baton, not only in the tab.
func TestBrowserAccountPasswordAndSignOut(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Account Shop")
	old := e.addAgent(s, "dee@account.example", "Dee")

	p := newPage(t, "Dee", countFrames)
	signIn(p, e.srv.URL, "dee@account.example", "agent-password")
	before := eval[string](p, `sessionStorage.getItem("baton.console.token")`)
	p.click("your account", `document.querySelector("#nav-account")`)
	p.wait("the account view", `!document.querySelector("#account-view").hidden && document.querySelector("#me-facts").textContent.includes("dee@account.example")`)

	p.typeInto("current", `document.querySelector("#password-current")`, "not-my-password")
	p.typeInto("new", `document.querySelector("#password-new")`, "a brand new password\r")
	p.wait("the refusal", `document.querySelector("#password-status").textContent === "Not changed: your current password is not right." && `+
		`document.querySelector("#password-current").getAttribute("aria-invalid") === "true"`)
	require.Equal(t, "live", eval[string](p, `document.querySelector("#conn").dataset.state`))

	p.clearField("current", `document.querySelector("#password-current")`)
	p.keys("agent-password")
	p.clearField("new", `document.querySelector("#password-new")`)
	p.keys("a brand new password\r")
	p.wait("changed", `document.querySelector("#password-status").textContent === "Your password is changed. Your other sessions have ended."`)
	p.wait("a new token", `sessionStorage.getItem("baton.console.token") !== `+jsq(before))
	// The old socket was closed (4001) and a new one came up with the new
	// token: the console is live again, and still signed in.
	p.wait("live again", `document.querySelector("#conn").dataset.state === "live" && window.__frames.got.filter(t => t === "ready").length >= 2`)
	require.False(t, eval[bool](p, `document.querySelector("#app").hidden`), "the console signed out")
	require.True(t, eval[bool](p, `document.querySelector("#toast").hidden`), "the console told of an ended session: %q",
		eval[string](p, `document.querySelector("#toast").textContent`))
	for _, tok := range []string{old, before} {
		code, _ := e.do("GET", "/v1/agent/me", tok, nil)
		require.Equal(t, 401, code, "an old token still works")
	}
	p.choose("presence", `document.querySelector("#presence")`, "away")
	p.wait("away", `document.querySelector("#presence").classList.contains("away")`)
	code, body := e.do("GET", "/v1/agent/presence", e.login("dee@account.example", "a brand new password"), nil)
	require.Equal(t, 200, code)
	require.Equal(t, "away", body["status"], "the console's REST call after the change did not go through")

	current := eval[string](p, `sessionStorage.getItem("baton.console.token")`)
	p.click("sign out", `document.querySelector("#logout")`)
	p.wait("signed out", `!document.querySelector("#login-view").hidden && document.querySelector("#login-error").textContent === "You signed out. Your sessions have ended everywhere." && `+
		`!document.querySelector("#login-error").classList.contains("error")`)
	code, _ = e.do("GET", "/v1/agent/me", current, nil)
	require.Equal(t, 401, code, "signing out left the token working on Baton")
}
