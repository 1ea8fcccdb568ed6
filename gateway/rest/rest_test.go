package rest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

func TestStatusOfEveryKind(t *testing.T) {
	for k, want := range map[session.Kind]int{
		session.KindInternal: 500, session.KindInvalid: 400, session.KindUnauthorized: 401, session.KindForbidden: 403,
		session.KindNotFound: 404, session.KindConflict: 409, session.KindTooLarge: 413, session.KindRefused: 422,
		session.KindRateLimited: 429, session.KindUnavailable: 503,
	} {
		require.Equal(t, want, Status(k), "kind %d", k)
	}
}

func TestSameOrigin(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://chat.example:8080/v1/widget/ws", nil)
	for origin, want := range map[string]bool{
		"http://chat.example:8080":  true,
		"https://CHAT.example:8080": true, // the host decides; the scheme is the proxy's business
		"http://chat.example":       false,
		"http://evil.example:8080":  false,
		"":                          false,
		"null":                      false,
		"::":                        false,
	} {
		require.Equal(t, want, SameOrigin(r, origin), "origin %q", origin)
	}
}
