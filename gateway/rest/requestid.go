package rest

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// HeaderRequestID carries a request's id back to the client, on every
// answer and on a socket's upgrade, so a merchant reporting a problem can
// quote it and an operator find every log line about it.
const HeaderRequestID = "X-Request-Id"

type ridKey struct{}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ridKey{}, id)
}

// RequestIDOf is the id ctx carries, "" if none.
func RequestIDOf(ctx context.Context) string {
	id, _ := ctx.Value(ridKey{}).(string)
	return id
}

var ridEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewRequestID is a fresh id: 80 random bits, short enough to read out.
func NewRequestID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "req_" + strings.ToLower(ridEncoding.EncodeToString(b[:]))
}

// RequestIDs gives every request its own id, in its context (so every log
// line written with that context names it), in the X-Request-Id header and
// in refusals' bodies; it logs how each request ended, at a level that
// grows with its status. An id sent by the client is never taken as ours,
// which would let anyone file their requests under another's id; a
// well-formed one is logged beside it, to follow a request through proxies.
func RequestIDs(log *slog.Logger) gin.HandlerFunc {
	return func(g *gin.Context) {
		id := NewRequestID()
		ctx := WithRequestID(g.Request.Context(), id)
		g.Request = g.Request.WithContext(ctx)
		g.Header(HeaderRequestID, id)
		start := time.Now()
		g.Next()
		status := g.Writer.Status()
		level := slog.LevelDebug
		switch {
		case status >= 500:
			level = slog.LevelWarn
		case status >= 400:
			level = slog.LevelInfo
		}
		if !log.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{slog.String("method", g.Request.Method), slog.String("route", g.FullPath()),
			slog.Int("status", status), slog.Duration("took", time.Since(start))}
		if up := g.Request.Header.Get(HeaderRequestID); wellFormedID(up) {
			attrs = append(attrs, slog.String("upstream_request_id", up))
		}
		log.LogAttrs(ctx, level, "request", attrs...)
	}
}

// wellFormedID bounds what of a client's header reaches the logs.
func wellFormedID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// LogHandler adds the request id of a record's context to the record, so
// code that logs with a request's context (slog's *Context methods) names
// the request without passing its id around.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(ridHandler); ok {
		return h
	}
	return ridHandler{h}
}

type ridHandler struct{ slog.Handler }

func (h ridHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDOf(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ridHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ridHandler{h.Handler.WithAttrs(attrs)}
}

func (h ridHandler) WithGroup(name string) slog.Handler { return ridHandler{h.Handler.WithGroup(name)} }

// requestIDOf is the id of the request g serves, if RequestIDs ran.
func requestIDOf(g *gin.Context) string {
	if g == nil || g.Request == nil {
		return ""
	}
	return RequestIDOf(g.Request.Context())
}
