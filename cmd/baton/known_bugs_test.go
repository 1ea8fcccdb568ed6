package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// Backend bugs the web pages ran into, written down as tests. They run with
// BATON_TEST_KNOWN_BUGS=1 and fail until the backend is fixed; then the
// gate goes and they join the suite.
func knownBug(t *testing.T) {
	t.Helper()
	if os.Getenv("BATON_TEST_KNOWN_BUGS") != "1" {
		t.Skip("a known backend bug (see the comment); run with BATON_TEST_KNOWN_BUGS=1")
	}
}

// TestOfficeHoursClosedDaysStayClosed: a weekday left out of "weekly" is
// closed. session.merchantFromConfig unmarshals the stored hours into
// AlwaysOpen(), and json.Unmarshal merges into that map, so every day the
// merchant closed comes back open 00:00-24:00: in GET, in the "now" preview
// and in the gateway's office state.
func TestOfficeHoursClosedDaysStayClosed(t *testing.T) {
	knownBug(t)
	e := newEnv(t)
	s := e.shop("Closed Days Shop")
	sat := []any{map[string]any{"open": "10:00", "close": "16:30"}}
	code, body := e.do("PUT", "/v1/admin/office-hours", s.adminToken, map[string]any{
		"timezone": "UTC", "weekly": map[string]any{"sat": sat}, "exceptions": []any{}})
	require.Equal(t, 200, code, "%v", body)
	code, body = e.do("GET", "/v1/admin/office-hours", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, map[string]any{"sat": sat}, body["weekly"])
}
