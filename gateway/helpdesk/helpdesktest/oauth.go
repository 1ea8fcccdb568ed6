package helpdesktest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/batonchat/baton/session"
)

// Zendesk's OAuth, as the fake plays it ("OAuth Tokens for Grant Types",
// "Working with OAuth refresh tokens", "Using PKCE"):
//
//   - GET /oauth/authorizations/new (response_type=code, client_id,
//     redirect_uri, scope, state, code_challenge, code_challenge_method
//     S256) shows a page with Allow and Deny; POST /oauth/authorizations
//     (what those buttons send) redirects to redirect_uri with code and
//     state, or error=access_denied. A code works once, for 120 seconds;
//   - POST /oauth/tokens with a JSON body: grant_type client_credentials
//     (a confidential client's id and secret), authorization_code (the
//     code, the same client_id and redirect_uri, and the code_verifier
//     whose S256 is the challenge), or refresh_token. Every grant answers
//     {access_token, refresh_token, token_type "bearer", scope, expires_in,
//     refresh_token_expires_in}. A refresh replaces the pair: the previous
//     access and refresh token stop working at once. Refusals are 400
//     {"error": "invalid_grant", "error_description"} or 401
//     invalid_client;
//   - the API accepts "Authorization: Bearer" with a live access token and
//     answers 401 invalid_token otherwise.
//
// It counts what the tests must prove: how often each refresh token was
// presented (a pair refreshed twice is a problem), and every grant made.

type oauthClient struct {
	secret   string // "" for a public client: PKCE, no secret
	disabled bool
}

type authCode struct {
	client, redirect, challenge, scope string
	expires                            time.Time
	used                               bool
}

type pair struct {
	family  int
	access  string
	refresh string
	expires time.Time // the access token's
	rexp    time.Time // the refresh token's
}

// Grant is one request the token endpoint answered.
type Grant struct {
	At        time.Time
	GrantType string
	ClientID  string
	Refresh   string // the refresh token presented
	// Access and NewRefresh are the pair issued, when one was.
	Access     string
	NewRefresh string
	Agent      string // the caller's User-Agent: the node
	Status     int
	Error      string
}

// TokenFault is what the token endpoint does with one request.
type TokenFault struct {
	// Then is called first, with the request: a test's chance to kill
	// the node that sent it.
	Then func(r *http.Request)
	// Drop closes the connection without processing the request: the
	// grant is not made.
	Drop bool
	// Status answers with this status (and error Code) without
	// processing the request.
	Status int
	Code   string
}

// TokenPlan picks the fault for the n-th token request (from 0).
type TokenPlan func(r *http.Request, grantType string, n int) TokenFault

type oauthFake struct {
	mu         sync.Mutex
	clients    map[string]*oauthClient
	codes      map[string]*authCode
	byAccess   map[string]*pair
	byRefresh  map[string]*pair
	presented  map[string]int // refresh token -> times presented
	revoked    map[int]bool   // families
	families   int
	accessTTL  time.Duration
	refreshTTL time.Duration
	grants     []Grant
	plan       TokenPlan
	requests   int
	redirects  []string // redirect_uris authorization requests named
}

func newOAuthFake() *oauthFake {
	return &oauthFake{clients: map[string]*oauthClient{}, codes: map[string]*authCode{}, byAccess: map[string]*pair{},
		byRefresh: map[string]*pair{}, presented: map[string]int{}, revoked: map[int]bool{},
		accessTTL: 30 * time.Minute, refreshTTL: 30 * 24 * time.Hour}
}

// AddClient registers an OAuth client: a confidential one with a secret,
// a public one (PKCE only) without.
func (z *Zendesk) AddClient(id, secret string) {
	z.oauth.mu.Lock()
	defer z.oauth.mu.Unlock()
	z.oauth.clients[id] = &oauthClient{secret: secret}
}

