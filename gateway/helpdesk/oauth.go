package helpdesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/batonchat/baton/session"
)

// Zendesk OAuth: Baton is a confidential client (or a public one, with
// PKCE) of the merchant's Zendesk. Every grant is a JSON POST to
// {base}/oauth/tokens ("OAuth Tokens for Grant Types"):
//
//   - client_credentials: the client's id and secret get a token pair;
//   - authorization_code: the code an admin's browser brought back, with
//     the PKCE code_verifier and the same redirect_uri;
//   - refresh_token: a new pair for the refresh token. Zendesk then
//     invalidates the previous access and refresh token, which is why the
//     session core makes exactly one refresh per pair (session/helpdesk_auth.go).
//
// The answer is {access_token, refresh_token, token_type: "bearer", scope,
// expires_in, refresh_token_expires_in}; a refusal {error, error_description}.

// ZendeskScope is what Baton asks for: it reads the user it acts as and
// looks tickets up, and writes tickets.
const ZendeskScope = "read write"

// tokenAnswer is the token endpoint's answer.
type tokenAnswer struct {
	AccessToken           string  `json:"access_token"`
	RefreshToken          string  `json:"refresh_token"`
	TokenType             string  `json:"token_type"`
	Scope                 string  `json:"scope"`
	ExpiresIn             flexInt `json:"expires_in"`
	RefreshTokenExpiresIn flexInt `json:"refresh_token_expires_in"`
}

// flexInt reads a number of seconds sent as a number, a string or null.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return err
	}
	*f = flexInt(n)
	return nil
}

// grantRefusals are token endpoint errors that retrying cannot fix.
var grantRefusals = map[string]bool{"invalid_grant": true, "invalid_client": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "access_denied": true, "invalid_request": true}

// clientSecret is the secret to send for an account's client: its own,
// or the operator's for the operator's client.
func (c *Client) clientSecret(acc session.HelpdeskAccount) string {
	if acc.Secret != "" {
		return acc.Secret
	}
	if c.opts.Zendesk.ID != "" && acc.ClientID == c.opts.Zendesk.ID {
		return c.opts.Zendesk.Secret
	}
	return ""
}

// grant asks Zendesk's token endpoint for a token pair. A refusal that
// retrying cannot fix is a *session.GrantError.
func (c *Client) grant(ctx context.Context, acc session.HelpdeskAccount, params map[string]string) (session.OAuthToken, error) {
	base, err := c.baseFor(acc, ".zendesk.com")
	if err != nil {
		return session.OAuthToken{}, err
	}
	body := map[string]string{"client_id": acc.ClientID}
	if secret := c.clientSecret(acc); secret != "" {
		body["client_secret"] = secret
	}
	for k, v := range params {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	a, err := c.call(ctx, http.MethodPost, base+"/oauth/tokens", credentials{}, nil, b)
	if err != nil {
		var ce *callError
		if errors.As(err, &ce) {
			err = ce.err
		}
		return session.OAuthToken{}, fmt.Errorf("Zendesk's token endpoint did not answer: %w", err)
	}
	if a.status != http.StatusOK && a.status != http.StatusCreated {
		reason := fmt.Sprintf("Zendesk refused the %s grant (%d): %s", params["grant_type"], a.status, reasonOf(a))
		var v struct {
			Error any `json:"error"`
		}
		_ = json.Unmarshal(a.body, &v)
		code, _ := v.Error.(string)
		if grantRefusals[code] || a.status == http.StatusUnauthorized || a.status == http.StatusForbidden {
			return session.OAuthToken{}, &session.GrantError{Reason: reason}
		}
		return session.OAuthToken{}, errors.New(reason)
	}
	var t tokenAnswer
	if json.Unmarshal(a.body, &t) != nil || t.AccessToken == "" {
		return session.OAuthToken{}, errors.New("Zendesk's token endpoint answered without an access_token (check base_url)")
	}
	if t.TokenType != "" && !strings.EqualFold(t.TokenType, "bearer") {
		return session.OAuthToken{}, &session.GrantError{Reason: "Zendesk issued a " + strconv.Quote(t.TokenType) + " token; Baton uses bearer tokens"}
	}
	now := c.now()
	tok := session.OAuthToken{Access: t.AccessToken, Refresh: t.RefreshToken, Scope: t.Scope, Issued: now}
	if t.ExpiresIn > 0 {
		tok.Expires = now.Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	if t.RefreshTokenExpiresIn > 0 {
		tok.RefreshExpires = now.Add(time.Duration(t.RefreshTokenExpiresIn) * time.Second)
	}
	return tok, nil
}

// RenewToken implements session.TokenRenewer: the refresh token grant
// while the refresh token lives; for a client-credentials connection, a
// new pair from the client's credentials when it does not.
func (c *Client) RenewToken(ctx context.Context, method session.HandoffMethod, acc session.HelpdeskAccount, cur session.OAuthToken) (session.OAuthToken, error) {
	if method != session.MethodZendesk || !acc.OAuth() {
		return session.OAuthToken{}, &session.GrantError{Reason: string(method) + " does not use OAuth tokens here"}
	}
	if cur.Refresh != "" && (cur.RefreshExpires.IsZero() || c.now().Before(cur.RefreshExpires)) {
		tok, err := c.grant(ctx, acc, map[string]string{"grant_type": "refresh_token", "refresh_token": cur.Refresh})
		var ge *session.GrantError
		if err == nil || !errors.As(err, &ge) || acc.Auth != session.AuthClientCredentials {
			return tok, err
		}
		// The family was revoked, but the client's own credentials can
		// start another.
	}
	if acc.Auth == session.AuthClientCredentials {
		return c.grant(ctx, acc, map[string]string{"grant_type": "client_credentials", "scope": ZendeskScope})
	}
	return session.OAuthToken{}, &session.GrantError{Reason: "the Zendesk refresh token expired"}
}

// AuthorizationURL is where an admin's browser goes to allow Baton in
// Zendesk: the authorization code flow with PKCE (S256).
func (c *Client) AuthorizationURL(acc session.HelpdeskAccount, redirectURI, state, challenge string) (string, error) {
	base, err := c.baseFor(acc, ".zendesk.com")
	if err != nil {
		return "", err
	}
	q := url.Values{"response_type": {"code"}, "client_id": {acc.ClientID}, "redirect_uri": {redirectURI},
		"scope": {ZendeskScope}, "state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	return base + "/oauth/authorizations/new?" + q.Encode(), nil
}

// ExchangeCode trades the code an admin's browser brought back (with the
// PKCE verifier and the redirect_uri of the request) for the account's
// first token pair.
func (c *Client) ExchangeCode(ctx context.Context, acc session.HelpdeskAccount, code, verifier, redirectURI string) (session.HelpdeskAccount, error) {
	tok, err := c.grant(ctx, acc, map[string]string{"grant_type": "authorization_code", "code": code,
		"redirect_uri": redirectURI, "code_verifier": verifier, "scope": ZendeskScope})
	var ge *session.GrantError
	switch {
	case errors.As(err, &ge):
		return acc, refused("Zendesk", ge.Reason)
	case err != nil:
		var se *session.Error
		if errors.As(err, &se) {
			return acc, err // an address the operator does not allow
		}
		return acc, unreachable("Zendesk", err)
	}
	acc.Token = &tok
	return acc, nil
}

// OperatorClient is the operator's Zendesk OAuth client's id ("" when none
// is configured).
func (c *Client) OperatorClient() string { return c.opts.Zendesk.ID }
