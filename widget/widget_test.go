package widget

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
)

// maxGzipped is the widget's size budget: it loads on every page of a shop.
const maxGzipped = 30 << 10

func TestScriptIsSmall(t *testing.T) {
	script, err := Script()
	require.NoError(t, err)
	n := len(Gzip(script))
	t.Logf("widget.js: %d bytes, %d bytes gzipped", len(script), n)
	require.Less(t, n, maxGzipped)
}

func TestScriptCarriesEveryLanguageAndTheStyles(t *testing.T) {
	script, err := Script()
	require.NoError(t, err)
	s := string(script)
	require.NotContains(t, s, "/*I18N*/")
	require.NotContains(t, s, "/*CSS*/")
	require.Contains(t, s, `"nl":{`)
	require.Contains(t, s, `"en":{`)
	require.Contains(t, s, `.launcher`)
}

func languages(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	entries, err := fs.ReadDir(files, "i18n")
	require.NoError(t, err)
	for _, e := range entries {
		b, err := files.ReadFile("i18n/" + e.Name())
		require.NoError(t, err)
		m := map[string]string{}
		require.NoError(t, json.Unmarshal(b, &m), e.Name())
		out[strings.TrimSuffix(e.Name(), ".json")] = m
	}
	return out
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Adding a language is adding one file, and that file must say everything
// English says: a missing key would show English in the middle of Dutch.
func TestEveryLanguageHasEveryText(t *testing.T) {
	langs := languages(t)
	require.Contains(t, langs, "en")
	require.Contains(t, langs, "nl")
	want := keys(langs["en"])
	for name, m := range langs {
		require.Equal(t, want, keys(m), "%s.json", name)
		for k, v := range m {
			require.NotEmpty(t, strings.TrimSpace(v), "%s.json: %s", name, k)
		}
	}
}

// Every key the script asks for exists, so no visitor ever sees a key name.
func TestScriptUsesOnlyKnownTexts(t *testing.T) {
	src, err := files.ReadFile("assets/widget.js")
	require.NoError(t, err)
	en := languages(t)["en"]
	uses := regexp.MustCompile(`(?:\bt\(|"text", |"aria-label", |"placeholder", )"([a-zA-Z]+)"`).FindAllSubmatch(src, -1)
	require.NotEmpty(t, uses)
	for _, u := range uses {
		require.Contains(t, en, string(u[1]))
	}
}

// The widget runs inside other people's pages: nothing it shows may be
// parsed as HTML or run as code.
func TestScriptHasNoHTMLSinks(t *testing.T) {
	src, err := files.ReadFile("assets/widget.js")
	require.NoError(t, err)
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "javascript:"} {
		require.NotContains(t, string(src), sink)
	}
}

func TestServesTheScriptCompressedAndCached(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	Register(r, Options{})
	srv := httptest.NewServer(r)
	defer srv.Close()
	script, err := Script()
	require.NoError(t, err)

	req, _ := http.NewRequest("GET", srv.URL+"/widget.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
	require.Equal(t, "*", res.Header.Get("Access-Control-Allow-Origin"))
	zr, err := gzip.NewReader(bytes.NewReader(body))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, script, plain)

	req, _ = http.NewRequest("GET", srv.URL+"/widget.js", nil)
	req.Header.Set("Accept-Encoding", "identity")
	res, err = http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	require.Empty(t, res.Header.Get("Content-Encoding"))
	require.Equal(t, script, body)

	req, _ = http.NewRequest("GET", srv.URL+"/widget.js", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	res, err = http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNotModified, res.StatusCode)

	// No demo page unless asked for.
	res, err = http.Get(srv.URL + "/")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "deflate, gzip;q=1.0, *;q=0.5": true, "br, GZIP": true,
		"gzip;q=0": false, "identity": false, "x-gzip": false,
	} {
		require.Equal(t, want, acceptsGzip(h), "%q", h)
	}
}