// DisableClient makes a client's grants fail with invalid_client.
func (z *Zendesk) DisableClient(id string) {
	z.oauth.mu.Lock()
	defer z.oauth.mu.Unlock()
	if c := z.oauth.clients[id]; c != nil {
		c.disabled = true
	}
}

// SetTokenTTL sets how long the tokens of later grants live (30 minutes
// and 30 days, Zendesk's defaults).
func (z *Zendesk) SetTokenTTL(access, refresh time.Duration) {
	z.oauth.mu.Lock()
	defer z.oauth.mu.Unlock()
	z.oauth.accessTTL, z.oauth.refreshTTL = access, refresh
}

// SetTokenPlan decides the token endpoint's faults from now on.
func (z *Zendesk) SetTokenPlan(p TokenPlan) {
	z.oauth.mu.Lock()
	defer z.oauth.mu.Unlock()
	z.oauth.plan = p
}

// RevokeAll revokes every token family: no access or refresh token issued
// so far works any more (an admin removed Baton's access in Zendesk).
func (z *Zendesk) RevokeAll() {
	z.oauth.mu.Lock()
	defer z.oauth.mu.Unlock()
	for f := 1; f <= z.oauth.families; f++ {
		z.oauth.revoked[f] = true
	}
}

// ExpireAccessTokens ends every access token issued so far, as time
// would; their refresh tokens still work.
func (z *Zendesk) ExpireAccessTokens() {
	z.oauth.mu.Lock()
	defer z.oauth.mu.Unlock()
	for _, p := range z.oauth.byAccess {
		p.expires = time.Now()
	}
}

// Grants returns every request the token endpoint received, in order
// (Status 0: dropped unprocessed).
func (z *Zendesk) Grants() []Grant {
	z.oauth.mu.Lock()
	defer z.oauth.mu.Unlock()
	return append([]Grant(nil), z.oauth.grants...)
}

// RefreshesPerPair counts, for each refresh token presented, how often it
// was: a pair refreshed more than once broke the integration.
func (z *Zendesk) RefreshesPerPair() map[string]int {
	z.oauth.mu.Lock()
	defer z.oauth.mu.Unlock()
	out := make(map[string]int, len(z.oauth.presented))
	for k, v := range z.oauth.presented {
		out[k] = v
	}
	return out
}

// RedirectURIs lists the redirect_uri of every authorization request.
func (z *Zendesk) RedirectURIs() []string {
	z.oauth.mu.Lock()
	defer z.oauth.mu.Unlock()
	return append([]string(nil), z.oauth.redirects...)
}

// OAuthAccount is a client-credentials integration for this fake.
func (z *Zendesk) OAuthAccount(clientID, secret string) session.HelpdeskAccount {
	return session.HelpdeskAccount{Site: "fakeshop", Auth: session.AuthClientCredentials, ClientID: clientID, Secret: secret, BaseURL: z.URL()}
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// bearerUser reports whether r carries a live access token.
func (z *Zendesk) bearerUser(r *http.Request) (present, ok bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return false, false
	}
	o := z.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.byAccess[tok]
	return true, p != nil && !o.revoked[p.family] && time.Now().Before(p.expires)
}

// issue makes a pair in family f (a new family when f is 0). Lock held.
func (o *oauthFake) issue(f int) *pair {
	if f == 0 {
		o.families++
		f = o.families
	}
	now := time.Now()
	p := &pair{family: f, access: randomToken(16), refresh: randomToken(16), expires: now.Add(o.accessTTL), rexp: now.Add(o.refreshTTL)}
	o.byAccess[p.access] = p
	o.byRefresh[p.refresh] = p
	return p
}

func (o *oauthFake) answer(p *pair, scope string) map[string]any {
	return map[string]any{"access_token": p.access, "refresh_token": p.refresh, "token_type": "bearer", "scope": scope,
		"expires_in": int(o.accessTTL.Seconds()), "refresh_token_expires_in": int(o.refreshTTL.Seconds())}
}

