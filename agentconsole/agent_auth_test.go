package agentconsole_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// TestLoginRefused: wrong credentials are 401 with the contract's error
// body, and say nothing about which part was wrong.
func TestLoginRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Login Shop")
	e.addAgent(s, "agent@login.example", "Lou")

	cases := []struct {
		name  string
		body  any
		codes []int
	}{
		{"wrong password", map[string]string{"email": "agent@login.example", "password": "wrong-password"}, []int{401}},
		{"unknown email", map[string]string{"email": "nobody@login.example", "password": "agent-password"}, []int{401}},
		{"password with a line break", map[string]string{"email": "agent@login.example", "password": "agent-password\n"}, []int{401}},
		{"password prefix", map[string]string{"email": "agent@login.example", "password": "agent-passwor"}, []int{401}},
		{"empty password", map[string]string{"email": "agent@login.example", "password": ""}, []int{401}},
		{"no password", map[string]string{"email": "agent@login.example"}, []int{400, 401}},
		{"very long password", map[string]string{"email": "agent@login.example", "password": strings.Repeat("p", 10000)}, []int{400, 401}},
		{"empty email", map[string]string{"email": "", "password": "agent-password"}, []int{400, 401}},
		{"email of another field type", map[string]any{"email": 5, "password": "agent-password"}, []int{400, 401}},
		{"not JSON", "email=agent@login.example&password=agent-password", []int{400, 401}},
		{"no body", nil, []int{400, 401}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := e.withT(t)
			code, raw := e.doRaw("POST", "/v1/auth/login", "", tc.body, nil)
			require.Contains(t, tc.codes, code, "body %s", raw)
			requireAPIError(t, raw)
			require.NotContains(t, string(raw), "token\"")
		})
	}
	// The right password still works after those failures, and the answer
	// carries no password hash.
	code, raw := e.doRaw("POST", "/v1/auth/login", "", map[string]string{"email": "AGENT@login.example", "password": "agent-password"}, nil)
	require.Equal(t, 200, code, "%s", raw)
	require.NotContains(t, strings.ToLower(string(raw)), "password")
	require.NotContains(t, string(raw), "$2a$")
}

// agentClaimsOf reads a token Baton issued, without checking it, to forge
// variants of it.
func agentClaimsOf(t *testing.T, token string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(token, c)
	require.NoError(t, err)
	return c
}

func signWith(t *testing.T, m jwt.SigningMethod, claims jwt.MapClaims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

// handMade builds header.payload.HMAC-SHA256(secret), whatever the header
// says: the classic algorithm-confusion token.
func handMade(header map[string]any, claims jwt.MapClaims, secret string) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(claims)
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

// badTokens are tokens that must not authenticate, each a variant of a
// valid one of the admin's.
func badTokens(t *testing.T, valid string) map[string]string {
	t.Helper()
	c := agentClaimsOf(t, valid)
	now := time.Now()
	secret := []byte(testSecret)
	parts := strings.Split(valid, ".")
	other := signWith(t, jwt.SigningMethodHS256, with(c, "name", "Other"), secret)

	// Another merchant's id in the payload, under the original signature.
	tampered := with(c, "mid", "mer_someoneelse")
	tp, _ := json.Marshal(tampered)

	return map[string]string{
		"garbage":                      "not-a-token",
		"three garbage segments":       "a.b.c",
		"empty segments":               "..",
		"alg none":                     signWith(t, jwt.SigningMethodNone, c, jwt.UnsafeAllowNoneSignatureType),
		"alg none, signature kept":     handMadeNone(c) + parts[2],
		"alg None (case)":              handMade(map[string]any{"alg": "None", "typ": "JWT"}, c, testSecret),
		"HS512 with the right secret":  signWith(t, jwt.SigningMethodHS512, c, secret),
		"HS384 with the right secret":  signWith(t, jwt.SigningMethodHS384, c, secret),
		"RS256 header, HMAC signature": handMade(map[string]any{"alg": "RS256", "typ": "JWT"}, c, testSecret),
		"ES256 header, HMAC signature": handMade(map[string]any{"alg": "ES256", "typ": "JWT"}, c, testSecret),
		"hs256 lower case":             handMade(map[string]any{"alg": "hs256", "typ": "JWT"}, c, testSecret),
		"another secret":               signWith(t, jwt.SigningMethodHS256, c, []byte("another-secret-0123456789")),
		"empty secret":                 handMade(map[string]any{"alg": "HS256", "typ": "JWT"}, c, ""),
		"expired":                      signWith(t, jwt.SigningMethodHS256, with(c, "exp", now.Add(-time.Hour).Unix(), "iat", now.Add(-2*time.Hour).Unix(), "nbf", now.Add(-2*time.Hour).Unix()), secret),
		"missing exp":                  signWith(t, jwt.SigningMethodHS256, with(c, "exp", nil), secret),
		"exp not a number":             signWith(t, jwt.SigningMethodHS256, with(c, "exp", "never"), secret),
		"wrong iss":                    signWith(t, jwt.SigningMethodHS256, with(c, "iss", "someone-else"), secret),
		"missing iss":                  signWith(t, jwt.SigningMethodHS256, with(c, "iss", nil), secret),
		"wrong aud":                    signWith(t, jwt.SigningMethodHS256, with(c, "aud", []string{"another-service"}), secret),
		"missing aud":                  signWith(t, jwt.SigningMethodHS256, with(c, "aud", nil), secret),
		"issued in the future":         signWith(t, jwt.SigningMethodHS256, with(c, "iat", now.Add(time.Hour).Unix()), secret),
		"not valid before an hour":     signWith(t, jwt.SigningMethodHS256, with(c, "nbf", now.Add(time.Hour).Unix()), secret),
		"no subject":                   signWith(t, jwt.SigningMethodHS256, with(c, "sub", nil), secret),
		"no merchant":                  signWith(t, jwt.SigningMethodHS256, with(c, "mid", nil), secret),
		"tampered payload":             parts[0] + "." + base64.RawURLEncoding.EncodeToString(tp) + "." + parts[2],
		"signature of another token":   parts[0] + "." + parts[1] + "." + strings.Split(other, ".")[2],
		"no signature":                 parts[0] + "." + parts[1] + ".",
		"two tokens":                   valid + " " + valid,
		"extra segment":                valid + ".e30",
	}
}

func handMadeNone(c jwt.MapClaims) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT"})
	p, _ := json.Marshal(c)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "."
}

