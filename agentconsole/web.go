package agentconsole

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

//go:embed web
var webFS embed.FS

// registerWeb serves the console page at /console/.
func registerWeb(r gin.IRouter) {
	sub, _ := fs.Sub(webFS, "web")
	files := http.FileServer(http.FS(sub))
	serve := func(g *gin.Context) {
		h := g.Writer.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		req := g.Request.Clone(g.Request.Context())
		// "/" serves index.html; FileServer redirects "/index.html" to "/".
		req.URL.Path = "/" + strings.TrimPrefix(g.Param("path"), "/")
		files.ServeHTTP(g.Writer, req)
	}
	r.GET("/console", func(g *gin.Context) { g.Redirect(http.StatusMovedPermanently, "/console/") })
	r.GET("/console/*path", serve)
}