// token serves POST /oauth/tokens.
func (z *Zendesk) token(w http.ResponseWriter, r *http.Request) {
	i := z.arrived(r, "", "")
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var in map[string]any
	str := func(k string) string { s, _ := in[k].(string); return s }
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || json.Unmarshal(raw, &in) != nil {
		z.problem("POST /oauth/tokens: the body is not JSON")
		writeJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "The request body must be JSON"})
		z.answered(i, 400)
		return
	}
	o := z.oauth
	o.mu.Lock()
	n := o.requests
	o.requests++
	plan := o.plan
	o.mu.Unlock()
	g := Grant{At: time.Now(), GrantType: str("grant_type"), ClientID: str("client_id"), Refresh: str("refresh_token"), Agent: r.UserAgent()}
	var f TokenFault
	if plan != nil {
		f = plan(r, g.GrantType, n)
	}
	if f.Then != nil {
		f.Then(r)
	}
	if f.Drop {
		g.Error = "dropped unprocessed"
		o.mu.Lock()
		o.grants = append(o.grants, g)
		o.mu.Unlock()
		z.drop(w, i)
		return
	}
	status, body := 200, map[string]any(nil)
	if f.Status != 0 {
		status, body = f.Status, map[string]any{"error": f.Code, "error_description": "fake failure"}
	} else {
		status, body = z.grant(in, str)
	}
	g.Status = status
	if e, ok := body["error"].(string); ok {
		g.Error = e
	}
	g.Access, _ = body["access_token"].(string)
	g.NewRefresh, _ = body["refresh_token"].(string)
	o.mu.Lock()
	o.grants = append(o.grants, g)
	o.mu.Unlock()
	writeJSON(w, status, body)
	z.answered(i, status)
}

func invalidGrant(why string) (int, map[string]any) {
	return 400, map[string]any{"error": "invalid_grant", "error_description": why}
}

// grant makes the grant a token request asks for.
func (z *Zendesk) grant(in map[string]any, str func(string) string) (int, map[string]any) {
	o := z.oauth
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.clients[str("client_id")]
	if c == nil || c.disabled || (c.secret != "" && subtle.ConstantTimeCompare([]byte(c.secret), []byte(str("client_secret"))) != 1) {
		return 401, map[string]any{"error": "invalid_client", "error_description": "Client authentication failed"}
	}
	scope := str("scope")
	if scope == "" {
		scope = "read write"
	}
	switch str("grant_type") {
	case "client_credentials":
		if c.secret == "" {
			return 400, map[string]any{"error": "unauthorized_client", "error_description": "A public client cannot use client credentials"}
		}
		return 200, o.answer(o.issue(0), scope)
	case "authorization_code":
		code := o.codes[str("code")]
		switch {
		case code == nil || code.used || time.Now().After(code.expires):
			return invalidGrant("The authorization code is invalid, expired or was already used")
		case code.client != str("client_id"):
			return invalidGrant("The authorization code was issued to another client")
		case code.redirect != str("redirect_uri"):
			return invalidGrant("redirect_uri does not match the authorization request")
		case code.challenge != "" && s256(str("code_verifier")) != code.challenge:
			code.used = true
			return invalidGrant("code_verifier does not match the code_challenge")
		case code.challenge == "" && c.secret == "":
			return invalidGrant("a public client must use PKCE")
		}
		code.used = true
		return 200, o.answer(o.issue(0), code.scope)
	case "refresh_token":
		rt := str("refresh_token")
		o.presented[rt]++
		if o.presented[rt] > 1 {
			z.problem("refresh token %s… presented %d times: the pair was refreshed twice", rt[:min(8, len(rt))], o.presented[rt])
		}
		p := o.byRefresh[rt]
		switch {
		case p == nil:
			return invalidGrant("The refresh token is invalid, expired or revoked")
		case o.revoked[p.family]:
			return invalidGrant("The refresh token was revoked")
		case time.Now().After(p.rexp):
			return invalidGrant("The refresh token expired")
		}
		// The previous access and refresh token stop at once.
		delete(o.byRefresh, p.refresh)
		delete(o.byAccess, p.access)
		return 200, o.answer(o.issue(p.family), scope)
	}
	return 400, map[string]any{"error": "unsupported_grant_type", "error_description": "grant_type must be authorization_code, refresh_token or client_credentials"}
}

