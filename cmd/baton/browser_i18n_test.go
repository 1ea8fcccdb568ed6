package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// shownTexts lists every text the console shows or reads out now: the
// visible text, the chosen option of each visible list, the charts' titles
// and descriptions, the labels, placeholders and titles of visible
// elements, and the document's title. The time zones are names, not words.
const shownTexts = `(() => {
	const out = new Set();
	const add = (s) => { s = String(s || "").replace(/\s+/g, " ").trim(); if (s) out.add(s); };
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n; (n = walk.nextNode());) {
		const p = n.parentElement;
		if (!p || p.closest("script, style, #timezone")) continue;
		const opt = p.closest("option");
		const chart = p.closest("svg");
		if (opt) { if (!opt.selected || !opt.closest("select").checkVisibility()) continue; }
		else if (chart) { if (!chart.checkVisibility()) continue; }
		else if (!p.checkVisibility()) continue;
		add(n.textContent);
	}
	for (const el of document.querySelectorAll("[aria-label], [placeholder], [title]")) {
		if (el.closest("#timezone") || !el.checkVisibility()) continue;
		for (const a of ["aria-label", "placeholder", "title"]) if (el.hasAttribute(a)) add(el.getAttribute(a));
	}
	add(document.title);
	return Array.from(out);
})()`

// englishWords would be English left in a Dutch console.
var englishWords = regexp.MustCompile(`\b(the|and|your|with|from|to|Save|Add|Remove|Delete|Claim|Send|Sign|Show|Loading|waiting|conversations?|Settings|Overview|Queue|Refresh|Retry|Enable|Disable|Edit|Cancel|Available|Away|Name|Email|Password|Role|Capacity|Presence|Actions|Routing|Knowledge|Office|hours|Assistant|Period|days|Last|People|Language|Automatic|Manual|Connect|Change)\b`)

// consoleLanguage reads the console's texts in one language.
func consoleLanguage(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "agentconsole", "web", "i18n", lang+".json"))
	require.NoError(t, err)
	m := map[string]string{}
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// patterns turns a language's texts into patterns ({blanks} match
// anything), leaving out those that are mostly blanks: they say nothing
// about the language. skip leaves out texts by key.
func patterns(texts map[string]string, skip func(k string) bool) []*regexp.Regexp {
	blank := regexp.MustCompile(`\{[a-z_]+\}`)
	letter := regexp.MustCompile(`[A-Za-z]`)
	var out []*regexp.Regexp
	for k, v := range texts {
		if skip(k) || len(letter.FindAllString(blank.ReplaceAllString(v, ""), -1)) < 3 {
			continue
		}
		parts := blank.Split(v, -1)
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		out = append(out, regexp.MustCompile(`^`+strings.Join(parts, `.+`)+`$`))
	}
	return out
}

type languageCheck struct{ english, dutch []*regexp.Regexp }

