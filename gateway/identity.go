package gateway

import (
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/batonchat/baton/session"
)

// identityClaims are what a shop signs for a signed-in visitor.
type identityClaims struct {
	Email string `json:"email"`
	jwt.RegisteredClaims
}

// verifyIdentity checks a visitor identity token: HS256 only, signed with
// the merchant's identity secret (or, until its grace period ends, the one
// it replaced), with an expiry in the future.
func verifyIdentity(m *session.Merchant, token string, now time.Time) (session.VisitorInfo, error) {
	if m.IdentitySecret == "" {
		return session.VisitorInfo{}, errors.New("merchant has no identity secret")
	}
	c, err := parseIdentity(token, m.IdentitySecret, now)
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) && m.PreviousIdentitySecret != "" && now.Before(m.PreviousSecretUntil) {
		c, err = parseIdentity(token, m.PreviousIdentitySecret, now)
	}
	if err != nil {
		return session.VisitorInfo{}, err
	}
	sub := strings.TrimSpace(c.Subject)
	if sub == "" || len(sub) > 256 {
		return session.VisitorInfo{}, errors.New("identity token has no usable sub")
	}
	// An address the shop vouches for but that is malformed is dropped: the
	// visitor is then asked for one at handoff.
	email, _ := session.ParseEmail(strings.TrimSpace(c.Email))
	return session.VisitorInfo{ProfileID: sub, Email: email, Authenticated: true}, nil
}

func parseIdentity(token, secret string, now time.Time) (identityClaims, error) {
	var c identityClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(30*time.Second),
	)
	return c, err
}
