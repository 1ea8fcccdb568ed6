// Package rest holds the conventions every HTTP route of Baton shares, so
// the adapters (gateway, agentconsole), which never import each other, answer
// alike: the contract's error body, the one table from the session core's
// error kinds to HTTP statuses, and the same-origin rule.
package rest

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"

	"github.com/batonchat/baton/session"
)

// Error is the body of every refusal: {"error": {"code", "message",
// "request_id"}}.
type Error struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// Fail answers a refusal and stops the handler chain.
func Fail(g *gin.Context, status int, code, message string) {
	g.AbortWithStatusJSON(status, gin.H{"error": Error{Code: code, Message: message, RequestID: requestIDOf(g)}})
}

// Status is the HTTP status for a session error kind.
func Status(k session.Kind) int {
	switch k {
	case session.KindInvalid:
		return http.StatusBadRequest
	case session.KindUnauthorized:
		return http.StatusUnauthorized
	case session.KindForbidden:
		return http.StatusForbidden
	case session.KindNotFound:
		return http.StatusNotFound
	case session.KindConflict:
		return http.StatusConflict
	case session.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case session.KindRefused:
		return http.StatusUnprocessableEntity
	case session.KindRateLimited:
		return http.StatusTooManyRequests
	case session.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// SameOrigin reports whether origin (an Origin header) is the host this
// request was sent to: Baton's own pages.
func SameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// RequireUpgrade refuses, with the contract's error body, a request to a
// socket route that is not a WebSocket handshake (the upgrader's own
// refusal is plain text).
func RequireUpgrade(g *gin.Context) bool {
	if websocket.IsWebSocketUpgrade(g.Request) {
		return true
	}
	g.Header("Upgrade", "websocket")
	Fail(g, http.StatusUpgradeRequired, "websocket_required", "this route is a WebSocket: send an upgrade request")
	return false
}
