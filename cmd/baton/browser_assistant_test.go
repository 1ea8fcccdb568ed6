package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/model/modeltest"
)

// watchWidget records, in the page, what the widget's panel shows after
// every change: the draft's text and whether assistive technology is kept
// from it, the typing line and how many assistant lines there are.
const watchWidget = `(() => {
	const root = document.querySelector("#baton-chat").shadowRoot;
	window.__seen = [];
	const look = () => {
		const d = root.querySelector("[data-draft]");
		window.__seen.push({
			draft: d ? d.querySelector(".text").textContent : null,
			drafts: root.querySelectorAll("[data-draft]").length,
			hidden: d ? d.closest('[aria-hidden="true"]') !== null : false,
			typing: root.querySelector(".typing").textContent,
			answers: root.querySelectorAll("[data-seq][data-role=assistant]").length,
			offer: root.querySelector(".offer") !== null,
		});
	};
	new MutationObserver(look).observe(root.querySelector(".panel"), {subtree: true, childList: true, characterData: true, attributes: true});
	return true;
})()`

type widgetLook struct {
	Draft   *string `json:"draft"`
	Drafts  int     `json:"drafts"`
	Hidden  bool    `json:"hidden"`
	Typing  string  `json:"typing"`
	Answers int     `json:"answers"`
	Offer   bool    `json:"offer"`
}

func seen(p *page) []widgetLook { return eval[[]widgetLook](p, `window.__seen`) }

// exposed lists the names of what the page's accessibility tree exposes
// (nodes not ignored): what a screen reader can read.
func exposed(p *page) []string {
	p.t.Helper()
	ctx, cancel := p.timeout(waitFor)
	defer cancel()
	if _, err := chromedp.Call(ctx, accessibility.Enable, cdp.Empty{}); err != nil {
		p.fatalf("enabling accessibility: %v", err)
	}
	res, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		p.fatalf("reading the accessibility tree: %v", err)
	}
	var names []string
	for _, n := range res.Nodes {
		if n.Ignored || n.Name == nil || len(n.Name.Value) == 0 {
			continue
		}
		var s string
		if json.Unmarshal(n.Name.Value, &s) == nil && s != "" {
			names = append(names, s)
		}
	}
	return names
}

