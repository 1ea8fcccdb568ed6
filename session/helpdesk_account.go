package session

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// How an integration signs in to its helpdesk (HelpdeskAccount.Auth).
const (
	// AuthAPIToken: basic auth with an email and an API token (Zendesk) or
	// key (Gorgias). Stored as "".
	AuthAPIToken = ""
	// AuthClientCredentials: an OAuth client's id and secret get a token
	// from Zendesk's POST /oauth/tokens (grant_type client_credentials).
	AuthClientCredentials = "client_credentials"
	// AuthCode: an admin signed in to Zendesk in the browser and allowed
	// Baton (authorization code with PKCE).
	AuthCode = "authorization_code"
)

// ZendeskAPITokensEnd is when Zendesk stops accepting API tokens (none can
// be created since 2026-10-27; tokens unused for 30 days are deactivated
// before that).
var ZendeskAPITokensEnd = time.Date(2027, 4, 30, 0, 0, 0, 0, time.UTC)

// OAuthToken is a helpdesk's OAuth token pair. A refresh replaces both:
// Zendesk invalidates the previous access and refresh token.
type OAuthToken struct {
	Access  string    `json:"access"`
	Refresh string    `json:"refresh,omitempty"`
	Scope   string    `json:"scope,omitempty"`
	Issued  time.Time `json:"issued"`
	// Expires is when the access token stops (zero: it does not expire);
	// RefreshExpires the refresh token.
	Expires        time.Time `json:"expires,omitzero"`
	RefreshExpires time.Time `json:"refresh_expires,omitzero"`
}

// renewAt is when a token should be renewed: a minute before it expires,
// or a third of its life for tokens that live only minutes.
func (t *OAuthToken) renewAt() time.Time {
	if t.Expires.IsZero() {
		return time.Time{}
	}
	margin := time.Minute
	if life := t.Expires.Sub(t.Issued); life > 0 && life/3 < margin {
		margin = life / 3
	}
	return t.Expires.Add(-margin)
}

var siteName = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

var clientName = regexp.MustCompile(`^[A-Za-z0-9._~:@/+=-]{1,256}$`)

// OAuth reports whether the account signs in with bearer tokens.
func (a *HelpdeskAccount) OAuth() bool {
	return a.Auth == AuthClientCredentials || a.Auth == AuthCode
}

// normalize trims what an admin typed.
func (a *HelpdeskAccount) normalize() {
	a.Site = strings.ToLower(strings.TrimSpace(a.Site))
	a.Email = strings.TrimSpace(a.Email)
	a.ClientID = strings.TrimSpace(a.ClientID)
	a.Secret = strings.TrimSpace(a.Secret)
	a.BaseURL = strings.TrimRight(strings.TrimSpace(a.BaseURL), "/")
}

// Validate checks an account before it is verified against the helpdesk.
func (a *HelpdeskAccount) Validate(method HandoffMethod) error {
	site := "subdomain"
	secret := "api_token"
	if method == MethodGorgias {
		site, secret = "domain", "api_key"
	}
	if method != MethodZendesk && method != MethodGorgias {
		return newErr(KindInvalid, "invalid_integration", "no integration called %q", method)
	}
	a.normalize()
	if !siteName.MatchString(a.Site) {
		return newErr(KindInvalid, "invalid_integration", "%s must be the account's name, like \"myshop\"", site)
	}
	if a.BaseURL != "" {
		u, err := url.Parse(a.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return newErr(KindInvalid, "invalid_integration", "base_url must be an http(s) address like https://proxy.example/zendesk")
		}
	}
	if len(a.Secret) > 512 || strings.ContainsAny(a.Secret, " \t\r\n") {
		return newErr(KindInvalid, "invalid_integration", "the secret is not one a helpdesk issues (no spaces, at most 512 characters)")
	}
	switch a.Auth {
	case AuthAPIToken:
		if _, ok := ParseEmail(a.Email); !ok {
			return newErr(KindInvalid, "invalid_integration", "email must be the address of the helpdesk user the %s belongs to", secret)
		}
		if a.Secret == "" {
			return newErr(KindInvalid, "invalid_integration", "%s is required", secret)
		}
	case AuthClientCredentials, AuthCode:
		if method != MethodZendesk {
			return newErr(KindInvalid, "invalid_integration", "Gorgias connects with an API key: OAuth is for Zendesk")
		}
		if !clientName.MatchString(a.ClientID) {
			return newErr(KindInvalid, "invalid_integration", "client_id must be the OAuth client's unique identifier, from Zendesk's Admin Center")
		}
		if a.Auth == AuthClientCredentials && a.Secret == "" {
			return newErr(KindInvalid, "invalid_integration", "client_secret is required")
		}
		if a.Email != "" {
			if _, ok := ParseEmail(a.Email); !ok {
				return newErr(KindInvalid, "invalid_integration", "email is not an address")
			}
		}
	default:
		return newErr(KindInvalid, "invalid_integration", "auth must be \"oauth\", or left out for an API token")
	}
	return nil
}

