package agentconsole

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/batonchat/baton/session"
)

// Token settings: pinned to HS256 and checked for issuer, audience and
// expiry on every use; each use is also checked against the account as it
// is now (session.Service.Authorize), so a token dies with its session.
const (
	tokenIssuer   = "baton"
	tokenAudience = "baton-console"
	tokenTTL      = 12 * time.Hour
)

// Tokens issues and verifies agent tokens signed with BATON_SECRET. While
// the secret rotates, tokens signed with the previous one
// (BATON_SECRET_PREVIOUS) still verify; each token names its key's id
// (kid) so the right one is tried.
type Tokens struct {
	keys []tokenKey // the current first
	now  func() time.Time
}

type tokenKey struct {
	id     string
	secret []byte
}

// keyID names a secret without giving anything of it away.
func keyID(secret []byte) string {
	h := sha256.Sum256(append([]byte("baton-token-key:"), secret...))
	return hex.EncodeToString(h[:6])
}

// NewTokens returns token handling for secret and, optionally, the
// previous secrets that still verify. now may be nil.
func NewTokens(secret []byte, now func() time.Time, previous ...[]byte) *Tokens {
	if now == nil {
		now = time.Now
	}
	t := &Tokens{now: now, keys: []tokenKey{{id: keyID(secret), secret: secret}}}
	for _, p := range previous {
		if len(p) > 0 {
			t.keys = append(t.keys, tokenKey{id: keyID(p), secret: p})
		}
	}
	return t
}

type agentClaims struct {
	Merchant string `json:"mid"`
	Role     string `json:"role"`
	Name     string `json:"name"`
	Version  int64  `json:"tv"` // the account's token version at issue
	jwt.RegisteredClaims
}

// Verified is a token that checked out: who it speaks for, and the session
// it belongs to.
type Verified struct {
	Actor   session.Actor
	Version int64  // the account's token version when issued
	ID      string // the token's own id (jti)
}

// Issue signs a token for agent a at token version tv.
func (t *Tokens) Issue(a *session.Agent, tv int64) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(tokenTTL)
	claims := agentClaims{
		Merchant: a.MerchantID, Role: a.Role, Name: a.Name, Version: tv,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: tokenIssuer, Audience: jwt.ClaimStrings{tokenAudience}, Subject: a.ID, ID: newTokenID(),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = t.keys[0].id
	s, err := tok.SignedString(t.keys[0].secret)
	return s, exp, err
}

var errUnknownKey = errors.New("token signed with an unknown key")

// Verify checks a token's signature and claims. Whether its session still
// stands is the core's to say.
func (t *Tokens) Verify(token string) (Verified, error) {
	var c agentClaims
	_, err := jwt.ParseWithClaims(token, &c, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		for _, k := range t.keys {
			if kid == k.id {
				return k.secret, nil
			}
		}
		if kid == "" {
			return t.keys[0].secret, nil // issued before tokens named their key
		}
		return nil, errUnknownKey
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithAudience(tokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.now),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return Verified{}, err
	}
	if c.Subject == "" || c.Merchant == "" {
		return Verified{}, errors.New("token names no agent")
	}
	return Verified{Actor: session.Actor{ID: c.Subject, MerchantID: c.Merchant, Name: c.Name, Admin: c.Role == session.RoleNameAdmin},
		Version: c.Version, ID: c.ID}, nil
}

func newTokenID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
