package agentconsole_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// TestMeShowsTheShopsLanguage: an agent's console follows the shop's
// language, which only admins can read in the settings.
func TestMeShowsTheShopsLanguage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Taal Winkel")
	agent := e.addAgent(s, "ans@taal.example", "Ans")
	_, err := e.svc.UpdateSettings(e.ctx, s.m.ID, 0, func(set *session.Settings) { set.Locale = "nl" })
	require.NoError(t, err)
	code, body := e.do("GET", "/v1/agent/me", agent, nil)
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, "nl", body["locale"])
	require.EqualValues(t, 0, num(body["load"]))
}