// KeepSecret gives a, which left its secret out, the one prev has: the
// console never sees a secret, so an admin who changes nothing else leaves
// it out. It is kept only for the same helpdesk address, user and client:
// a kept secret is never sent to a new address (422 secret_required).
func (a *HelpdeskAccount) KeepSecret(method HandoffMethod, prev *HelpdeskAccount) error {
	a.normalize()
	if a.Secret != "" || prev == nil {
		return nil
	}
	name := "api_token"
	switch {
	case method == MethodGorgias:
		name = "api_key"
	case a.OAuth():
		name = "client_secret"
	}
	same := a.Auth == prev.Auth && a.Site == prev.Site && a.BaseURL == prev.BaseURL && a.ClientID == prev.ClientID &&
		(a.OAuth() || strings.EqualFold(a.Email, prev.Email))
	switch {
	case prev.Unreadable:
		return newErr(KindRefused, "secret_required", "send the %s again: the one Baton kept can no longer be read", name)
	case !same:
		return newErr(KindRefused, "secret_required",
			"send the %s again: a kept secret is only sent to the address, user and client it was given for", name)
	case prev.Secret == "" && a.Auth != AuthCode:
		return newErr(KindRefused, "secret_required", "send the %s: Baton has none to keep", name)
	}
	a.Secret = prev.Secret
	return nil
}

// BrowserClient picks the OAuth client for "Connect with Zendesk" (a is
// the sign-in's account: the address, and the client the admin named, if
// any): the named client, else the operator's (operator, "" when there is
// none), else the client of prev, the connection the merchant has, when it
// is for the same address. It reports whether a client was found.
func (a *HelpdeskAccount) BrowserClient(operator string, prev *HelpdeskAccount) bool {
	a.normalize()
	switch {
	case a.ClientID != "":
	case operator != "":
		a.ClientID = operator
	case a.savedClientHere(prev):
		a.ClientID = prev.ClientID
	}
	return a.ClientID != ""
}

// SavedSecret gives a the secret prev keeps for a's client when prev is
// that client's connection to a's address (a confidential client's code
// exchange and refreshes need it; a kept secret is never sent to a new
// address). Otherwise a's secret is left as it is.
func (a *HelpdeskAccount) SavedSecret(prev *HelpdeskAccount) {
	a.normalize()
	if a.savedClientHere(prev) && a.ClientID == prev.ClientID {
		a.Secret = prev.Secret
	}
}

// savedClientHere reports whether prev is an OAuth connection, with a
// secret Baton can read, to the address a names.
func (a *HelpdeskAccount) savedClientHere(prev *HelpdeskAccount) bool {
	return prev != nil && prev.OAuth() && prev.ClientID != "" && !prev.Unreadable &&
		a.Site == prev.Site && a.BaseURL == prev.BaseURL
}

// MaskedSecret shows enough of a secret to recognise it, never the secret:
// its last four characters when it is long enough for that to give nothing
// away.
func (a *HelpdeskAccount) MaskedSecret() string {
	if a.Secret == "" {
		return "********" + a.SecretHint
	}
	if len(a.Secret) < 16 {
		return "********"
	}
	return "********" + a.Secret[len(a.Secret)-4:]
}

// place names what an account's sealed values belong to: the merchant,
// the helpdesk and everything that says where its secrets may be sent (for
// an API token, the user too; an OAuth connection learns its user from the
// helpdesk). A sealed value does not open for another place.
func (a *HelpdeskAccount) place(merchantID string, method HandoffMethod) string {
	email := strings.ToLower(a.Email)
	if a.OAuth() {
		email = ""
	}
	h := sha256.Sum256([]byte(strings.Join([]string{a.Auth, a.Site, a.BaseURL, a.ClientID, email}, "\x00")))
	return merchantID + "|" + string(method) + "|" + hex.EncodeToString(h[:12])
}

// secretPlace is where the account's secret is sealed.
func (a *HelpdeskAccount) secretPlace(merchantID string, method HandoffMethod) string {
	return a.place(merchantID, method) + "|secret"
}
