// Package widget ships the browser side of Baton's visitor chat: widget.js,
// its styles and one JSON file of texts per language, all embedded in the
// binary, and the demo shop page. It depends on nothing else of Baton's.
package widget

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
)

//go:embed assets i18n demo.html
var files embed.FS

// Options say what to serve besides the widget.
type Options struct {
	// DemoPage serves a demo shop page at / with the widget on it.
	DemoPage bool
	// DemoKey is the widget key the demo page uses.
	DemoKey string
}

// Script returns widget.js with every language and the styles built in.
// Adding a language is adding one file to i18n/.
func Script() ([]byte, error) {
	src, err := files.ReadFile("assets/widget.js")
	if err != nil {
		return nil, err
	}
	css, err := files.ReadFile("assets/widget.css")
	if err != nil {
		return nil, err
	}
	langs := map[string]json.RawMessage{}
	err = fs.WalkDir(files, "i18n", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		var check map[string]string
		if err := json.Unmarshal(b, &check); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		compact, _ := json.Marshal(check)
		langs[strings.TrimSuffix(path.Base(p), ".json")] = compact
		return nil
	})
	if err != nil {
		return nil, err
	}
	i18n, _ := json.Marshal(langs)
	cssJSON, _ := json.Marshal(string(css))
	out := bytes.Replace(src, []byte("/*I18N*/"), i18n, 1)
	out = bytes.Replace(out, []byte("/*CSS*/"), cssJSON, 1)
	return out, nil
}

// Gzip returns b compressed, for serving and for measuring the widget.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// Register serves /widget.js (and the demo page when asked).
func Register(r gin.IRouter, opts Options) {
	script, err := Script()
	if err != nil {
		// The assets are compiled in; a broken one is a build defect.
		panic("widget: " + err.Error())
	}
	// Compressed once here: every page view of every shop fetches it.
	zipped := Gzip(script)
	sum := sha256.Sum256(script)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	r.GET("/widget.js", func(g *gin.Context) {
		h := g.Writer.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("ETag", etag)
		h.Set("Vary", "Accept-Encoding")
		// Any shop may load the script; it carries no secrets.
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		if g.GetHeader("If-None-Match") == etag {
			g.Status(http.StatusNotModified)
			return
		}
		if acceptsGzip(g.GetHeader("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			g.Data(http.StatusOK, "text/javascript; charset=utf-8", zipped)
			return
		}
		g.Data(http.StatusOK, "text/javascript; charset=utf-8", script)
	})
	if opts.DemoPage {
		page := template.Must(template.ParseFS(files, "demo.html"))
		r.GET("/", func(g *gin.Context) {
			g.Header("Content-Type", "text/html; charset=utf-8")
			g.Header("Cache-Control", "no-cache")
			_ = page.Execute(g.Writer, map[string]string{"Key": opts.DemoKey})
		})
	}
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}
