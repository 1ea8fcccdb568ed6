package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session/sessiontest"
)

// from sends a JSON request from a given loopback address, as another
// client would, and returns the status, the Retry-After header and the body.
func (e *env) from(ip, method, path, token string, body any) (int, string, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}}
	defer client.CloseIdleConnections()
	res, err := client.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	out := map[string]any{}
	if len(raw) > 0 {
		require.NoError(e.t, json.Unmarshal(raw, &out), "body %q", raw)
	}
	return res.StatusCode, res.Header.Get("Retry-After"), out
}

// TestSignInCannotBeTurnedAgainstAnAgent: a stranger's wrong passwords slow
// the stranger down (429 with Retry-After, longer each time); the agent
// signs in from elsewhere as usual; an unknown address and a wrong password
// get the same answer. (Before: ten failures from anywhere locked the
// account out from everywhere, with no Retry-After.)
func TestSignInCannotBeTurnedAgainstAnAgent(t *testing.T) {
	e := newEnv(t)
	s := e.shop("Lock Shop")
	e.addAgent(s, "ann@lock.example", "Ann")

	code, _, unknown := e.from("127.0.0.4", "POST", "/v1/auth/login", "", map[string]string{"email": "nobody@lock.example", "password": "whatever-123"})
	require.Equal(t, 401, code)
	code, _, wrong := e.from("127.0.0.4", "POST", "/v1/auth/login", "", map[string]string{"email": "ann@lock.example", "password": "whatever-123"})
	require.Equal(t, 401, code)
	// Alike but for the id of the request each answers.
	for _, b := range []map[string]any{unknown, wrong} {
		require.Regexp(t, `^req_`, b["error"].(map[string]any)["request_id"])
		delete(b["error"].(map[string]any), "request_id")
	}
	require.Equal(t, unknown, wrong, "an unknown email and a wrong password are answered alike")

	var waits []int
	for range 12 {
		code, ra, body := e.from("127.0.0.2", "POST", "/v1/auth/login", "", map[string]string{"email": "ann@lock.example", "password": "guess-guess"})
		if code == 429 {
			require.Equal(t, "too_many_attempts", body["error"].(map[string]any)["code"])
			n, err := strconv.Atoi(ra)
			require.NoError(t, err, "Retry-After %q", ra)
			require.Positive(t, n)
			waits = append(waits, n)
			continue
		}
		require.Equal(t, 401, code)
	}
	require.NotEmpty(t, waits, "the guesser is slowed down")

	// The agent, from another address: signed in at once.
	code, _, body := e.from("127.0.0.3", "POST", "/v1/auth/login", "", map[string]string{"email": "ann@lock.example", "password": "agent-password"})
	require.Equal(t, 200, code, "the right password from another address: %v", body)
	require.NotEmpty(t, body["token"])
	// And from the guesser's address, even the right password waits.
	code, ra, _ := e.from("127.0.0.2", "POST", "/v1/auth/login", "", map[string]string{"email": "ann@lock.example", "password": "agent-password"})
	require.Equal(t, 429, code)
	require.NotEmpty(t, ra)
}

