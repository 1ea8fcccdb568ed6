package agentconsole

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/batonchat/baton/session"
)

// Token settings: pinned to HS256 and checked for issuer, audience and
// expiry on every use.
const (
	tokenIssuer   = "baton"
	tokenAudience = "baton-console"
	tokenTTL      = 12 * time.Hour
)

// Tokens issues and verifies agent tokens signed with BATON_SECRET.
type Tokens struct {
	secret []byte
	now    func() time.Time
}

// NewTokens returns token handling for secret. now may be nil.
func NewTokens(secret []byte, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{secret: secret, now: now}
}

type agentClaims struct {
	Merchant string `json:"mid"`
	Role     string `json:"role"`
	Name     string `json:"name"`
	jwt.RegisteredClaims
}

// Issue signs a token for agent a.
func (t *Tokens) Issue(a *session.Agent) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(tokenTTL)
	claims := agentClaims{
		Merchant: a.MerchantID, Role: a.Role, Name: a.Name,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: tokenIssuer, Audience: jwt.ClaimStrings{tokenAudience}, Subject: a.ID,
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	return s, exp, err
}

// Verify checks a token and returns who it speaks for.
func (t *Tokens) Verify(token string) (session.Actor, error) {
	var c agentClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithAudience(tokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.now),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return session.Actor{}, err
	}
	if c.Subject == "" || c.Merchant == "" {
		return session.Actor{}, errors.New("token names no agent")
	}
	return session.Actor{ID: c.Subject, MerchantID: c.Merchant, Name: c.Name, Admin: c.Role == session.RoleNameAdmin}, nil
}
