package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/sessiontest"
)

// TestCLICreatesMerchantsAndAgents runs `baton merchant create` and `baton
// agent create` as the contract gives them, against the test's Redis, and
// signs in with what they made.
func TestCLICreatesMerchantsAndAgents(t *testing.T) {
	b := sessiontest.Shared(t)
	rdb, prefix := sessiontest.Redis(t)
	env := map[string]string{"REDIS_URL": b.URL, "BATON_KEY_PREFIX": prefix}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()

	var out bytes.Buffer
	err := run(ctx, []string{"merchant", "create", "--name", "Tea Shop", "--origin", "https://tea.example", "--origin", "https://www.tea.example"},
		getenv, strings.NewReader(""), &out, &out)
	require.NoError(t, err)
	var m struct {
		MerchantID     string `json:"merchant_id"`
		WidgetKey      string `json:"widget_key"`
		IdentitySecret string `json:"identity_secret"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &m), out.String())
	require.NotEmpty(t, m.MerchantID)
	require.NotEmpty(t, m.WidgetKey)
	require.GreaterOrEqual(t, len(m.IdentitySecret), 32)

	out.Reset()
	// The line break is not part of the password.
	err = run(ctx, []string{"agent", "create", "--merchant", m.MerchantID, "--email", "Ann@Tea.example", "--name", "Ann", "--admin"},
		getenv, strings.NewReader("correct horse battery\n"), &out, &out)
	require.NoError(t, err)
	var a struct {
		AgentID string `json:"agent_id"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &a), out.String())
	require.NotEmpty(t, a.AgentID)

	svc := session.New(session.Options{Redis: rdb, Prefix: prefix})
	got, err := svc.Login(ctx, "ann@tea.example", "correct horse battery")
	require.NoError(t, err)
	require.Equal(t, a.AgentID, got.ID)
	require.Equal(t, session.RoleNameAdmin, got.Role)
	mer, err := svc.MerchantByWidgetKey(ctx, m.WidgetKey)
	require.NoError(t, err)
	require.Equal(t, []string{"https://tea.example", "https://www.tea.example"}, mer.Settings.AllowedOrigins)

	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		in   string
		want string
	}{
		{"merchant without a name", []string{"merchant", "create"}, env, "", "--name"},
		{"bad origin", []string{"merchant", "create", "--name", "X", "--origin", "javascript:alert(1)"}, env, "", "origin"},
		{"no REDIS_URL", []string{"merchant", "create", "--name", "X"}, map[string]string{}, "", "REDIS_URL"},
		{"agent without a password", []string{"agent", "create", "--merchant", m.MerchantID, "--email", "b@tea.example", "--name", "B"}, env, "", "password"},
		{"agent of an unknown merchant", []string{"agent", "create", "--merchant", "mer_nope", "--email", "c@tea.example", "--name", "C"}, env, "long enough password\n", "merchant"},
		{"agent email taken", []string{"agent", "create", "--merchant", m.MerchantID, "--email", "ann@tea.example", "--name", "A2"}, env, "long enough password\n", "exists"},
		{"unknown command", []string{"launch"}, env, "", "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := run(ctx, tc.args, func(k string) string { return tc.env[k] }, strings.NewReader(tc.in), &buf, &buf)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestRedisURLForms(t *testing.T) {
	for _, tc := range []struct {
		url     string
		cluster bool
		addrs   []string
	}{
		{"redis://127.0.0.1:6379/0", false, []string{"127.0.0.1:6379"}},
		{"redis://:pw@10.0.0.1:6380/2", false, []string{"10.0.0.1:6380"}},
		{"10.0.0.1:7000,10.0.0.2:7000", true, []string{"10.0.0.1:7000", "10.0.0.2:7000"}},
		{"redis://10.0.0.1:7000,redis://10.0.0.2:7000", true, []string{"10.0.0.1:7000", "10.0.0.2:7000"}},
		{"redis+cluster://user:pw@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002", true, []string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002"}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			o, err := redisOptions(tc.url)
			require.NoError(t, err)
			require.Equal(t, tc.cluster, o.IsClusterMode)
			require.Equal(t, tc.addrs, o.Addrs)
		})
	}
	o, err := redisOptions("redis://:pw@10.0.0.1:6380/2")
	require.NoError(t, err)
	require.Equal(t, 2, o.DB)
	require.Equal(t, "pw", o.Password)
	o, err = redisOptions("redis+cluster://user:pw@10.0.0.1:7000,10.0.0.2:7001")
	require.NoError(t, err)
	require.Equal(t, "user", o.Username)
	require.Equal(t, "pw", o.Password)
}