// TestTeamManagement: admins add, rename, promote, cap, disable and remove
// agents; a role change counts from the next request; the last admin
// stays; another merchant's admin reaches none of it.
func TestTeamManagement(t *testing.T) {
	e := newEnv(t)
	s := e.shop("Team Shop")
	other := e.shop("Other Team Shop")
	code, body := e.do("POST", "/v1/admin/agents", s.adminToken, map[string]any{"email": "Bo@Team.example", "name": "Bo",
		"password": "bo-password-1", "role": "agent", "capacity": 4})
	require.Equal(t, 201, code, "%v", body)
	bo := body["agent"].(map[string]any)
	require.Equal(t, "bo@team.example", bo["email"])
	require.EqualValues(t, 4, bo["capacity"])
	boID := bo["id"].(string)
	boToken := e.login("bo@team.example", "bo-password-1")

	for _, c := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"email": "x@team.example", "name": "X", "password": "short", "role": "agent"}, "invalid_password"},
		{map[string]any{"email": "bo@team.example", "name": "Bo 2", "password": "bo-password-2", "role": "agent"}, "email_taken"},
		{map[string]any{"email": "y@team.example", "name": "Y", "password": "y-password-1", "role": "owner"}, "invalid_role"},
		{map[string]any{"email": "z@team.example", "name": "Z", "password": "z-password-1", "capacity": -1}, "invalid_capacity"},
	} {
		code, body := e.do("POST", "/v1/admin/agents", s.adminToken, c.body)
		require.Equal(t, c.code, errCode(body), "%v -> %d %v", c.body, code, body)
	}

	// An agent is no admin...
	code, _ = e.do("GET", "/v1/admin/agents", boToken, nil)
	require.Equal(t, 403, code)
	// ...until promoted: the same token works at once.
	code, body = e.do("PUT", "/v1/admin/agents/"+boID, s.adminToken, map[string]any{"role": "admin", "name": "Bo B."})
	require.Equal(t, 200, code, "%v", body)
	require.Eventually(t, func() bool { c, _ := e.do("GET", "/v1/admin/agents", boToken, nil); return c == 200 }, 2*time.Second, 20*time.Millisecond)
	code, body = e.do("GET", "/v1/agent/me", boToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "Bo B.", body["agent"].(map[string]any)["name"])

	// Another merchant's admin: no such agent.
	for _, m := range []string{"PUT", "DELETE"} {
		code, _ := e.do(m, "/v1/admin/agents/"+boID, other.adminToken, map[string]any{"name": "Mallory"})
		require.Equal(t, 404, code, m)
	}
	code, body = e.do("GET", "/v1/admin/agents", other.adminToken, nil)
	require.Equal(t, 200, code)
	for _, a := range body["agents"].([]any) {
		require.NotEqual(t, boID, a.(map[string]any)["id"])
	}

	// The last admin stays: with two admins one may go; then not the other.
	ids := map[string]string{}
	_, body = e.do("GET", "/v1/admin/agents", s.adminToken, nil)
	for _, a := range body["agents"].([]any) {
		ids[a.(map[string]any)["email"].(string)] = a.(map[string]any)["id"].(string)
	}
	adminID := ids["teamshop-admin@example.com"]
	code, body = e.do("PUT", "/v1/admin/agents/"+adminID, boToken, map[string]any{"role": "agent"})
	require.Equal(t, 200, code, "%v", body)
	for _, change := range []struct {
		method string
		body   any
	}{{"PUT", map[string]any{"role": "agent"}}, {"PUT", map[string]any{"disabled": true}}, {"DELETE", nil}} {
		code, body := e.do(change.method, "/v1/admin/agents/"+boID, boToken, change.body)
		require.Equal(t, 409, code, "%s %v: %v", change.method, change.body, body)
		require.Equal(t, "last_admin", errCode(body))
	}
	// The demoted admin's token lost its admin rights at once.
	require.Eventually(t, func() bool { c, _ := e.do("GET", "/v1/admin/agents", s.adminToken, nil); return c == 403 }, 2*time.Second, 20*time.Millisecond)

	// Removed: the token stops, the address is free again.
	code, _ = e.do("PUT", "/v1/admin/agents/"+adminID, boToken, map[string]any{"role": "admin"})
	require.Equal(t, 200, code)
	code, _ = e.do("DELETE", "/v1/admin/agents/"+boID, s.adminToken, nil)
	require.Equal(t, 204, code)
	require.Eventually(t, func() bool { c, _ := e.do("GET", "/v1/agent/me", boToken, nil); return c == 401 }, 2*time.Second, 20*time.Millisecond)
	code, body = e.do("POST", "/v1/admin/agents", s.adminToken, map[string]any{"email": "bo@team.example", "name": "Bo again", "password": "bo-password-3"})
	require.Equal(t, 201, code, "%v", body)
}