var authRoutes = []struct{ method, path string }{
	{"GET", "/v1/agent/me"},
	{"GET", "/v1/agent/conversations"},
	{"GET", "/v1/agent/conversations/c_whatever"},
	{"POST", "/v1/agent/conversations/c_whatever/claim"},
	{"PUT", "/v1/agent/presence"},
	{"GET", "/v1/admin/settings"},
	{"PUT", "/v1/admin/office-hours"},
	{"GET", "/v1/admin/metrics"},
}

// TestAgentTokenChecksREST: every agent and admin route refuses a missing
// or bad token with 401 and the contract's error body; HS256 is pinned,
// and exp, iss and aud are checked.
func TestAgentTokenChecksREST(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Token Shop")
	valid := s.adminToken

	type attempt struct {
		name   string
		path   string // appended to the route
		header http.Header
	}
	var attempts []attempt
	for name, tok := range badTokens(t, valid) {
		attempts = append(attempts, attempt{name: name, header: http.Header{"Authorization": {"Bearer " + tok}}})
	}
	attempts = append(attempts,
		attempt{name: "no Authorization header"},
		attempt{name: "token in the query string only", path: "?token=" + valid},
		attempt{name: "token in access_token only", path: "?access_token=" + valid},
		attempt{name: "token as a cookie only", header: http.Header{"Cookie": {"token=" + valid}}},
		attempt{name: "Bearer without a token", header: http.Header{"Authorization": {"Bearer "}}},
		attempt{name: "token without a scheme", header: http.Header{"Authorization": {valid}}},
		attempt{name: "Basic scheme", header: http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+valid))}}},
		attempt{name: "Token scheme", header: http.Header{"Authorization": {"Token " + valid}}},
		attempt{name: "X-Auth-Token header", header: http.Header{"X-Auth-Token": {valid}}},
	)
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			for _, r := range authRoutes {
				code, raw := e.doRaw(r.method, r.path+sep(r.path, a.path), "", nil, a.header)
				require.Equal(t, 401, code, "%s %s: %s", r.method, r.path, raw)
				requireAPIError(t, raw)
			}
		})
	}

	// The valid token itself gets past authentication on each route.
	for _, r := range authRoutes {
		code, raw := e.doRaw(r.method, r.path, valid, nil, nil)
		require.NotEqual(t, 401, code, "%s %s with a valid token: %s", r.method, r.path, raw)
	}
}

// sep joins a query string to a path.
func sep(path, query string) string {
	if query != "" && strings.Contains(path, "?") {
		return "&" + query[1:]
	}
	return query
}

