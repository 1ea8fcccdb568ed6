package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// OAuthSignIn is an admin's "Connect with Zendesk" under way: what the
// callback needs to finish it, kept in Redis (sealed: it holds the PKCE
// verifier) under the state parameter, for one use, until it expires.
type OAuthSignIn struct {
	MerchantID string        `json:"merchant_id"`
	Provider   HandoffMethod `json:"provider"`
	// The admin's session that began it: the callback carries no token,
	// so it checks that this session still stands.
	AgentID      string `json:"agent_id"`
	TokenVersion int64  `json:"token_version"`
	TokenID      string `json:"token_id"`
	// Browser is a hash of the value of a cookie set on the admin's
	// browser: only that browser may finish the sign-in.
	Browser     string          `json:"browser"`
	Account     HelpdeskAccount `json:"-"`
	Verifier    string          `json:"verifier"`
	RedirectURI string          `json:"redirect_uri"`
	Created     time.Time       `json:"created"`
}

// signInRecord is what is sealed: the account goes in whole, secret
// included (it is not stored anywhere else until the callback).
type signInRecord struct {
	OAuthSignIn
	Account HelpdeskAccount `json:"account"`
	Secret  string          `json:"secret,omitempty"`
}

func (k keyspace) oauthSignIn(stateHash string) string { return k.prefix + "{oauth}:" + stateHash }

func stateHash(state string) string {
	h := sha256.Sum256([]byte(state))
	return hex.EncodeToString(h[:16])
}

// BeginOAuth keeps a sign-in for ttl and returns its state: a random value
// that names it in the authorization request and the callback.
func (s *Service) BeginOAuth(ctx context.Context, in OAuthSignIn, ttl time.Duration) (string, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	state := base64.RawURLEncoding.EncodeToString(b)
	in.Created = s.now()
	rec := signInRecord{OAuthSignIn: in, Account: in.Account, Secret: in.Account.Secret}
	raw, _ := json.Marshal(rec)
	sealed := s.hdauth.seal.seal(raw, "oauth-sign-in|"+stateHash(state))
	if err := s.rdb.Set(ctx, s.keys.oauthSignIn(stateHash(state)), sealed, ttl).Err(); err != nil {
		return "", err
	}
	return state, nil
}

var errNoSignIn = &Error{Kind: KindNotFound, Code: "oauth_state_unknown",
	Message: "this sign-in is unknown, was already used or took too long (10 minutes); start again"}

// TakeOAuth returns the sign-in a state names and forgets it: a state works
// once.
func (s *Service) TakeOAuth(ctx context.Context, state string) (*OAuthSignIn, error) {
	if state == "" || len(state) > 128 {
		return nil, errNoSignIn
	}
	sealed, err := s.rdb.GetDel(ctx, s.keys.oauthSignIn(stateHash(state))).Result()
	if errors.Is(err, redis.Nil) {
		return nil, errNoSignIn
	}
	if err != nil {
		return nil, err
	}
	raw, ok := s.hdauth.seal.open(sealed, "oauth-sign-in|"+stateHash(state))
	var rec signInRecord
	if !ok || json.Unmarshal(raw, &rec) != nil {
		return nil, errNoSignIn
	}
	out := rec.OAuthSignIn
	out.Account = rec.Account
	out.Account.Secret = rec.Secret
	return &out, nil
}