// newLanguageCheck knows the English texts that Dutch says differently,
// and the Dutch ones.
func newLanguageCheck(t *testing.T) languageCheck {
	t.Helper()
	en, nl := consoleLanguage(t, "en"), consoleLanguage(t, "nl")
	return languageCheck{
		english: patterns(en, func(k string) bool { return nl[k] == en[k] }),
		dutch:   patterns(nl, func(string) bool { return false }),
	}
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// requireDutch fails on any English the console shows now: a text that is
// not one of the Dutch texts and is one of the English ones or has English
// words in it. Data (names, addresses) is named in allowed.
func requireDutch(t *testing.T, p *page, where string, lc languageCheck, allowed ...string) {
	t.Helper()
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	texts := eval[[]string](p, shownTexts)
	require.NotEmpty(t, texts)
	for _, s := range texts {
		if ok[s] || matchesAny(lc.dutch, s) {
			continue
		}
		require.False(t, matchesAny(lc.english, s), "%s shows the English %q", where, s)
		require.False(t, englishWords.MatchString(s), "%s shows English: %q", where, s)
	}
	t.Logf("%s: %d texts, none English", where, len(texts))
}

// TestBrowserDutchConsole: a shop whose language is Dutch gets its console
// in Dutch: the queue, the buttons, the panes, and every view an admin can
// open, with no English left on screen or for a screen reader.
func TestBrowserDutchConsole(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Tegelwinkel")
	code, body := e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"locale": "nl"})
	require.Equal(t, 200, code, "settings: %v", body)
	// A Dutch visitor waits for a person.
	v := e.visitor(s.m.WidgetKey)
	v.Send(map[string]any{"type": "hello", "locale": "nl"})
	v.Expect("welcome")
	handoff(v, "klant@voorbeeld.nl")

	admin := newPage(t, "beheerder")
	signIn(admin, e.srv.URL, "tegelwinkel-admin@example.com", "admin-password")
	data := []string{"Baton", "Tegelwinkel Admin", "tegelwinkel-admin@example.com", "klant@voorbeeld.nl"}
	english := newLanguageCheck(t)
	require.Equal(t, "nl", eval[string](admin, `document.documentElement.lang`))
	admin.wait("the Dutch queue", `document.querySelector("#queue-h").textContent.startsWith("Wachtrij") && `+
		byText("document", "#queue button", "Oppakken")+` !== undefined`)
	for sel, want := range map[string]string{
		"#nav-inbox":    "Inbox 1",
		"#nav-settings": "Instellingen",
		"#nav-overview": "Overzicht",
		"#nav-account":  "Je account",
		"#logout":       "Uitloggen",
		"#mine-h":       "Jouw gesprekken 0",
		"#sound":        "Geluidsmeldingen",
		"#conn":         "Live",
	} {
		require.Equal(t, want, eval[string](admin, `document.querySelector(`+jsq(sel)+`).textContent.replace(/\s+/g, " ").trim()`), sel)
	}
	admin.wait("the title", `document.title === "(1) Baton-console"`)
	admin.wait("the load", `document.querySelector("#load").textContent === "Je hebt 0 van 3 gesprekken"`)
	requireDutch(t, admin, "the inbox", english, data...)

	// A pane, before and after claiming.
	admin.click("the visitor", byText("document", "#queue .name", "klant@voorbeeld.nl"))
	admin.wait("the pane", byText("document", ".pane button", "Oppakken")+` !== undefined && `+pane+`.querySelectorAll("[data-seq]").length > 0`)
	requireDutch(t, admin, "a queued pane", english, data...)
	admin.click("claim", byText("document", ".pane button", "Oppakken"))
	admin.wait("claimed", byText("document", ".pane button", "Versturen")+` !== undefined && `+byText("document", ".pane button", "Terug naar de wachtrij")+` !== undefined`)
	admin.wait("the load", `document.querySelector("#load").textContent === "Je hebt 1 van 3 gesprekken"`)
	requireDutch(t, admin, "a claimed pane", english, data...)

	openSettings(admin)
	admin.wait("the Dutch settings", `document.querySelector("#hours-preview").textContent === "Nu open." && document.querySelector("#knowledge-status").textContent === "0 items"`)
	requireDutch(t, admin, "the settings", english, data...)

	admin.click("team", `document.querySelector("#nav-team")`)
	admin.wait("the Dutch team", `document.querySelectorAll("#team-list tr").length === 1 && document.querySelector("#team-list .agent-role").textContent === "Beheerder" && `+
		`document.querySelector("#routing-capacity").value === "3"`)
	requireDutch(t, admin, "the team", english, data...)

	admin.click("overview", `document.querySelector("#nav-overview")`)
	admin.wait("the Dutch overview", `document.querySelectorAll(".kpi").length >= 5 && document.querySelector("#gaps-status").textContent === "Geen onbeantwoorde vragen in deze periode."`)
	requireDutch(t, admin, "the overview", english, data...)

	admin.click("handoffs", `document.querySelector("#nav-handoffs")`)
	admin.wait("the Dutch handoffs", `document.querySelectorAll("#integration-list li").length === 2 && document.querySelector("#handoffs-status").textContent === "0 mislukte overdrachten."`)
	requireDutch(t, admin, "the handoffs", english, data...)

	admin.click("account", `document.querySelector("#nav-account")`)
	admin.wait("the Dutch account", `document.querySelector("#me-facts").textContent.includes("Beheerder")`)
	requireDutch(t, admin, "the account", english, data...)

	// This browser may choose English; the choice is kept.
	admin.choose("the language", `document.querySelector("#console-lang")`, "en")
	admin.wait("English", `document.documentElement.lang === "en" && document.querySelector("#nav-settings").textContent === "Settings"`)
	require.Equal(t, "en", eval[string](admin, `localStorage.getItem("baton.console.locale")`))
}
