package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	cdpage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// One headless Chromium serves every browser test of the package; each
// page gets a browser context of its own, so visitor and agent share no
// cookies or storage.
var chrome struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	dir    string
	err    error
}

func chromiumPath() string {
	if p := os.Getenv("BATON_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser returns the shared browser, skipping the test when there is no
// Chromium unless BATON_TEST_REQUIRE_CHROMIUM=1 (CI) says it must run.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("BATON_TEST_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("Chromium is required (BATON_TEST_REQUIRE_CHROMIUM=1) but none was found; install Debian's chromium or set BATON_CHROMIUM")
		}
		t.Skip("no Chromium found (install chromium or set BATON_CHROMIUM); skipping browser test")
	}
	chrome.once.Do(func() {
		chrome.dir, chrome.err = os.MkdirTemp("", "baton-chromium-")
		if chrome.err != nil {
			return
		}
		// Without the background-networking flags Chromium phones home, which
		// a closed network refuses noisily.
		actx, acancel := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(chrome.dir),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
			chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
			chromedp.Flag("hide-scrollbars", true),
			chromedp.Flag("window-size", "1280,800"),
		)
		bctx, bcancel := chromedp.NewContext(actx)
		chrome.ctx = bctx
		chrome.cancel = func() { bcancel(); acancel() }
		chrome.err = chromedp.Do(bctx)
	})
	if chrome.err != nil {
		t.Fatalf("starting Chromium at %s: %v", path, chrome.err)
	}
	return chrome.ctx
}

func stopBrowser() {
	if chrome.cancel != nil {
		chrome.cancel()
	}
	if chrome.dir != "" {
		_ = os.RemoveAll(chrome.dir)
	}
}

// waitFor is how long a page gets to show what a test expects. Generous:
// two cores running Redis, Baton under -race and Chromium at once.
const waitFor = 15 * time.Second

// page is one tab in a fresh browser context.
type page struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu   sync.Mutex
	errs []string // uncaught exceptions and script or security errors
}

// newPage opens a tab in a browser context of its own. init scripts run
// before any page script on every load.
func newPage(t *testing.T, name string, init ...string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t), chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("%s: opening a tab: %v", name, err)
	}
	p := &page{t: t, name: name, ctx: ctx}
	// A page that throws, or breaks its own CSP, fails the test even when
	// everything else looked right. Failed loads (a missing favicon, a
	// socket cut on purpose) are the network's and are let be.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
				p.mu.Lock()
				p.errs = append(p.errs, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line+1))
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(cancel)
	// Registered after cancel, so it runs first: the tab still exists.
	t.Cleanup(func() {
		p.mu.Lock()
		errs := p.errs
		p.mu.Unlock()
		if len(errs) > 0 {
			t.Errorf("%s: the page reported errors:\n%s", name, strings.Join(errs, "\n"))
		}
		if t.Failed() {
			p.saveScreenshot("failure")
		}
	})
	for _, src := range init {
		if _, err := chromedp.Call(ctx, cdpage.AddScriptToEvaluateOnNewDocument, cdpage.AddScriptToEvaluateOnNewDocumentParams{Source: src}); err != nil {
			t.Fatalf("%s: adding a script: %v", name, err)
		}
	}
	return p
}

func (p *page) timeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, d)
}

func (p *page) fatalf(format string, args ...any) {
	p.t.Helper()
	p.saveScreenshot("failure")
	p.t.Fatalf(p.name+": "+format, args...)
}

// saveScreenshot keeps what the page looked like, for a failure's report.
func (p *page) saveScreenshot(what string) {
	ctx, cancel := p.timeout(5 * time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("%s: no screenshot: %v", p.name, err)
		return
	}
	dir := os.Getenv("BATON_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "baton-browser-tests")
	}
	_ = os.MkdirAll(dir, 0o755)
	file := filepath.Join(dir, fmt.Sprintf("%s-%s-%s-%d.png", sanitize(p.t.Name()), sanitize(p.name), what, time.Now().UnixMilli()))
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		p.t.Logf("%s: writing the screenshot: %v", p.name, err)
		return
	}
	p.t.Logf("%s: screenshot saved to %s", p.name, file)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

func (p *page) navigate(url string) {
	p.t.Helper()
	ctx, cancel := p.timeout(waitFor)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		p.fatalf("navigating to %s: %v", url, err)
	}
}

func (p *page) reload() {
	p.t.Helper()
	ctx, cancel := p.timeout(waitFor)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		p.fatalf("reloading: %v", err)
	}
}

// eval runs a JavaScript expression and decodes its JSON value into T.
func eval[T any](p *page, js string) T {
	p.t.Helper()
	ctx, cancel := p.timeout(waitFor)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAsValue))
	if err != nil {
		p.fatalf("evaluating %s: %v", js, err)
	}
	var v T
	if len(raw) > 0 && string(raw) != "null" && string(raw) != "undefined" {
		if err := json.Unmarshal(raw, &v); err != nil {
			p.fatalf("decoding %s from %s: %v", raw, js, err)
		}
	}
	return v
}

