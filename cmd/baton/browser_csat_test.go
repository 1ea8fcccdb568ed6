package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
)

// sibling opens another tab in p's browser context: the same shop, the
// same storage, as a visitor with two tabs open.
func (p *page) sibling(name string) *page {
	p.t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		p.t.Fatalf("%s: opening a tab: %v", name, err)
	}
	q := &page{t: p.t, name: name, ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
				q.mu.Lock()
				q.errs = append(q.errs, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line+1))
				q.mu.Unlock()
			}
		}
	}()
	p.t.Cleanup(cancel)
	p.t.Cleanup(func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if len(q.errs) > 0 {
			p.t.Errorf("%s: the page reported errors:\n%s", name, strings.Join(q.errs, "\n"))
		}
	})
	return q
}

// press sends one key (a kb constant or a character) to the focused element.
func (p *page) press(key string) {
	p.t.Helper()
	ctx, cancel := p.timeout(waitFor)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(key)); err != nil {
		p.fatalf("pressing %q: %v", key, err)
	}
}

// widgetFocus is what has the focus inside the widget.
const widgetFocus = widgetRoot + `.activeElement`

// TestBrowserWidgetRating: a visitor with two tabs open talks to an agent,
// who closes the conversation. Both tabs ask for a rating. In the first the
// visitor rates with the keyboard alone (4, with a comment) and is thanked;
// the metrics count one rating of 4, the conversation keeps its comment,
// and the console's overview shows it. Rating again in the second tab is
// thanked too, and counts nothing more.
func TestBrowserWidgetRating(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Rating Shop")
	token := e.addAgent(s, "ria@rating.example", "Ria")
	shopURL := shopPage(t, e.srv.URL, s.m.WidgetKey, "").URL

	v := newPage(t, "visitor")
	v.navigate(shopURL)
	openWidget(v)
	handOffInWidget(v, "rater@example.com")
	convID := widgetConversation(v, s.m.WidgetKey)
	require.NotEmpty(t, convID)

	// The same visitor in a second tab follows the same conversation.
	v2 := v.sibling("visitor, second tab")
	v2.navigate(shopURL)
	openWidget(v2)
	v2.wait("the queue in the second tab", inWidget(".status")+`.textContent.includes("in the queue")`)

	// A person takes part, then closes it.
	code, body := e.do("POST", "/v1/agent/conversations/"+convID+"/claim", token, nil)
	require.Equal(t, 200, code, "claim: %v", body)
	require.NoError(t, e.postAsAgent(token, convID, "Hi, Ria here. Sorted!"))
	v.wait("Ria's line", byText(widgetRoot, "[data-role=agent] .text", "Hi, Ria here. Sorted!")+` !== undefined`)
	code, body = e.do("POST", "/v1/agent/conversations/"+convID+"/close", token, nil)
	require.Equal(t, 200, code, "close: %v", body)

	form := inWidget("form.csat")
	for _, p := range []*page{v, v2} {
		p.wait("the rating", form+` !== null && `+inWidget(".csat legend")+`.textContent === "How did we do? Rate this conversation from 1 to 5."`)
	}
	require.Equal(t, 5, eval[int](v, widgetRoot+`.querySelectorAll("form.csat input[type=radio]").length`))
	require.Equal(t, "3 out of 5", eval[string](v, widgetRoot+`.querySelectorAll("form.csat input[type=radio]")[2].getAttribute("aria-label")`))

	// Keyboard only: the ended notice's button has the focus; Tab goes into
	// the scale, the arrow keys choose, Tab goes on to the comment and the
	// send button, Enter sends.
	v.wait("the focus on the new-chat button", widgetFocus+` === `+inWidget(".ended .new"))
	v.press(kb.Tab)
	v.wait("the focus on the scale", widgetFocus+`.name === "baton-csat"`)
	for range 3 {
		v.press(kb.ArrowRight)
	}
	v.wait("4 chosen", inWidget("form.csat input:checked")+`.value === "4"`)
	v.press(kb.Tab)
	v.wait("the focus on the comment", widgetFocus+` === `+inWidget("#baton-csat-comment"))
	v.keys("Quick and kind.")
	v.press(kb.Tab)
	v.wait("the focus on send", widgetFocus+` === `+inWidget("form.csat .rate"))
	v.keys("\r")
	v.wait("the thanks", inWidget(".csat-thanks")+`.textContent === "Thank you for your rating!" && `+form+` === null`)
	require.True(t, eval[bool](v, widgetFocus+` === `+inWidget(".csat-thanks")), "the focus left the chat with the form")

	csatOf := func() (float64, float64) {
		code, m := e.do("GET", "/v1/admin/metrics", s.adminToken, nil)
		require.Equal(t, 200, code)
		c := m["csat"].(map[string]any)
		return c["responses"].(float64), c["average"].(float64)
	}
	var n, avg float64
	require.Eventually(t, func() bool { n, avg = csatOf(); return n == 1 }, waitFor, 50*time.Millisecond, "the rating was not counted")
	require.Equal(t, 4.0, avg)
	_, conv := e.do("GET", "/v1/agent/conversations/"+convID, token, nil)
	rating := conv["conversation"].(map[string]any)["rating"].(map[string]any)
	require.Equal(t, 4.0, rating["score"])
	require.Equal(t, "Quick and kind.", rating["comment"])

	// The second tab still offers the form; rating there is thanked, and
	// the count stays at one.
	v2.click("2", widgetRoot+`.querySelectorAll("form.csat input[type=radio]")[1]`)
	v2.click("send", inWidget("form.csat .rate"))
	v2.wait("the thanks in the second tab", inWidget(".csat-thanks")+`.textContent === "Thank you for your rating!"`)
	n, avg = csatOf()
	require.Equal(t, 1.0, n, "a second rating was counted")
	require.Equal(t, 4.0, avg)

	// The overview shows it: the figure, the count and today's point.
	admin := newPage(t, "admin")
	signIn(admin, e.srv.URL, "ratingshop-admin@example.com", "admin-password")
	admin.click("overview", `document.querySelector("#nav-overview")`)
	sat := `document.querySelector(".kpi[data-kpi=csat]")`
	admin.wait("the satisfaction figure", sat+`.querySelector(".kpi-value").textContent === "4 / 5" && `+sat+`.querySelector(".kpi-note").textContent === "1 rating"`)
	today := time.Now().UTC().Format(time.DateOnly)
	day := `document.querySelector("#csat-chart .csat-day[data-date='` + today + `']")`
	admin.wait("today's rating", day+`.dataset.responses === "1" && `+day+`.dataset.average === "4" && `+day+`.querySelector("rect.ratings") !== null`)
	require.Equal(t, today+": 1 rating, 4 of 5", eval[string](admin, day+`.querySelector("title").textContent`))
	require.Equal(t, 30, eval[int](admin, `document.querySelectorAll("#csat-chart .csat-day").length`))
	require.Equal(t, 1, eval[int](admin, `document.querySelectorAll("#csat-chart circle.rate-dot").length`))
}
