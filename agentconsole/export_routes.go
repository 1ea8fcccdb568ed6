package agentconsole

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/gateway/rest"
	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/vcon"
)

// exportStore is what taking conversations out of Baton needs.
type exportStore interface {
	Merchant(ctx context.Context, id string) (*session.Merchant, error)
	Conversation(ctx context.Context, merchantID, convID string) (*session.Conversation, []session.RawEntry, error)
	ExportRange(ctx context.Context, merchantID string, from, to time.Time, each func(*session.Conversation, []session.RawEntry) error) error
}

func (c *Console) registerExport(admin gin.IRouter) {
	admin.GET("/conversations/export", c.exportRange)
	admin.GET("/conversations/:id/export", c.exportOne)
}

// exportWriteTimeout bounds each write of a bulk export: a client that
// stops reading does not hold the export open.
const exportWriteTimeout = 30 * time.Second

// exportFormat reads ?format=, json by default.
func exportFormat(g *gin.Context) (string, bool) {
	f := g.DefaultQuery("format", "json")
	if f != "json" && f != "vcon" {
		rest.Fail(g, http.StatusBadRequest, "invalid_format", `format is "json" or "vcon"`)
		return "", false
	}
	return f, true
}

// exportOne serves one conversation whole: as json, what GET
// /v1/agent/conversations/:id answers; as vcon, a vCon document.
func (c *Console) exportOne(g *gin.Context) {
	format, ok := exportFormat(g)
	if !ok {
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	mid := actorOf(g).MerchantID
	conv, entries, err := c.export.Conversation(ctx, mid, g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("Content-Disposition", `attachment; filename="conversation-`+conv.ID+`.`+format+`.json"`)
	if format == "json" {
		g.JSON(http.StatusOK, gin.H{"conversation": conv, "messages": rawMessages(entries)})
		return
	}
	m, err := c.export.Merchant(ctx, mid)
	if err != nil {
		c.fail(g, err)
		return
	}
	doc, err := vconOf(conv, entries, m.Name, hostOf(g.Request))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, doc)
}

// exportRange streams the conversations begun in a date range as NDJSON,
// one conversation per line, oldest first, written as they are read: the
// export's memory does not grow with the range. A failure after the first
// line cannot change the status any more: the last line is then an
// {"error": ...} object, so a reader can tell a cut export from a whole one.
func (c *Console) exportRange(g *gin.Context) {
	format, ok := exportFormat(g)
	if !ok {
		return
	}
	from, okFrom := exportBound(g.Query("from"), false)
	to, okTo := exportBound(g.Query("to"), true)
	if !okFrom || !okTo {
		rest.Fail(g, http.StatusBadRequest, "invalid_range",
			"from and to are RFC 3339 times or dates (YYYY-MM-DD, whole UTC days, to included)")
		return
	}
	mid := actorOf(g).MerchantID
	ctx := g.Request.Context()
	var shop, host string
	if format == "vcon" {
		mctx, cancel := ctxOf(g)
		m, err := c.export.Merchant(mctx, mid)
		cancel()
		if err != nil {
			c.fail(g, err)
			return
		}
		shop, host = m.Name, hostOf(g.Request)
	}
	rc := http.NewResponseController(g.Writer)
	w := bufio.NewWriterSize(g.Writer, 32<<10)
	enc := json.NewEncoder(w)
	started := false
	start := func() {
		started = true
		g.Header("Content-Type", "application/x-ndjson")
		g.Header("Content-Disposition", `attachment; filename="conversations.`+format+`.ndjson"`)
		g.Status(http.StatusOK)
	}
	n := 0
	err := c.export.ExportRange(ctx, mid, from, to, func(conv *session.Conversation, entries []session.RawEntry) error {
		var line any = struct {
			Conversation *session.Conversation `json:"conversation"`
			Messages     []json.RawMessage     `json:"messages"`
		}{conv, rawMessages(entries)}
		if format == "vcon" {
			doc, err := vconOf(conv, entries, shop, host)
			if err != nil {
				return err
			}
			line = doc
		}
		if !started {
			start()
		}
		_ = rc.SetWriteDeadline(time.Now().Add(exportWriteTimeout))
		if err := enc.Encode(line); err != nil {
			return err
		}
		if n++; n%100 == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
			_ = rc.Flush()
		}
		return nil
	})
	if err != nil && !started {
		c.fail(g, err)
		return
	}
	if !started {
		start() // nothing in the range: an empty body
	}
	if err != nil {
		if ctx.Err() == nil {
			c.log.WarnContext(ctx, "bulk export cut short", "merchant", mid, "written", n, "err", err)
		}
		e := session.ErrorOf(err)
		_ = enc.Encode(gin.H{"error": rest.Error{Code: e.Code, Message: e.Message, RequestID: rest.RequestIDOf(ctx)}})
	}
	_ = w.Flush()
	_ = rc.SetWriteDeadline(time.Time{})
}

// exportBound parses one end of a range: an RFC 3339 time, or a date that
// stands for its whole UTC day (the end's day included).
func exportBound(s string, end bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, false
	}
	if end {
		d = d.Add(24 * time.Hour)
	}
	return d, true
}

func vconOf(conv *session.Conversation, entries []session.RawEntry, shop, host string) (vcon.VCon, error) {
	msgs := make([]session.Message, len(entries))
	for i, e := range entries {
		m, err := e.Decode()
		if err != nil {
			return vcon.VCon{}, err
		}
		msgs[i] = m
	}
	return vcon.Build(vcon.Source{Conversation: conv, Messages: msgs, Shop: shop, Domain: host}), nil
}

// hostOf is the name Baton was reached at, without a port: the domain a
// vCon's uuid is derived from.
func hostOf(r *http.Request) string {
	h := r.Host
	if name, _, err := net.SplitHostPort(h); err == nil {
		h = name
	}
	return strings.ToLower(h)
}
