package session_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session/sessiontest"
)

// TestRedisBackend says which Redis the tests run against, and fails when
// BATON_TEST_REDIS names one that is not real Redis. CI runs it with -v so
// its log shows the backend.
func TestRedisBackend(t *testing.T) {
	b := sessiontest.Shared(t)
	rdb, _ := sessiontest.Redis(t)
	info, err := rdb.Info(context.Background(), "server").Result()
	require.NoError(t, err)
	if os.Getenv("BATON_TEST_REDIS") != "" {
		require.False(t, b.Embedded)
		require.Contains(t, info, "redis_version:", "BATON_TEST_REDIS must be a real Redis server")
	}
	t.Logf("backend %s (embedded=%v)", b.URL, b.Embedded)
}
