package main

import (
	"testing"

	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
)

// focused is true when the element js finds has the keyboard focus inside
// the widget.
func focused(js string) string {
	return `document.activeElement === document.querySelector("#baton-chat") && ` + widgetRoot + `.activeElement === ` + js
}

// TestBrowserWidgetByKeyboardInDutch: on a Dutch page a visitor reaches a
// person with the keyboard alone, every text in Dutch; the unread badge
// counts what arrives while the panel is closed.
func TestBrowserWidgetByKeyboardInDutch(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Toetsenbord Winkel")
	agentToken := e.addAgent(s, "jan@winkel.example", "Jan")
	shop := shopPageIn(t, "nl", e.srv.URL, s.m.WidgetKey, "")

	v := newPage(t, "visitor")
	v.navigate(shop.URL)
	launcher := inWidget(".launcher")
	v.wait("the Dutch launcher", launcher+`.getAttribute("aria-label") === "Chat openen"`)
	v.keys(kb.Tab)
	v.wait("the launcher to have the focus", focused(launcher))
	v.keys("\r")
	v.wait("the panel, ready, the composer focused", inWidget(".panel")+`.hidden === false && `+widgetReady+` && `+focused(inWidget("textarea")))
	require.Equal(t, "Typ je bericht", eval[string](v, inWidget("textarea")+`.getAttribute("aria-label")`))
	require.Equal(t, "Chat sluiten", eval[string](v, launcher+`.getAttribute("aria-label")`))
	require.Contains(t, eval[string](v, inWidget(".greeting")+`.textContent`), "Hoi!")

	v.keys("Ik wil een medewerker spreken\r")
	v.wait("the offer in Dutch, yes focused", inWidget(".offer")+`.textContent.includes("Zal ik je doorverbinden") && `+focused(inWidget(".offer .yes"))+` && `+inWidget(".offer .yes")+`.textContent === "Ja, verbind me door"`)
	v.keys("\r")
	v.wait("the email field, focused", focused(inWidget("input[type=email]")))
	v.keys("jan@voorbeeld.nl\r")
	v.wait("the Dutch queue line", inWidget(".status")+`.textContent.includes("Je bent nummer 1 in de wachtrij.")`)
	v.wait("the team's notice", inWidget("[data-role=system]")+`.textContent.includes("Je vraag is doorgestuurd")`)

	v.keys(kb.Escape)
	v.wait("the panel closed, the launcher focused", inWidget(".panel")+`.hidden && `+focused(launcher))

	convID := widgetConversation(v, s.m.WidgetKey)
	code, body := e.do("POST", "/v1/agent/conversations/"+convID+"/claim", agentToken, nil)
	require.Equal(t, 200, code, "%v", body)
	require.NoError(t, e.postAsAgent(agentToken, convID, "Hallo, met Jan."))
	// Jan's arrival notice and his message.
	v.wait("the unread badge", inWidget(".badge")+`.textContent === "2" && !`+inWidget(".badge")+`.hidden && `+launcher+`.getAttribute("aria-label") === "Chat openen (2 ongelezen)"`)
	v.keys("\r")
	v.wait("the message, the badge gone", inWidget(".log")+`.textContent.includes("Hallo, met Jan.") && `+inWidget(".badge")+`.hidden && `+inWidget(".status")+`.textContent === "Je chat met Jan."`)
}

// TestBrowserWidgetTakesTheMerchantsLanguage: a page in a language Baton
// does not speak gets the merchant's.
func TestBrowserWidgetTakesTheMerchantsLanguage(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Taal Winkel")
	code, body := e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"locale": "nl"})
	require.Equal(t, 200, code, "%v", body)
	shop := shopPageIn(t, "de", e.srv.URL, s.m.WidgetKey, "")
	v := newPage(t, "visitor")
	v.navigate(shop.URL)
	openWidget(v)
	v.wait("Dutch after the welcome", inWidget("textarea")+`.getAttribute("aria-label") === "Typ je bericht" && `+inWidget("h2")+`.textContent === "Chat met ons"`)
}
