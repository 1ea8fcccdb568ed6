package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// downloadsTo has the page's browser context save downloads in dir under
// the names the page gives them.
func (p *page) downloadsTo(dir string) {
	p.t.Helper()
	c := chromedp.FromContext(p.ctx)
	ctx, cancel := p.timeout(5 * time.Second)
	defer cancel()
	_, err := chromedp.CallBrowser(ctx, cdbrowser.SetDownloadBehavior, cdbrowser.SetDownloadBehaviorParams{
		Behavior: cdbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, BrowserContextID: c.BrowserContextID})
	if err != nil {
		p.fatalf("allowing downloads: %v", err)
	}
}

// downloaded waits for the file name in dir to be whole and reads it.
func downloaded(t *testing.T, dir, name string) []byte {
	t.Helper()
	var b []byte
	require.Eventually(t, func() bool {
		if _, err := os.Stat(filepath.Join(dir, name+".crdownload")); err == nil {
			return false
		}
		var err error
		b, err = os.ReadFile(filepath.Join(dir, name))
		return err == nil
	}, waitFor, 20*time.Millisecond, "the download %s", name)
	return b
}

func ndjson(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "line %q", sc.Text())
		out = append(out, m)
	}
	require.NoError(t, sc.Err())
	return out
}

// TestBrowserExport: an admin downloads one conversation from its pane as
// JSON and as a vCon, and a period's conversations as NDJSON in either
// format; a period the server refuses is said next to its field; the
// token goes in a header, never in a URL; an agent sees no export.
func TestBrowserExport(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Export Shop")
	e.addAgent(s, "ed@export.example", "Ed")

	v := e.visitor(s.m.WidgetKey)
	conv := hello(v)["conversation_id"].(string)
	say(v, "m1", "where is my parcel?")
	handoff(v, "exported@example.com")
	// A second conversation in the period.
	v2 := e.visitor(s.m.WidgetKey)
	second := hello(v2)["conversation_id"].(string)
	say(v2, "m1", "do you ship to Belgium?")

	dir := t.TempDir()
	admin := newPage(t, "admin")
	admin.downloadsTo(dir)
	signIn(admin, e.srv.URL, "exportshop-admin@example.com", "admin-password")
	admin.click("the visitor", byText("document", "#queue .name", "exported@example.com"))
	pane := `document.querySelector(".pane[data-conversation='` + conv + `']")`
	admin.wait("the pane", pane+` && `+pane+`.querySelectorAll("[data-seq]").length > 0`)
	require.Equal(t, "Download the conversation with exported@example.com as JSON",
		eval[string](admin, pane+`.querySelector("[data-export=json]").getAttribute("aria-label")`))

	admin.click("download JSON", pane+`.querySelector("[data-export=json]")`)
	admin.wait("downloaded", pane+`.querySelector(".export-status").textContent === "Downloaded."`)
	var one struct {
		Conversation map[string]any   `json:"conversation"`
		Messages     []map[string]any `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(downloaded(t, dir, "conversation-"+conv+".json.json"), &one))
	require.Equal(t, conv, one.Conversation["id"])
	require.Equal(t, "queued", one.Conversation["status"])
	var texts []any
	for _, m := range one.Messages {
		texts = append(texts, m["text"])
	}
	require.Contains(t, texts, "where is my parcel?")
	code, rest := e.do("GET", "/v1/agent/conversations/"+conv, s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Len(t, one.Messages, len(rest["messages"].([]any)), "the whole conversation, as the console reads it")

	admin.click("download vCon", pane+`.querySelector("[data-export=vcon]")`)
	var vc struct {
		Vcon   string           `json:"vcon"`
		UUID   string           `json:"uuid"`
		Dialog []map[string]any `json:"dialog"`
	}
	require.NoError(t, json.Unmarshal(downloaded(t, dir, "conversation-"+conv+".vcon.json"), &vc))
	require.NotEmpty(t, vc.Vcon)
	require.NotEmpty(t, vc.UUID)
	var bodies []any
	for _, d := range vc.Dialog {
		bodies = append(bodies, d["body"])
	}
	require.Contains(t, bodies, "where is my parcel?")

	// The period's export: the last 30 days by default.
	openSettings(admin)
	today := time.Now().UTC().Format(time.DateOnly)
	require.Equal(t, today, eval[string](admin, `document.querySelector("#export-to").value`))
	admin.click("download the export", `document.querySelector("#export-form button[type=submit]")`)
	admin.wait("the export", `/^Downloaded \(.+\)\.$/.test(document.querySelector("#export-status").textContent)`)
	lines := ndjson(t, downloaded(t, dir, "conversations.json.ndjson"))
	var ids []any
	for _, l := range lines {
		ids = append(ids, l["conversation"].(map[string]any)["id"])
		require.NotEmpty(t, l["messages"])
	}
	require.ElementsMatch(t, []any{conv, second}, ids)

	admin.click("vCon", `document.querySelector("#export-form input[value=vcon]")`)
	admin.click("download the export", `document.querySelector("#export-form button[type=submit]")`)
	vlines := ndjson(t, downloaded(t, dir, "conversations.vcon.ndjson"))
	require.Len(t, vlines, 2)
	for _, l := range vlines {
		require.NotEmpty(t, l["vcon"])
		require.NotEmpty(t, l["dialog"])
	}

	// The page's check, then the server's (a period over 366 days).
	setDates := func(from, to string) {
		eval[bool](admin, `(() => { document.querySelector("#export-from").value = `+jsq(from)+`; document.querySelector("#export-to").value = `+jsq(to)+`; return true; })()`)
	}
	setDates("", today)
	admin.click("download the export", `document.querySelector("#export-form button[type=submit]")`)
	admin.wait("a date is needed", `document.querySelector("#export-from-error").textContent === "Choose a date." && document.activeElement === document.querySelector("#export-from") && `+
		`document.querySelector("#export-from").getAttribute("aria-invalid") === "true"`)
	setDates("2024-01-01", "2026-01-01")
	admin.click("download the export", `document.querySelector("#export-form button[type=submit]")`)
	admin.wait("the server's refusal by the field", `document.querySelector("#export-to-error").textContent === "Choose a period of at most 366 days, with the start before the end." && `+
		`document.querySelector("#export-from-error").hidden && document.querySelector("#export-status").textContent === ""`)
	setDates("2020-01-01", "2020-01-31")
	admin.click("download the export", `document.querySelector("#export-form button[type=submit]")`)
	admin.wait("an empty period", `document.querySelector("#export-status").textContent === "No conversation began in this period: there is nothing to download."`)

	// Every export went with the token in a header only.
	urls := eval[[]string](admin, `performance.getEntriesByType("resource").map(e => e.name).filter(n => n.includes("/v1/admin/conversations/"))`)
	require.Len(t, urls, 6)
	tok := eval[string](admin, `sessionStorage.getItem("baton.console.token")`)
	require.NotEmpty(t, tok)
	for _, u := range urls {
		require.NotContains(t, u, tok)
		require.False(t, strings.Contains(u, "token="), u)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 4, "one file per download; the refused one and the empty period saved nothing")

	// An agent has no export: the route is an admin's.
	agent := newPage(t, "agent")
	signIn(agent, e.srv.URL, "ed@export.example", "agent-password")
	agent.click("the visitor", byText("document", "#queue .name", "exported@example.com"))
	agentPane := `document.querySelector(".pane[data-conversation='` + conv + `']")`
	agent.wait("the pane", agentPane+` && `+agentPane+`.querySelectorAll("[data-seq]").length > 0`)
	require.Zero(t, eval[int](agent, `document.querySelectorAll("[data-export]").length`))
	require.True(t, eval[bool](agent, `document.querySelector("#nav-settings").hidden`))
}