// TestRevocationReachesEveryNode: on two nodes sharing Redis, an agent
// disabled, signed out or with a new password on one node loses their
// earlier tokens on the other within 2 s, on REST and on the console
// socket (closed with 4001).
func TestRevocationReachesEveryNode(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	a, b := newEnvOn(t, rdb, prefix), newEnvOn(t, rdb, prefix)
	s := a.shop("Revoke Shop")
	cases := []struct {
		name   string
		revoke func(t *testing.T, agentID, token string) string // returns the agent's new token, if any
	}{
		{"disabled", func(t *testing.T, id, _ string) string {
			code, body := a.do("PUT", "/v1/admin/agents/"+id, s.adminToken, map[string]any{"disabled": true})
			require.Equal(t, 200, code, "%v", body)
			return ""
		}},
		{"logged out", func(t *testing.T, _, token string) string {
			code, _ := a.do("POST", "/v1/auth/logout", token, nil)
			require.Equal(t, 204, code)
			return ""
		}},
		{"new password", func(t *testing.T, _, token string) string {
			code, body := a.do("PUT", "/v1/agent/password", token, map[string]string{"current": "agent-password", "new": "a-new-password"})
			require.Equal(t, 200, code, "%v", body)
			return body["token"].(string)
		}},
		{"removed", func(t *testing.T, id, _ string) string {
			code, _ := a.do("DELETE", "/v1/admin/agents/"+id, s.adminToken, nil)
			require.Equal(t, 204, code)
			return ""
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := a.withT(t), b.withT(t)
			email := "r" + strconv.Itoa(i) + "@revoke.example"
			token := a.addAgent(s, email, "Rev "+strconv.Itoa(i))
			_, me := b.do("GET", "/v1/agent/me", token, nil)
			id := me["agent"].(map[string]any)["id"].(string)
			console := b.console(token) // on the other node
			fresh := c.revoke(t, id, token)
			at := time.Now()
			require.Eventually(t, func() bool { code, _ := b.do("GET", "/v1/agent/me", token, nil); return code == 401 },
				2*time.Second, 10*time.Millisecond, "the old token still works on the other node")
			require.Equal(t, 4001, console.WaitCloseCode(2*time.Second-time.Since(at)+100*time.Millisecond), "the console socket on the other node")
			code, _ := b.do("GET", "/v1/agent/conversations", token, nil)
			require.Equal(t, 401, code)
			if fresh != "" {
				code, _ := b.do("GET", "/v1/agent/me", fresh, nil)
				require.Equal(t, 200, code, "the session that changed the password goes on")
			}
		})
	}
}

// TestSecretRotation: tokens signed with the previous BATON_SECRET still
// verify after a restart with the new one beside it, and stop once it is
// gone; tokens name their key.
func TestSecretRotation(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	old := []byte("the-old-secret-0123456789")
	a := newEnvOn(t, rdb, prefix, func(c *appConfig) { c.Secret = old })
	s := a.shop("Rotate Shop")
	header, _, _ := strings.Cut(s.adminToken, ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"kid"`)

	rotated := newEnvOn(t, rdb, prefix, func(c *appConfig) {
		c.Secret, c.SecretPrevious = []byte("the-new-secret-0123456789"), old
	})
	code, _ := rotated.do("GET", "/v1/admin/settings", s.adminToken, nil)
	require.Equal(t, 200, code, "a token of the previous secret, after the restart")
	fresh := rotated.login("rotateshop-admin@example.com", "admin-password")

	done := newEnvOn(t, rdb, prefix, func(c *appConfig) { c.Secret = []byte("the-new-secret-0123456789") })
	code, _ = done.do("GET", "/v1/admin/settings", s.adminToken, nil)
	require.Equal(t, 401, code, "the previous secret is gone")
	code, _ = done.do("GET", "/v1/admin/settings", fresh, nil)
	require.Equal(t, 200, code)
}

// TestIdentitySecretRotation: a shop's visitors signed with the old
// identity secret stay signed in for the grace period, not after.
func TestIdentitySecretRotation(t *testing.T) {
	e := newEnv(t)
	s := e.shop("Identity Rotate")
	oldToken := signIdentity(t, s.m.IdentitySecret, "cust-1", "old@example.com")
	code, body := e.do("POST", "/v1/admin/identity-secret/rotate", s.adminToken, map[string]any{"grace_s": 3600})
	require.Equal(t, 200, code, "%v", body)
	newSecret := body["identity_secret"].(string)
	require.NotEqual(t, s.m.IdentitySecret, newSecret)
	require.NotNil(t, body["previous_valid_until"])

	for _, tok := range []string{oldToken, signIdentity(t, newSecret, "cust-2", "new@example.com")} {
		v := e.visitor(s.m.WidgetKey)
		v.Send(map[string]any{"type": "hello", "identity": tok})
		require.Equal(t, true, v.Expect("welcome")["authenticated"])
	}
	code, _ = e.do("POST", "/v1/admin/identity-secret/rotate", s.adminToken, map[string]any{"grace_s": 0})
	require.Equal(t, 200, code)
	v := e.visitor(s.m.WidgetKey)
	v.Send(map[string]any{"type": "hello", "identity": oldToken})
	v.ExpectError("invalid_identity")
	code, body = e.do("POST", "/v1/admin/identity-secret/rotate", s.adminToken, map[string]any{"grace_s": -5})
	require.Equal(t, 400, code, "%v", body)
}
