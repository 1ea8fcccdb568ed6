package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBrowserIdentifyAnswersTheEmailRequest: a shopper who signs in on the
// shop while the widget is asking for their email address. The shop calls
// Baton.identify with a token carrying the address; the widget needs no
// answer from the shopper, the conversation queues, and the team sees the
// profile id and address the shop vouched for.
func TestBrowserIdentifyAnswersTheEmailRequest(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Identify Shop")
	shop := shopPage(t, e.srv.URL, s.m.WidgetKey, "")

	visitor := newPage(t, "visitor")
	visitor.navigate(shop.URL)
	launcher := inWidget(".launcher")
	visitor.wait("the launcher", launcher+`.getAttribute("aria-label") === "Open chat"`)
	openWidget(visitor)
	visitor.click("talk to a person", byText(widgetRoot, "button", "Talk to a person"))
	visitor.click("yes", byText(widgetRoot, ".offer button", "Yes, connect me"))
	visitor.wait("the email field", inWidget("input[type=email]")+` !== null`)

	var stored struct {
		ConversationID string `json:"conversation_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(eval[string](visitor, `localStorage.getItem("baton:`+s.m.WidgetKey+`")`)), &stored))
	require.NotEmpty(t, stored.ConversationID)

	// A forged token changes nothing: the widget still asks.
	forged := signIdentity(t, "not-the-merchants-secret-0123456789", "cust-77", "mallory@example.com")
	eval[any](visitor, `Baton.identify(`+jsq(forged)+`), null`)
	visitor.wait("the email field still there", inWidget("input[type=email]")+` !== null`)
	_, body := e.do("GET", "/v1/agent/conversations/"+stored.ConversationID, s.adminToken, nil)
	require.Equal(t, "awaiting_email", body["conversation"].(map[string]any)["status"], "conversation %v", body)
	require.Nil(t, body["conversation"].(map[string]any)["visitor"].(map[string]any)["email"])

	identity := signIdentity(t, s.m.IdentitySecret, "cust-77", "signed.in@example.com")
	eval[any](visitor, `Baton.identify(`+jsq(identity)+`), null`)
	visitor.wait("the queue position", inWidget(".status")+`.textContent.includes("You are number 1 in the queue.")`)
	visitor.wait("no email field any more", inWidget("input[type=email]")+` === null`)

	_, body = e.do("GET", "/v1/agent/conversations/"+stored.ConversationID, s.adminToken, nil)
	conv := body["conversation"].(map[string]any)
	require.Equal(t, "queued", conv["status"])
	who := conv["visitor"].(map[string]any)
	require.Equal(t, true, who["authenticated"])
	require.Equal(t, "cust-77", who["profile_id"])
	require.Equal(t, "signed.in@example.com", who["email"])
}