// wait polls a JavaScript condition until it holds, failing with what after
// the deadline. Polling, never sleeping a fixed time.
func (p *page) wait(what, cond string) {
	p.t.Helper()
	deadline := time.Now().Add(waitFor)
	js := "(() => { try { return !!(" + cond + "); } catch (e) { return false; } })()"
	for {
		ctx, cancel := p.timeout(5 * time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.fatalf("waited %s for %s (%s); last error: %v", waitFor, what, cond, err)
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// click waits until the element that js finds is visible, on top and
// still, then clicks its centre with a real mouse event.
func (p *page) click(what, js string) {
	p.t.Helper()
	locate := `(() => {
		let el = null;
		try { el = ` + js + `; } catch (e) { return null; }
		if (!el || el.disabled) return null;
		el.scrollIntoView({block: "center", inline: "center"});
		const r = el.getBoundingClientRect();
		if (!r.width || !r.height) return null;
		const x = r.left + r.width / 2, y = r.top + r.height / 2;
		const top = el.getRootNode().elementFromPoint(x, y);
		if (!top || !(top === el || el.contains(top))) return null;
		return {x, y};
	})()`
	deadline := time.Now().Add(waitFor)
	var last *struct{ X, Y float64 }
	for {
		pt := eval[*struct{ X, Y float64 }](p, locate)
		// Only a point that held still between two looks is clicked: a page
		// still laying itself out would take the click somewhere else.
		stable := pt != nil && last != nil && *pt == *last
		last = pt
		if stable {
			ctx, cancel := p.timeout(5 * time.Second)
			err := chromedp.Do(ctx, chromedp.MouseClickXY(pt.X, pt.Y))
			cancel()
			if err != nil {
				p.fatalf("clicking %s: %v", what, err)
			}
			return
		}
		if time.Now().After(deadline) {
			p.fatalf("no clickable %s within %s (%s)", what, waitFor, js)
		}
		if pt != nil {
			time.Sleep(10 * time.Millisecond)
		} else {
			time.Sleep(40 * time.Millisecond)
		}
	}
}

// typeInto clicks a field and types into it with real key events; "\r" is
// the Enter key.
func (p *page) typeInto(what, js, text string) {
	p.t.Helper()
	p.click(what, js)
	p.keys(text)
}

func (p *page) keys(text string) {
	p.t.Helper()
	ctx, cancel := p.timeout(waitFor)
	defer cancel()
	for i, part := range strings.Split(text, "\r") {
		var err error
		if i > 0 {
			err = chromedp.Do(ctx, enter)
		}
		if err == nil && part != "" {
			err = chromedp.Do(ctx, chromedp.KeyEvent(part))
		}
		if err != nil {
			p.fatalf("typing %q: %v", text, err)
		}
	}
}

// enter presses Enter as a keyboard does: one keydown that carries the
// text, so a page that cancels the keydown gets no line break. (KeyEvent
// sends a separate char event, which inserts one regardless.)
var enter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
		params := input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		if typ == input.DispatchKeyEventTypeKeyDown {
			params.Text, params.UnmodifiedText = "\r", "\r"
		}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, params); err != nil {
			return err
		}
	}
	return nil
})

// insertText puts text into the focused field the way a paste or an input
// method does: one input event, however long the text.
func (p *page) insertText(text string) {
	p.t.Helper()
	ctx, cancel := p.timeout(waitFor)
	defer cancel()
	if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: text}); err != nil {
		p.fatalf("inserting text: %v", err)
	}
}

// clearField empties a field the way a person would: select all, delete.
func (p *page) clearField(what, js string) {
	p.t.Helper()
	p.click(what, js)
	ctx, cancel := p.timeout(waitFor)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.KeyEvent("\b")); err != nil {
		p.fatalf("clearing %s: %v", what, err)
	}
}

// choose sets a select or date field the way picking from its list does:
// the value changes and the page hears input and change. Keyboard entry
// into these widgets depends on the browser's locale.
func (p *page) choose(what, js, value string) {
	p.t.Helper()
	p.click(what, js)
	ok := eval[bool](p, `(() => {
		const el = `+js+`;
		el.value = `+jsq(value)+`;
		if (el.value !== `+jsq(value)+`) return false;
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`)
	if !ok {
		p.fatalf("%s has no option %q", what, value)
	}
}