func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

var authorizePage = template.Must(template.New("authorize").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Allow access to your Zendesk</title></head>
<body><main>
<h1>Allow access?</h1>
<p id="ask">The app <b>{{.Client}}</b> asks for access to your Zendesk account ({{.Scope}}).</p>
<form method="post" action="/oauth/authorizations">
{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></main></body></html>`))

// authorizeNew serves GET /oauth/authorizations/new: the page an admin
// allows Baton on.
func (z *Zendesk) authorizeNew(w http.ResponseWriter, r *http.Request) {
	i := z.arrived(r, "", "")
	q := r.URL.Query()
	if msg := z.checkAuthorization(q); msg != "" {
		z.problem("authorization request: %s", msg)
		http.Error(w, msg, http.StatusBadRequest)
		z.answered(i, 400)
		return
	}
	z.oauth.mu.Lock()
	z.oauth.redirects = append(z.oauth.redirects, q.Get("redirect_uri"))
	z.oauth.mu.Unlock()
	fields := map[string]string{}
	for _, k := range []string{"client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"} {
		fields[k] = q.Get(k)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = authorizePage.Execute(w, map[string]any{"Client": q.Get("client_id"), "Scope": q.Get("scope"), "Fields": fields})
	z.answered(i, 200)
}

func (z *Zendesk) checkAuthorization(q url.Values) string {
	z.oauth.mu.Lock()
	c := z.oauth.clients[q.Get("client_id")]
	z.oauth.mu.Unlock()
	switch {
	case q.Get("response_type") != "code":
		return "response_type must be code"
	case c == nil:
		return "unknown client_id"
	case q.Get("redirect_uri") == "":
		return "no redirect_uri"
	case q.Get("state") == "":
		return "no state (Baton always sends one)"
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		return "code_challenge must be an S256 challenge"
	}
	return ""
}

// Approve does what the Allow button does and returns where the browser
// would be sent (redirect_uri with code and state).
func (z *Zendesk) Approve(authorizationURL string) (string, error) {
	u, err := url.Parse(authorizationURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	if msg := z.checkAuthorization(q); msg != "" {
		return "", fmt.Errorf("the authorization request was refused: %s", msg)
	}
	z.oauth.mu.Lock()
	z.oauth.redirects = append(z.oauth.redirects, q.Get("redirect_uri"))
	z.oauth.mu.Unlock()
	return z.decide(q, true), nil
}

// decide makes the code (or the refusal) and returns the redirect.
func (z *Zendesk) decide(q url.Values, allow bool) string {
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := back.Query()
	v.Set("state", q.Get("state"))
	if !allow {
		v.Set("error", "access_denied")
		v.Set("error_description", "The end-user or authorization server denied the request.")
	} else {
		code := randomToken(12)
		z.oauth.mu.Lock()
		z.oauth.codes[code] = &authCode{client: q.Get("client_id"), redirect: q.Get("redirect_uri"),
			challenge: q.Get("code_challenge"), scope: q.Get("scope"), expires: time.Now().Add(120 * time.Second)}
		z.oauth.mu.Unlock()
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	return back.String()
}

// authorizeDecision serves POST /oauth/authorizations: Allow or Deny.
func (z *Zendesk) authorizeDecision(w http.ResponseWriter, r *http.Request) {
	i := z.arrived(r, "", "")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		z.answered(i, 400)
		return
	}
	r.PostForm.Set("response_type", "code")
	if msg := z.checkAuthorization(r.PostForm); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		z.answered(i, 400)
		return
	}
	http.Redirect(w, r, z.decide(r.PostForm, r.PostForm.Get("decision") == "allow"), http.StatusFound)
	z.answered(i, http.StatusFound)
}
