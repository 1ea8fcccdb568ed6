package gateway_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// TestWidgetUpgradeChecks: the visitor socket's upgrade is 404 for an
// unknown key and 403 for an Origin the merchant does not allow; a merchant
// with no allowed origins allows any; Baton's own origin always passes.
func TestWidgetUpgradeChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	strict := e.shop("Strict Shop", "https://shop.example", "http://localhost:3000")
	open := e.shop("Open Shop")
	own := e.srv.URL // http://127.0.0.1:PORT

	cases := []struct {
		name   string
		path   string
		origin string
		want   int
	}{
		{"unknown key", "/v1/widget/ws?key=wk_nope", "", 404},
		{"unknown key from an allowed origin", "/v1/widget/ws?key=wk_nope", "https://shop.example", 404},
		{"empty key", "/v1/widget/ws?key=", "", 404},
		{"no key", "/v1/widget/ws", "", 404},
		{"key with braces", "/v1/widget/ws?key=%7Bm:x%7D", "", 404},
		{"very long key", "/v1/widget/ws?key=" + repeat("k", 4000), "", 404},

		{"strict: wrong origin", "/v1/widget/ws?key=" + strict.m.WidgetKey, "https://evil.example", 403},
		{"strict: missing origin", "/v1/widget/ws?key=" + strict.m.WidgetKey, "", 403},
		{"strict: origin null", "/v1/widget/ws?key=" + strict.m.WidgetKey, "null", 403},
		{"strict: other scheme", "/v1/widget/ws?key=" + strict.m.WidgetKey, "http://shop.example", 403},
		{"strict: other port", "/v1/widget/ws?key=" + strict.m.WidgetKey, "https://shop.example:8443", 403},
		{"strict: suffix of an allowed host", "/v1/widget/ws?key=" + strict.m.WidgetKey, "https://shop.example.evil.example", 403},
		{"strict: allowed host as subdomain", "/v1/widget/ws?key=" + strict.m.WidgetKey, "https://evil-shop.example", 403},
		{"strict: allowed", "/v1/widget/ws?key=" + strict.m.WidgetKey, "https://shop.example", 101},
		{"strict: allowed, other case and default port", "/v1/widget/ws?key=" + strict.m.WidgetKey, "https://SHOP.Example:443", 101},
		{"strict: second allowed", "/v1/widget/ws?key=" + strict.m.WidgetKey, "http://localhost:3000", 101},
		{"strict: Baton's own origin", "/v1/widget/ws?key=" + strict.m.WidgetKey, own, 101},

		{"open: any origin", "/v1/widget/ws?key=" + open.m.WidgetKey, "https://anything.example", 101},
		{"open: missing origin", "/v1/widget/ws?key=" + open.m.WidgetKey, "", 101},
		{"open: origin null", "/v1/widget/ws?key=" + open.m.WidgetKey, "null", 101},
		{"open: Baton's own origin", "/v1/widget/ws?key=" + open.m.WidgetKey, own, 101},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			code, raw := e.dialStatus(tc.path, originHeader(tc.origin))
			require.Equal(t, tc.want, code, "body %s", raw)
			if code != 101 {
				requireAPIError(t, raw)
			}
		})
	}
}

// TestWidgetUpgradeFollowsSettings: allowed origins changed by an admin
// apply to the next upgrade, and an upgraded socket really works.
func TestWidgetUpgradeFollowsSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Changing Shop")
	path := "/v1/widget/ws?key=" + s.m.WidgetKey
	code, _ := e.dialStatus(path, originHeader("https://a.example"))
	require.Equal(t, 101, code)

	e.settings(s, func(set *session.Settings) { set.AllowedOrigins = []string{"https://b.example"} })
	code, _ = e.dialStatus(path, originHeader("https://a.example"))
	require.Equal(t, 403, code, "a removed origin still upgrades")
	code, _ = e.dialStatus(path, originHeader(""))
	require.Equal(t, 403, code)

	c, res, err := e.dial(path, originHeader("https://b.example"))
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	w := hello(c)
	say(c, "o1", "hello")
	require.NotEmpty(t, w["conversation_id"])

	e.settings(s, func(set *session.Settings) { set.AllowedOrigins = []string{} })
	code, _ = e.dialStatus(path, originHeader("https://a.example"))
	require.Equal(t, 101, code, "no origins listed: any origin")
}