// shot captures the region of the page that js's element covers (plus a
// margin), at the given scale.
func (p *page) shot(js string, margin, scale float64) []byte {
	p.t.Helper()
	// The clip is in page coordinates: the scroll offset counts.
	r := eval[struct{ X, Y, W, H float64 }](p, `(() => { const el = `+js+`; el.scrollIntoView({block: "nearest"}); const r = el.getBoundingClientRect();
		return {x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height}; })()`)
	ctx, cancel := p.timeout(waitFor)
	defer cancel()
	beyond := true
	res, err := chromedp.Call(ctx, cdpage.CaptureScreenshot, cdpage.CaptureScreenshotParams{
		Format:                cdpage.CaptureScreenshotFormatPng,
		CaptureBeyondViewport: &beyond,
		Clip:                  &cdpage.Viewport{X: max(0, r.X-margin), Y: max(0, r.Y-margin), Width: r.W + 2*margin, Height: r.H + 2*margin, Scale: scale},
	})
	if err != nil {
		p.fatalf("screenshot: %v", err)
	}
	return res.Data
}

// updateScreenshot rewrites docs/screenshots/name when
// BATON_UPDATE_SCREENSHOTS=1; the README shows these.
func updateScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	if os.Getenv("BATON_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	file := filepath.Join("..", "..", "docs", "screenshots", name)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", file, len(png))
}

// jsq quotes a Go string as a JavaScript string literal.
func jsq(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// In the widget's open shadow root.
const widgetRoot = `document.querySelector("#baton-chat").shadowRoot`

func inWidget(sel string) string { return widgetRoot + `.querySelector(` + jsq(sel) + `)` }

// byText finds the first element under root matching sel whose text is
// exactly text.
func byText(root, sel, text string) string {
	return `Array.from(` + root + `.querySelectorAll(` + jsq(sel) + `)).find(n => n.textContent.trim() === ` + jsq(text) + `)`
}

// shopPage serves a shop's page on an origin of its own, with the widget
// snippet pointing at Baton, as a merchant would embed it.
func shopPage(t *testing.T, baton, key, extra string) *httptest.Server {
	t.Helper()
	return shopPageIn(t, "en", baton, key, extra)
}

// shopPageIn is shopPage in the language lang.
func shopPageIn(t *testing.T, lang, baton, key, extra string) *httptest.Server {
	t.Helper()
	tpl := template.Must(template.New("shop").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>Test Shop</title>
<style>
  /* A shop's own styles must not reach the widget. */
  button { color: red !important; font-family: "Comic Sans MS", cursive; }
  div { border: 3px solid lime; }
</style></head>
<body><h1>Test Shop</h1><p>Wool scarves and ceramic mugs.</p>
<script src="{{.Baton}}/widget.js" data-key="{{.Key}}" {{.Extra}} async></script>
</body></html>`))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = tpl.Execute(w, map[string]any{"Lang": lang, "Baton": baton, "Key": key, "Extra": template.HTMLAttr(extra)})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// cutProxy forwards TCP to Baton and can cut every connection at once: a
// network drop, as far as the browser can tell.
type cutProxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

func newCutProxy(t *testing.T, backendURL string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, backend: strings.TrimPrefix(backendURL, "http://"), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.conns[b] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, b)
		go p.pipe(b, c)
	}
}

func (p *cutProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut drops every open connection; new ones are accepted again at once.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// widgetReady holds once the widget's socket is ready: what a visitor
// presses is sent at once, not kept for later.
const widgetReady = `document.querySelector("#baton-chat").dataset.state === "ready"`

// openWidget opens the widget's panel with its launcher and waits until
// its socket is ready.
func openWidget(p *page) {
	p.t.Helper()
	p.click("the launcher", inWidget(".launcher"))
	p.wait("the widget to be ready", widgetReady)
}

// gate holds back the requests it matches until released: a page caught
// between asking and being answered (a socket still connecting, a list
// still being read).
type gate struct {
	match   func(*http.Request) bool
	mu      sync.Mutex
	open    chan struct{} // closed while requests pass
	waiting atomic.Int32  // requests held right now
}

func newGate(match func(*http.Request) bool) *gate {
	g := &gate{match: match, open: make(chan struct{})}
	close(g.open)
	return g
}

// hold makes the next matching requests wait.
func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

// release lets every held request and the next ones through.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.match(r) {
			g.mu.Lock()
			open := g.open
			g.mu.Unlock()
			g.waiting.Add(1)
			select {
			case <-open:
			case <-r.Context().Done():
			}
			g.waiting.Add(-1)
			if r.Context().Err() != nil {
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// waitHeld waits until a request is being held.
func (g *gate) waitHeld(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return g.waiting.Load() > 0 }, waitFor, 10*time.Millisecond,
		"no request came to the gate")
}

// gatedServer serves e's Baton behind g.
func gatedServer(t *testing.T, e *env, g *gate) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(g.wrap(e.app.gw.Handler()))
	t.Cleanup(func() {
		g.release()
		srv.Close()
	})
	return srv
}
