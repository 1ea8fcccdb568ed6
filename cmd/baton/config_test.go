package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/agentconsole"
)

// TestRateLimitConfig: BATON_VISITOR_RATE_LIMIT is read as the contract says.
func TestRateLimitConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		val  string
		want int
		err  bool
	}{
		{"", 120, false},
		{"0", 0, false},
		{"30", 30, false},
		{"-1", 0, true},
		{"ten", 0, true},
		{"1.5", 0, true},
	}
	for _, tc := range cases {
		cfg, err := loadConfig(func(k string) string {
			if k == "BATON_VISITOR_RATE_LIMIT" {
				return tc.val
			}
			return ""
		})
		if tc.err {
			require.Error(t, err, "BATON_VISITOR_RATE_LIMIT=%q", tc.val)
			continue
		}
		require.NoError(t, err, "BATON_VISITOR_RATE_LIMIT=%q", tc.val)
		require.Equal(t, tc.want, cfg.VisitorRateLimit, "BATON_VISITOR_RATE_LIMIT=%q", tc.val)
	}
}

func TestAgentFrameLimitConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		val  string
		want int
		err  bool
	}{
		{"", agentconsole.DefaultFrameLimit, false},
		{"0", 0, false},
		{"5", 5, false},
		{"-1", 0, true},
		{"fast", 0, true},
		{"2.5", 0, true},
	}
	for _, tc := range cases {
		cfg, err := loadConfig(func(k string) string {
			if k == "BATON_AGENT_FRAME_LIMIT" {
				return tc.val
			}
			return ""
		})
		if tc.err {
			require.ErrorContains(t, err, "BATON_AGENT_FRAME_LIMIT", "BATON_AGENT_FRAME_LIMIT=%q", tc.val)
			continue
		}
		require.NoError(t, err, "BATON_AGENT_FRAME_LIMIT=%q", tc.val)
		require.Equal(t, tc.want, cfg.AgentFrameLimit, "BATON_AGENT_FRAME_LIMIT=%q", tc.val)
	}
}

// TestModelTimeoutConfig: BATON_MODEL_TIMEOUT defaults to 20s, as the
// contract says, and takes short bounds (a test of the fallback sets one).
func TestModelTimeoutConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		val  string
		want time.Duration
		err  bool
	}{
		{"", 20 * time.Second, false},
		{"45s", 45 * time.Second, false},
		{"500ms", 500 * time.Millisecond, false},
		{"100ms", 100 * time.Millisecond, false},
		{"10ms", 0, true},
		{"0", 0, true},
		{"soon", 0, true},
	}
	for _, tc := range cases {
		cfg, err := loadConfig(func(k string) string {
			if k == "BATON_MODEL_TIMEOUT" {
				return tc.val
			}
			return ""
		})
		if tc.err {
			require.Error(t, err, "BATON_MODEL_TIMEOUT=%q", tc.val)
			continue
		}
		require.NoError(t, err, "BATON_MODEL_TIMEOUT=%q", tc.val)
		require.Equal(t, tc.want, cfg.Model.Timeout, "BATON_MODEL_TIMEOUT=%q", tc.val)
	}
}

// TestRedisLingerConfig: BATON_REDIS_LINGER bounds the batcher's wait for
// company; 0 switches it off (a negative bound to the session), unset
// leaves the session's default.
func TestRedisLingerConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		val  string
		want time.Duration
		err  bool
	}{
		{"", 0, false},
		{"0", -1, false},
		{"200us", 200 * time.Microsecond, false},
		{"500µs", 500 * time.Microsecond, false},
		{"5ms", 5 * time.Millisecond, false},
		{"6ms", 0, true},
		{"-1ms", 0, true},
		{"short", 0, true},
	}
	for _, tc := range cases {
		cfg, err := loadConfig(func(k string) string {
			if k == "BATON_REDIS_LINGER" {
				return tc.val
			}
			return ""
		})
		if tc.err {
			require.Error(t, err, "BATON_REDIS_LINGER=%q", tc.val)
			continue
		}
		require.NoError(t, err, "BATON_REDIS_LINGER=%q", tc.val)
		require.Equal(t, tc.want, cfg.Linger, "BATON_REDIS_LINGER=%q", tc.val)
	}
}