func anyContains(names []string, sub string) bool {
	for _, n := range names {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

const (
	widgetDraft    = `document.querySelector("#baton-chat").shadowRoot.querySelector("[data-draft]")`
	widgetAnswers  = widgetRoot + `.querySelectorAll("[data-seq][data-role=assistant]")`
	typingAssist   = "The assistant is typing…"
	slowPieceDelay = 250 * time.Millisecond
)

// TestBrowserAssistantStreamsAnswerInWidget: the model's answer appears in
// the widget word by word, as one draft kept from assistive technology,
// after the assistant's typing line; it ends as exactly one assistant line
// that the accessibility tree exposes, with no draft left. Pressing "Talk to
// a person" while the next answer streams takes the draft away, and no
// answer follows.
func TestBrowserAssistantStreamsAnswerInWidget(t *testing.T) {
	browser(t)
	e, s, fake := modelEnv(t, 20*time.Second)
	// The last piece is markup: the draft and the answer show it as text.
	pieces := []string{"Orders ", "ship ", "the ", "same ", "day, ", "by post [1]. ", `<img src=x onerror="window.__xss=1">`}
	fake.Enqueue(modeltest.Reply{Content: pieces, Delay: slowPieceDelay})

	v := newPage(t, "visitor")
	v.navigate(shopPage(t, e.srv.URL, s.m.WidgetKey, "").URL)
	openWidget(v)
	require.True(t, eval[bool](v, watchWidget))
	v.keys("How long does shipping take?\r")

	// Mid-stream: the draft holds some words and no answer line exists yet.
	// Screen readers are kept from it: the accessibility tree does not
	// expose its text, though the page shows it.
	v.wait("a draft with words", widgetDraft+`.querySelector(".text").textContent.trim().split(/\s+/).length >= 2`)
	partial := eval[string](v, widgetDraft+`.querySelector(".text").textContent`)
	names := exposed(v)
	require.True(t, strings.HasPrefix(eval[string](v, `(`+widgetDraft+`)?.querySelector(".text").textContent ?? ""`), partial), "the draft went during the check")
	require.Zero(t, eval[int](v, widgetAnswers+`.length`), "the answer came before the check could be made; the stream is too fast for this test")
	require.False(t, anyContains(names, strings.TrimSpace(partial)), "the draft %q is exposed to assistive technology: %q", partial, names)
	require.Equal(t, "true", eval[string](v, widgetDraft+`.getAttribute("aria-hidden")`))
	require.True(t, eval[bool](v, widgetDraft+`.closest("[role=log]") !== null`), "the draft is shown in the transcript")

	v.wait("the answer", widgetAnswers+`.length === 1 && `+widgetDraft+` === null`)
	final := eval[string](v, widgetAnswers+`[0].querySelector(".text").textContent`)
	require.True(t, strings.HasPrefix(final, "Orders ship the same day, by post"), "%q", final)
	require.NotContains(t, final, "[1]", "citation markers are not shown")
	require.True(t, strings.HasSuffix(final, `<img src=x onerror="window.__xss=1">`), "%q", final)
	require.Zero(t, eval[int](v, widgetRoot+`.querySelectorAll(".log img").length`), "the model's markup became HTML")
	require.False(t, eval[bool](v, `window.__xss === 1`), "the model's markup ran")

	lines := shown(v, widgetRoot)
	require.Len(t, lines, 2, "%v", lines)
	require.Equal(t, shownLine{Seq: 1, Role: "visitor", Text: "How long does shipping take?"}, lines[0])
	require.Equal(t, shownLine{Seq: 2, Role: "assistant", Text: final}, lines[1])
	require.Empty(t, eval[string](v, widgetAnswers+`[0].getAttribute("aria-hidden")`))
	require.True(t, anyContains(exposed(v), final), "the finished answer is exposed to assistive technology")
	v.wait("the typing line gone", inWidget(".typing")+`.textContent === ""`)

	// What the page showed along the way.
	looks := seen(v)
	var grew []string
	typedFirst := false
	for _, l := range looks {
		require.LessOrEqual(t, l.Drafts, 1, "two drafts at once")
		if l.Draft == nil {
			if l.Answers == 0 && l.Typing == typingAssist {
				typedFirst = true
			}
			continue
		}
		require.True(t, l.Hidden, "a draft exposed to assistive technology: %+v", l)
		require.Zero(t, l.Answers, "the draft and the answer shown at once: %+v", l)
		require.Empty(t, l.Typing, "the typing line beside the draft: %+v", l)
		if len(grew) == 0 || *l.Draft != grew[len(grew)-1] {
			grew = append(grew, *l.Draft)
		}
	}
	require.True(t, typedFirst, "the typing line was not shown before the draft: %+v", looks)
	var intermediate int
	for i, d := range grew {
		require.True(t, strings.HasPrefix(final, d), "draft %q is not the start of the answer %q", d, final)
		if i > 0 {
			require.Greater(t, len(d), len(grew[i-1]), "the draft shrank: %q", grew)
		}
		if d != "" && len(d) < len(final) {
			intermediate++
		}
	}
	require.GreaterOrEqual(t, intermediate, 2, "the answer did not grow word by word: %q", grew)
	t.Logf("the draft grew through %q", grew)

	// The visitor asks for a person while the next answer streams: the
	// draft goes and no answer follows.
	fake.Enqueue(modeltest.Reply{Content: []string{"Returns ", "are ", "free ", "within ", "30 ", "days ", "[2]."}, Delay: slowPieceDelay})
	v.typeInto("the composer", inWidget("textarea"), "How do I return an item?\r")
	v.wait("the second draft", widgetDraft+` !== null && `+widgetDraft+`.querySelector(".text").textContent !== ""`)
	v.click("talk to a person", byText(widgetRoot, "button", "Talk to a person"))
	v.wait("the offer, the draft gone", byText(widgetRoot, ".offer button", "Yes, connect me")+` && `+widgetDraft+` === null`)
	require.Eventually(t, func() bool {
		rs := fake.Requests()
		return len(rs) == 2 && rs[1].ClientGone
	}, waitFor, 20*time.Millisecond, "the model's request was not cancelled")
	lines = shown(v, widgetRoot)
	require.Len(t, lines, 3, "no answer after the request for a person: %v", lines)
	require.Equal(t, "visitor", lines[2].Role)
	require.Empty(t, fake.Problems())
}

// TestBrowserAssistantDraftGoneAfterReconnect: a draft whose end the widget
// missed while its socket was down (the visitor asked for a person from
// another tab meanwhile) is gone once the widget is back: resuming replays
// stored messages only, and the open offer shows instead.
func TestBrowserAssistantDraftGoneAfterReconnect(t *testing.T) {
	browser(t)
	e, s, fake := modelEnv(t, 20*time.Second)
	fake.Enqueue(modeltest.Reply{Content: strings.SplitAfter("Orders ship the same day from our shop in Utrecht by post [1].", " "), Delay: slowPieceDelay})
	gate := newGate(func(r *http.Request) bool { return r.URL.Path == "/v1/widget/ws" })
	proxy := newCutProxy(t, gatedServer(t, e, gate).URL)

	v := newPage(t, "visitor")
	v.navigate(shopPage(t, proxy.URL(), s.m.WidgetKey, "").URL)
	openWidget(v)
	v.keys("How long does shipping take?\r")
	v.wait("a draft", widgetDraft+` !== null && `+widgetDraft+`.querySelector(".text").textContent !== ""`)
	require.True(t, eval[bool](v, watchWidget))

	gate.hold()
	proxy.cut()
	gate.waitHeld(t)
	// Meanwhile, in another tab: the same conversation asks for a person.
	var stored struct {
		ID    string `json:"conversation_id"`
		Token string `json:"resume_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(eval[string](v, `localStorage.getItem("baton:`+s.m.WidgetKey+`")`)), &stored))
	other := e.visitor(s.m.WidgetKey)
	other.Send(map[string]any{"type": "hello", "conversation_id": stored.ID, "resume_token": stored.Token, "last_seq": 1})
	other.Expect("welcome")
	other.Send(map[string]any{"type": "handoff_request"})
	other.Expect("handoff_offer")
	require.Eventually(t, func() bool {
		rs := fake.Requests()
		return len(rs) == 1 && rs[0].ClientGone
	}, waitFor, 20*time.Millisecond, "the model's request was not cancelled")
	require.True(t, eval[bool](v, widgetDraft+` !== null`), "the draft went before the widget was back")

	gate.release()
	v.wait("the widget back with the offer", widgetReady+` && `+byText(widgetRoot, ".offer button", "Yes, connect me"))
	require.True(t, eval[bool](v, widgetDraft+` === null`), "the draft of before the reconnect is still shown")
	lines := shown(v, widgetRoot)
	require.Len(t, lines, 1, "%v", lines)
	require.Equal(t, "visitor", lines[0].Role)
	for _, l := range seen(v) {
		if l.Offer {
			require.Zero(t, l.Drafts, "the draft shown beside the offer: %+v", l)
		}
	}
}

// TestBrowserAssistantConsole: an admin switches the assistant to the model
// with instructions; the overview charts why conversations went to the
// team and shows the model's calls; its knowledge gaps lead into the
// editor, as a new entry and as phrasings of an existing one, and what is
// saved there is the knowledge.
func TestBrowserAssistantConsole(t *testing.T) {
	browser(t)
	e, s, fake := modelEnv(t, 10*time.Second)
	code, body := e.do("PUT", "/v1/admin/assistant", s.adminToken, map[string]any{"mode": "builtin", "instructions": ""})
	require.Equal(t, 200, code, "%v", body)

	// History: one visitor asked for a person; the built-in assistant could
	// not answer four questions (one of them went to the team).
	vA := e.visitor(s.m.WidgetKey)
	hello(vA)
	handoff(vA, "asked@example.com")
	unsure := func(text string) *client {
		v := e.visitor(s.m.WidgetKey)
		hello(v)
		say(v, "q1", text)
		v.Expect("handoff_offer")
		return v
	}
	vB := unsure("Do you sell spaceships?")
	vB.Send(map[string]any{"type": "handoff_reply", "accept": true})
	vB.Expect("email_request")
	vB.Send(map[string]any{"type": "email", "email": "space@example.com"})
	require.Equal(t, "queued", vB.Expect("status")["status"])
	unsure("Do you sell spaceships?")
	unsure("Do you sell a spaceship?")
	unsure("Is my parcel delayed?")

	admin := newPage(t, "admin")
	signIn(admin, e.srv.URL, "modelshop-admin@example.com", "admin-password")

	// The assistant card: built-in now, the model available.
	openSettings(admin)
	modeRadio := func(mode string) string {
		return `document.querySelector("input[name=assistant-mode][value=` + mode + `]")`
	}
	admin.wait("the assistant's settings", modeRadio("builtin")+`.checked && !`+modeRadio("model")+`.disabled && document.querySelector("#model-note").hidden`)
	admin.click("the model", modeRadio("model"))
	admin.typeInto("the instructions", `document.querySelector("#assistant-instructions")`, "Sign as Tea Bot.")
	admin.wait("the count", `document.querySelector("#instructions-count").textContent === "16 of 4000 characters"`)
	admin.click("save", byText("document", "#assistant-form button", "Save assistant"))
	admin.wait("saved", `document.querySelector("#assistant-status").textContent === "Saved. The language model writes the answers."`)
	code, body = e.do("GET", "/v1/admin/assistant", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "model", body["mode"])
	require.Equal(t, "Sign as Tea Bot.", body["instructions"])

	// The model now answers, and hands this one over.
	fake.Enqueue(modeltest.Handoff("the parcel is damaged", 3))
	vF := e.visitor(s.m.WidgetKey)
	hello(vF)
	say(vF, "q1", "My parcel arrived broken, what now?")
	vF.Expect("handoff_offer")
	vF.Send(map[string]any{"type": "handoff_reply", "accept": true})
	vF.Expect("email_request")
	vF.Send(map[string]any{"type": "email", "email": "broken@example.com"})
	require.Equal(t, "queued", vF.Expect("status")["status"])
	require.Contains(t, fake.Requests()[0].System(), "Sign as Tea Bot.")

	// The overview: the reasons, the model's figures.
	admin.click("overview", `document.querySelector("#nav-overview")`)
	count := func(reason string) string {
		return `document.querySelector("#reasons-chart [data-reason=` + reason + `] .reason-count").textContent`
	}
	admin.wait("the reasons", count("visitor_asked")+` === "1" && `+count("unsure")+` === "1" && `+count("model_handoff")+` === "1" && `+count("model_error")+` === "0"`)
	require.Equal(t, "The assistant had no answer", eval[string](admin, `document.querySelector("#reasons-chart [data-reason=unsure] .reason-label").textContent`))
	desc := eval[string](admin, `document.querySelector("#reasons-summary").textContent`)
	require.Contains(t, desc, "3 conversations went to the team")
	require.Contains(t, desc, "the visitor asked for a person: 1; the assistant had no answer: 1; the assistant handed over: 1; the assistant's model failed: 0")
	require.Equal(t, "reasons-caption reasons-summary", eval[string](admin, `document.querySelector("#reasons-chart svg").getAttribute("aria-labelledby")`))
	kpi := func(label string) string {
		return `Array.from(document.querySelectorAll(".kpi")).find(k => k.querySelector(".kpi-label").textContent === ` + jsq(label) + `)`
	}
	admin.wait("the model's calls", kpi("Model calls")+`.querySelector(".kpi-value").textContent === "1"`)
	require.Contains(t, eval[string](admin, kpi("Model calls")+`.querySelector(".kpi-note").textContent`), "0 failed")

	// The gaps: the spaceship questions together, most asked first.
	gap := func(i int) string { return `document.querySelectorAll("#gaps-list .gap")[` + fmt.Sprint(i) + `]` }
	admin.wait("the gaps", `document.querySelectorAll("#gaps-list .gap").length === 2`)
	require.Equal(t, "Do you sell spaceships?", eval[string](admin, gap(0)+`.querySelector(".gap-question").textContent`))
	require.Equal(t, "asked 3 times", eval[string](admin, gap(0)+`.querySelector(".gap-count").textContent`))
	require.Equal(t, []string{"Do you sell a spaceship?"}, eval[[]string](admin, `Array.from(`+gap(0)+`.querySelectorAll(".gap-examples li")).map(n => n.textContent)`))
	require.Equal(t, "Is my parcel delayed?", eval[string](admin, gap(1)+`.querySelector(".gap-question").textContent`))
	require.Equal(t, "Add to", eval[string](admin, `document.querySelector("label[for="+`+gap(0)+`.querySelector("select").id+"]").textContent`))

	// As a new entry: the editor opens with the wordings, the answer to write.
	admin.click("add to knowledge", gap(0)+`.querySelector("button")`)
	newEntry := `Array.from(document.querySelectorAll("#knowledge-list .entry")).find(r => r.querySelector(".q").value === "Do you sell spaceships?")`
	admin.wait("the new entry", `!document.querySelector("#settings-view").hidden && `+newEntry+` && document.activeElement === `+newEntry+`.querySelector(".a")`)
	require.Equal(t, []string{"Do you sell a spaceship?"}, eval[[]string](admin, `Array.from(`+newEntry+`.querySelectorAll(".ph")).map(i => i.value)`))
	require.Equal(t, "#settings", eval[string](admin, `location.hash`))
	admin.keys("No, we sell tea only.")
	admin.click("save knowledge", byText("document", "#knowledge-form button", "Save knowledge"))
	admin.wait("saved", `document.querySelector("#knowledge-status").textContent === "Saved 3 entries."`)
	entries := knowledgeEntries(t, e, s)
	require.Len(t, entries, 3)
	space := entryWith(entries, "Do you sell spaceships?")
	require.NotNil(t, space, "%v", entries)
	require.Equal(t, "No, we sell tea only.", space["answer"])
	require.Equal(t, []any{"Do you sell a spaceship?"}, space["phrasings"])

	// As a phrasing of an entry that is there.
	shipping := entryWith(entries, "How long does shipping take?")
	require.NotNil(t, shipping)
	admin.click("overview", `document.querySelector("#nav-overview")`)
	admin.wait("the gaps, with the new entry to choose", `document.querySelectorAll("#gaps-list .gap").length === 2 && `+
		gap(1)+`.querySelectorAll("option").length === 4`)
	admin.choose("the shipping entry", gap(1)+`.querySelector("select")`, shipping["id"].(string))
	admin.click("add to knowledge", gap(1)+`.querySelector("button")`)
	shippingRow := `document.querySelector(` + jsq(`#knowledge-list .entry[data-id="`+shipping["id"].(string)+`"]`) + `)`
	admin.wait("the phrasing added", `!document.querySelector("#settings-view").hidden && `+shippingRow+` && `+
		`Array.from(`+shippingRow+`.querySelectorAll(".ph")).map(i => i.value).join("|") === "Is my parcel delayed?" && document.activeElement === `+shippingRow+`.querySelector(".ph")`)
	require.Contains(t, eval[string](admin, `document.querySelector("#knowledge-status").textContent`), "Added 1 phrasing to “How long does shipping take?”")
	admin.click("save knowledge", byText("document", "#knowledge-form button", "Save knowledge"))
	admin.wait("saved", `document.querySelector("#knowledge-status").textContent === "Saved 3 entries."`)
	shipping = entryWith(knowledgeEntries(t, e, s), "How long does shipping take?")
	require.Equal(t, []any{"Is my parcel delayed?"}, shipping["phrasings"])
	require.Equal(t, "Shipping takes 2 working days.", shipping["answer"])
}

// TestBrowserAssistantWithoutModel: where Baton has no model, the model
// cannot be chosen and the card says why; a page that offers it anyway (it
// was loaded before the model went) shows the refusal in place.
func TestBrowserAssistantWithoutModel(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Plain Shop")
	admin := newPage(t, "admin")
	signIn(admin, e.srv.URL, "plainshop-admin@example.com", "admin-password")
	openSettings(admin)
	model := `document.querySelector("input[name=assistant-mode][value=model]")`
	admin.wait("the model unavailable", model+`.disabled && !document.querySelector("#model-note").hidden && `+
		`document.querySelector("#model-note").textContent.startsWith("Not available: this Baton has no language model.")`)
	require.Equal(t, "model-note", eval[string](admin, model+`.getAttribute("aria-describedby")`))
	require.True(t, eval[bool](admin, `document.querySelector("input[name=assistant-mode][value=builtin]").checked`))

	require.True(t, eval[bool](admin, `(() => { const m = `+model+`; m.disabled = false; document.querySelector("#model-note").hidden = true; return true; })()`))
	admin.click("the model", model)
	admin.click("save", byText("document", "#assistant-form button", "Save assistant"))
	admin.wait("the refusal", `document.querySelector("#assistant-status").textContent === "Not saved: this Baton has no language model, so the built-in assistant keeps answering." && `+
		`document.querySelector("#assistant-status").classList.contains("error") && `+model+`.disabled && !document.querySelector("#model-note").hidden`)
	code, body := e.do("GET", "/v1/admin/assistant", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "builtin", body["mode"])
}

// TestBrowserAssistantPaneShowsWhy: the conversation the model handed over
// shows, above its transcript, why (with the model's words) and the
// summary for the person taking over.
func TestBrowserAssistantPaneShowsWhy(t *testing.T) {
	browser(t)
	e, s, fake := modelEnv(t, 10*time.Second)
	fake.Enqueue(modeltest.Handoff("the parcel is damaged", 3))
	v := e.visitor(s.m.WidgetKey)
	convID := hello(v)["conversation_id"].(string)
	say(v, "q1", "My parcel arrived broken, what now?")
	v.Expect("handoff_offer")
	v.Send(map[string]any{"type": "handoff_reply", "accept": true})
	v.Expect("email_request")
	v.Send(map[string]any{"type": "email", "email": "broken@example.com"})
	require.Equal(t, "queued", v.Expect("status")["status"])
	_, body := e.do("GET", "/v1/agent/conversations/"+convID, s.adminToken, nil)
	summary := body["conversation"].(map[string]any)["handoff"].(map[string]any)["summary"].(string)
	require.Contains(t, summary, "My parcel arrived broken")

	agent := newPage(t, "admin")
	signIn(agent, e.srv.URL, "modelshop-admin@example.com", "admin-password")
	agent.click("the conversation", `document.querySelector(`+jsq(`#queue [data-conversation="`+convID+`"] button.link`)+`)`)
	why := pane + `.querySelector(".why")`
	agent.wait("why and the summary", why+` && !`+why+`.hidden && `+why+`.querySelector(".why-summary") && `+paneText+`.includes("My parcel arrived broken")`)
	require.Equal(t, "The assistant handed over (the parcel is damaged)", eval[string](agent, why+`.querySelector(".why-reason").textContent`))
	require.Equal(t, "model_handoff", eval[string](agent, why+`.querySelector(".why-reason").dataset.reason`))
	require.Equal(t, summary, eval[string](agent, why+`.querySelector(".why-summary").textContent`))
	require.Equal(t, []string{"Why", "Summary"}, eval[[]string](agent, `Array.from(`+why+`.querySelectorAll("dt")).map(n => n.textContent)`))
	// At the top: above the transcript, and on screen.
	require.True(t, eval[bool](agent, `!!(`+why+`.compareDocumentPosition(`+pane+`.querySelector(".transcript")) & Node.DOCUMENT_POSITION_FOLLOWING)`))
	require.True(t, eval[bool](agent, `(() => { const r = `+why+`.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; })()`))
	require.Equal(t, "Why this conversation came to the team", eval[string](agent, why+`.getAttribute("aria-label")`))
}

func knowledgeEntries(t *testing.T, e *env, s shop) []map[string]any {
	t.Helper()
	code, body := e.do("GET", "/v1/admin/knowledge", s.adminToken, nil)
	require.Equal(t, 200, code, "%v", body)
	var out []map[string]any
	for _, x := range body["entries"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func entryWith(entries []map[string]any, question string) map[string]any {
	for _, x := range entries {
		if x["question"] == question {
			return x
		}
	}
	return nil
}
