package agentconsole

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
)

func webServer(t *testing.T) *httptest.Server {
	t.Helper()
	gin.SetMode(gin.TestMode)
	r := gin.New()
	registerWeb(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

func TestConsolePageIsServedUnderAStrictPolicy(t *testing.T) {
	srv := webServer(t)

	res, _ := get(t, srv.URL+"/console")
	require.Equal(t, http.StatusMovedPermanently, res.StatusCode)
	require.Equal(t, "/console/", res.Header.Get("Location"))

	res, body := get(t, srv.URL+"/console/")
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, body, `<script type="module" src="js/main.js"></script>`)
	csp := res.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self'")
	require.Contains(t, csp, "style-src 'self'")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.NotContains(t, csp, "unsafe")
	require.Equal(t, "DENY", res.Header.Get("X-Frame-Options"))

	res, _ = get(t, srv.URL+"/console/js/main.js")
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, res.Header.Get("Content-Type"), "javascript")
	require.NotEmpty(t, res.Header.Get("Content-Security-Policy"))

	res, _ = get(t, srv.URL+"/console/no-such-file.js")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

func webFiles(t *testing.T, ext string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(webFS, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ext {
			return err
		}
		b, err := webFS.ReadFile(p)
		out[strings.TrimPrefix(p, "web/")] = string(b)
		return err
	})
	require.NoError(t, err)
	require.NotEmpty(t, out)
	return out
}

// The page must work under its own CSP: nothing inline, nothing from
// elsewhere.
func TestConsoleHTMLHasNothingInline(t *testing.T) {
	for name, html := range webFiles(t, ".html") {
		for _, bad := range []*regexp.Regexp{
			regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`), // a script with a body
			regexp.MustCompile(`<style`),
			regexp.MustCompile(`\sstyle\s*=`),
			regexp.MustCompile(`\son[a-z]+\s*=`),
			regexp.MustCompile(`(?:src|href)\s*=\s*"(?:https?:)?//`),
			regexp.MustCompile(`javascript:`),
		} {
			require.False(t, bad.MatchString(html), "%s matches %s", name, bad)
		}
	}
}

// Every text the console shows goes in as text.
func TestConsoleScriptsHaveNoHTMLSinks(t *testing.T) {
	for name, js := range webFiles(t, ".js") {
		for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "javascript:", "setAttribute(\"style\"", "srcdoc"} {
			require.NotContains(t, js, sink, name)
		}
	}
}

// The scripts look elements up by id: every literal id they use is in the
// page, and every module they import exists.
func TestConsoleScriptsMatchThePage(t *testing.T) {
	html := webFiles(t, ".html")["index.html"]
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		ids[m[1]] = true
	}
	scripts := webFiles(t, ".js")
	// Only whole literal ids: "#nav-" + view is made at run time.
	lookup := regexp.MustCompile(`\$\("#([a-zA-Z][\w-]*)(?:"\)|[\s.\[:>])`)
	imports := regexp.MustCompile(`(?:from |import\()"\./([\w.]+)"`)
	for name, js := range scripts {
		for _, m := range lookup.FindAllStringSubmatch(js, -1) {
			require.True(t, ids[m[1]], "%s looks up #%s, which index.html does not have", name, m[1])
		}
		for _, m := range imports.FindAllStringSubmatch(js, -1) {
			require.Contains(t, scripts, "js/"+m[1], "%s imports %s", name, m[1])
		}
	}
	require.Contains(t, html, `src="js/main.js"`)
	require.Contains(t, scripts, "js/main.js")
}