// TestConsoleSocketAuth: the console socket's first frame must be auth with
// a valid token; anything else gets an error frame and a close with 1008,
// and no queue or conversation data.
func TestConsoleSocketAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Console Auth Shop")
	valid := s.adminToken
	// Something to leak: a queued conversation.
	v := e.visitor(s)
	convID := v.id
	v.handoff("secret-visitor@example.com")

	type attempt struct {
		name  string
		path  string
		first func(c *client)
	}
	var attempts []attempt
	for name, tok := range badTokens(t, valid) {
		attempts = append(attempts, attempt{name: "token: " + name, first: func(c *client) {
			c.Send(map[string]any{"type": "auth", "token": tok})
		}})
	}
	attempts = append(attempts,
		attempt{name: "ping first", first: func(c *client) { c.Send(map[string]any{"type": "ping"}) }},
		attempt{name: "malformed first frame", first: func(c *client) { c.SendRaw(`{"type":"auth",`) }},
		attempt{name: "auth in another case", first: func(c *client) { c.Send(map[string]any{"type": "AUTH", "token": valid}) }},
		attempt{name: "auth without token", first: func(c *client) { c.Send(map[string]any{"type": "auth"}) }},
		attempt{name: "auth with empty token", first: func(c *client) { c.Send(map[string]any{"type": "auth", "token": ""}) }},
		attempt{name: "auth with a number token", first: func(c *client) { c.SendRaw(`{"type":"auth","token":42}`) }},
		attempt{name: "binary auth frame", first: func(c *client) {
			b, _ := json.Marshal(map[string]any{"type": "auth", "token": valid})
			require.NoError(c.T, c.Conn.WriteMessage(websocket.BinaryMessage, b))
		}},
		attempt{name: "token in the URL, ping first", path: "?token=" + valid, first: func(c *client) {
			c.Send(map[string]any{"type": "ping"})
		}},
		attempt{name: "message before auth", first: func(c *client) {
			c.Send(map[string]any{"type": "message", "conversation_id": convID, "client_id": "x", "text": "hi"})
		}},
	)
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			c, _, err := e.dial("/v1/agent/ws"+a.path, nil)
			require.NoError(t, err)
			a.first(c)
			f := c.NextWithin(5*time.Second, "error", func(f map[string]any) bool { return f["type"] == "error" || f["type"] == "ready" })
			require.Equal(t, "error", f["type"], "signed in: %v", f)
			require.NotEmpty(t, f["code"])
			require.Equal(t, websocket.ClosePolicyViolation, c.WaitCloseCode(5*time.Second), "close: %v", c.CloseErr())
			all := c.FramesJSON()
			require.NotContains(t, all, convID)
			require.NotContains(t, all, "secret-visitor@example.com")
			for _, fr := range c.Snapshot() {
				require.Equal(t, "error", fr["type"], "only the error may be sent: %v", fr)
			}
		})
	}

	// The visitor's conversation is untouched.
	msgs := e.transcript(valid, convID)
	require.Empty(t, visitorClientIDs(msgs))
}

// TestConsoleBadFrames: once signed in, a console's bad frames are refused
// with error frames and the socket keeps working.
func TestConsoleBadFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Console Frames Shop")
	agent := e.addAgent(s, "frames@console.example", "Fran")
	v := e.visitor(s)
	convID := v.id
	v.handoff("v@example.com")
	seen := v.watch()
	code, _ := e.do("POST", "/v1/agent/conversations/"+convID+"/claim", agent, nil)
	require.Equal(t, 200, code)
	c := e.console(agent)

	frames := []string{
		`{"type":"message","conversation_id":"` + convID + `",`,
		`[]`,
		`"message"`,
		`null`,
		`{}`,
		`{"type":"launch_missiles"}`,
		`{"type":"auth","token":"` + agent + `"}`,
		`{"type":"typing","conversation_id":"` + convID + `"}`,
		`{"type":"message","conversation_id":"c_unknown","client_id":"x","text":"hi"}`,
		`{"type":"message","conversation_id":"` + convID + `","client_id":"","text":"hi"}`,
		`{"type":"message","conversation_id":"` + convID + `","client_id":"x","text":""}`,
		`{"type":"message","conversation_id":"` + convID + `","client_id":"x","text":"` + repeat("a", 4001) + `"}`,
		`{"type":"presence","status":"on holiday"}`,
	}
	for _, f := range frames {
		c.SendRaw(f)
		c.Send(map[string]any{"type": "ping"})
		got := c.Next("error or pong", func(f map[string]any) bool { return f["type"] == "error" || f["type"] == "pong" })
		require.Equal(t, "error", got["type"], "no error for %.120s", f)
		require.NotEmpty(t, got["code"])
		c.Expect("pong")
	}
	require.NoError(t, c.Conn.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`)))
	require.Equal(t, "error", c.Next("error", func(f map[string]any) bool { return f["type"] == "error" || f["type"] == "pong" })["type"])

	// Still working: a good message reaches the visitor; nothing bad was
	// stored.
	c.Send(map[string]any{"type": "message", "conversation_id": convID, "client_id": "good", "text": "Hello from Fran"})
	require.Equal(t, "Hello from Fran", seen.ExpectMessage("agent")["text"])
	var agentTexts []string
	for _, m := range e.transcript(agent, convID) {
		if m["role"] == "agent" {
			agentTexts = append(agentTexts, m["text"].(string))
		}
	}
	require.Equal(t, []string{"Hello from Fran"}, agentTexts)
}
