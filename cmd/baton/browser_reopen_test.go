package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// closeTab closes the page's tab, as a visitor who leaves does (a page
// navigated away may live on in the back-forward cache, socket and all).
func (p *page) closeTab() {
	p.t.Helper()
	ctx, cancel := p.timeout(5 * time.Second)
	defer cancel()
	id := chromedp.FromContext(p.ctx).Target.TargetID
	if _, err := chromedp.CallBrowser(ctx, target.CloseTarget, target.CloseTargetParams{TargetID: id}); err != nil {
		p.fatalf("closing the tab: %v", err)
	}
}

// TestBrowserReopenLink: a visitor hands off in the widget and leaves; the
// agent's reply is emailed; the email's link, opened on another device,
// opens the widget on the whole conversation with the reply in it, takes
// the token out of the address bar, and keeps the conversation like any
// other (a reload resumes it). A wrong link says so and starts afresh, in
// the page's language.
func TestBrowserReopenLink(t *testing.T) {
	browser(t)
	sink := newSMTPSink(t)
	e := newEnv(t, func(c *appConfig) {
		c.SMTPURL, c.SMTPFrom = "smtp://"+sink.addr, "chat@baton.test"
		c.Mail = session.MailOptions{Window: 200 * time.Millisecond, Poll: 50 * time.Millisecond}
	})
	s := e.shop("Reopen Shop")
	agent := e.addAgent(s, "rita@reopen.example", "Rita")
	shop := shopPage(t, e.srv.URL, s.m.WidgetKey, "")

	visitor := newPage(t, "visitor")
	visitor.navigate(shop.URL + "/basket")
	openWidget(visitor)
	visitor.typeInto("the composer", inWidget("textarea"), "I want to talk to a human please\r")
	visitor.wait("the offer", byText(widgetRoot, ".offer button", "Yes, connect me"))
	conv := widgetConversation(visitor, s.m.WidgetKey)
	require.NotEmpty(t, conv)
	visitor.click("yes", byText(widgetRoot, ".offer button", "Yes, connect me"))
	visitor.typeInto("the email field", inWidget("input[type=email]"), "vera@example.com\r")
	visitor.wait("queued", inWidget(".status")+`.textContent.includes("queue")`)
	code, _ := e.do("POST", "/v1/agent/conversations/"+conv+"/claim", agent, nil)
	require.Equal(t, 200, code)

	// The visitor closes the tab; the agent answers.
	visitor.closeTab()
	require.Eventually(t, func() bool {
		n, err := e.cfg.Redis.ZCard(e.ctx, e.cfg.Prefix+"{c:"+conv+"}:v").Result()
		return err == nil && n == 0
	}, waitFor, 10*time.Millisecond, "the visitor's socket is still counted")
	code, _ = e.do("POST", "/v1/agent/conversations/"+conv+"/messages", agent, map[string]any{"client_id": "r1", "text": "Your parcel left today."})
	require.Equal(t, 201, code)
	require.Eventually(t, func() bool { return len(sink.got()) == 1 }, waitFor, 20*time.Millisecond, "the email")
	m := sink.got()[0]
	require.Equal(t, "vera@example.com", m.to)
	link := reopenLink.FindStringSubmatch(m.body(t))
	require.NotNil(t, link, "a reopen link in the email")
	require.True(t, strings.HasPrefix(link[0], shop.URL+"/basket#baton-reopen="), link[0])

	// Another device: nothing stored, only the link.
	phone := newPage(t, "phone")
	phone.navigate(link[0])
	phone.wait("the widget open on the conversation", widgetReady+` && !`+inWidget(".panel")+`.hidden && `+
		inWidget(".log")+`.textContent.includes("Your parcel left today.")`)
	lines := shown(phone, widgetRoot)
	var texts []string
	for _, l := range lines {
		texts = append(texts, l.Role+": "+l.Text)
	}
	require.Contains(t, texts, "visitor: I want to talk to a human please", "the whole conversation")
	require.Contains(t, texts, "agent: Your parcel left today.")
	require.Equal(t, lines[len(lines)-1].Text, "Your parcel left today.", "in order, the reply last")
	require.Equal(t, "", eval[string](phone, `location.hash`))
	require.Equal(t, shop.URL+"/basket", eval[string](phone, `location.href`), "the token is out of the address bar")
	require.Equal(t, conv, widgetConversation(phone, s.m.WidgetKey))
	token := eval[string](phone, `JSON.parse(localStorage.getItem("baton:`+s.m.WidgetKey+`")).resume_token`)
	require.NotEmpty(t, token, "the fresh resume token is kept")
	require.Zero(t, eval[int](phone, inWidget(".reopen-failed")+` ? 1 : 0`))
	// The visitor is there again: the agent's next line arrives in the chat.
	code, _ = e.do("POST", "/v1/agent/conversations/"+conv+"/messages", agent, map[string]any{"client_id": "r2", "text": "Anything else?"})
	require.Equal(t, 201, code)
	phone.wait("the next line, live", inWidget(".log")+`.textContent.includes("Anything else?")`)
	// A reload resumes it the ordinary way, with the token the link gave.
	phone.reload()
	phone.wait("resumed", widgetReady+` && `+inWidget(".log")+`.textContent.includes("Anything else?") && `+inWidget(".log")+`.textContent.includes("Your parcel left today.")`)
	require.Equal(t, conv, widgetConversation(phone, s.m.WidgetKey))

	// A wrong link: said plainly, and the widget starts a conversation of
	// its own; the token is gone from the address bar all the same.
	for _, tc := range []struct{ lang, want string }{
		{"en", "This link no longer opens your conversation (it is wrong or too old). You can start a new one here."},
		{"nl", "Deze link opent je gesprek niet meer (hij klopt niet of is te oud). Je kunt hier een nieuw gesprek beginnen."},
	} {
		page := shopPageIn(t, tc.lang, e.srv.URL, s.m.WidgetKey, "")
		other := newPage(t, "stranger-"+tc.lang)
		other.navigate(page.URL + "/#baton-reopen=" + link[1] + "x")
		other.wait("the message", widgetReady+` && `+inWidget(".reopen-failed .text")+` && `+inWidget(".reopen-failed .text")+`.textContent === `+jsq(tc.want))
		require.Equal(t, "alert", eval[string](other, inWidget(".reopen-failed")+`.getAttribute("role")`))
		require.Equal(t, page.URL+"/", eval[string](other, `location.href`))
		mine := widgetConversation(other, s.m.WidgetKey)
		require.NotEmpty(t, mine, "a conversation of its own")
		require.NotEqual(t, conv, mine)
		require.NotContains(t, eval[string](other, inWidget(".log")+`.textContent`), "Your parcel left today.")
		other.typeInto("the composer", inWidget("textarea"), "hello there\r")
		other.wait("an answer", `Array.from(`+widgetRoot+`.querySelectorAll("[data-role=assistant]")).length > 0`)
	}
}
