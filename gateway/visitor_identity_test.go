package gateway_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// TestVisitorIdentity: only an HS256 identity signed with this merchant's
// identity_secret, with sub and a future exp, authenticates a visitor; any
// other is refused with an error frame and the visitor goes on as a guest
// (asked for an email at handoff).
func TestVisitorIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Identity Shop")
	other := e.shop("Other Identity Shop")
	secret := []byte(s.m.IdentitySecret)
	now := time.Now()
	claims := jwt.MapClaims{"sub": "cust-42", "email": "known@example.com", "exp": now.Add(time.Hour).Unix()}

	cases := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid", signWith(t, jwt.SigningMethodHS256, claims, secret), true},
		{"alg none", signWith(t, jwt.SigningMethodNone, claims, jwt.UnsafeAllowNoneSignatureType), false},
		{"HS512 with the right secret", signWith(t, jwt.SigningMethodHS512, claims, secret), false},
		{"RS256 header, HMAC signature", handMade(map[string]any{"alg": "RS256", "typ": "JWT"}, claims, s.m.IdentitySecret), false},
		{"another merchant's secret", signWith(t, jwt.SigningMethodHS256, claims, []byte(other.m.IdentitySecret)), false},
		{"Baton's own secret", signWith(t, jwt.SigningMethodHS256, claims, []byte(batonSecret)), false},
		{"expired", signWith(t, jwt.SigningMethodHS256, with(claims, "exp", now.Add(-time.Hour).Unix()), secret), false},
		{"no exp", signWith(t, jwt.SigningMethodHS256, with(claims, "exp", nil), secret), false},
		{"no sub", signWith(t, jwt.SigningMethodHS256, with(claims, "sub", nil), secret), false},
		{"blank sub", signWith(t, jwt.SigningMethodHS256, with(claims, "sub", "  "), secret), false},
		{"garbage", "not.a.jwt", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			v := e.visitor(s.m.WidgetKey)
			v.Send(map[string]any{"type": "hello", "identity": tc.token})
			w := v.Expect("welcome")
			convID := w["conversation_id"].(string)
			require.Equal(t, tc.ok, w["authenticated"], "welcome %v", w)
			v.Send(map[string]any{"type": "handoff_request"})
			v.Expect("handoff_offer")
			v.Send(map[string]any{"type": "handoff_reply", "accept": true})
			f := v.Next("email_request or queued", func(f map[string]any) bool {
				return f["type"] == "email_request" || (f["type"] == "status" && f["status"] == "queued")
			})
			body := e.conversation(s, convID)
			visitor := body["conversation"].(map[string]any)["visitor"].(map[string]any)
			if tc.ok {
				require.Equal(t, "queued", f["status"], "an authenticated visitor with an email is not asked again")
				require.Equal(t, true, visitor["authenticated"])
				require.Equal(t, "cust-42", visitor["profile_id"])
				require.Equal(t, "known@example.com", visitor["email"])
				return
			}
			errs := framesOfType(v, "error")
			require.NotEmpty(t, errs, "a refused identity must be said so")
			require.Equal(t, "invalid_identity", errs[0]["code"])
			require.Equal(t, "email_request", f["type"], "a forged identity skipped the email request")
			require.Equal(t, false, visitor["authenticated"])
			require.Nil(t, visitor["profile_id"])
			require.Nil(t, visitor["email"])
		})
	}
}
