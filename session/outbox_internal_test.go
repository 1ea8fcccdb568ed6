package session

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOutboxDelay: capped exponential backoff with equal jitter, never
// sooner than Retry-After.
func TestOutboxDelay(t *testing.T) {
	ob := &outbox{opts: OutboxOptions{RetryBase: time.Second, RetryMax: 10 * time.Second}.withDefaults()}
	for n, full := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := ob.delay(n, 0)
			require.GreaterOrEqual(t, d, full/2, "attempt %d", n)
			require.LessOrEqual(t, d, full, "attempt %d", n)
			seen[d] = true
		}
		require.Greater(t, len(seen), 10, "attempt %d: no jitter", n)
	}
	for range 100 {
		require.GreaterOrEqual(t, ob.delay(1, 7*time.Second), 7*time.Second)
	}
}

// hashTag is the part of a key Redis Cluster hashes.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// TestOutboxScriptsStayInOneSlot: every script's keys share a hash tag.
func TestOutboxScriptsStayInOneSlot(t *testing.T) {
	k := keyspace{prefix: "baton:"}
	for name, keys := range map[string][]string{
		"apply.lua":   {k.convMeta("c_1"), k.convLog("c_1"), k.convClient("c_1")},
		"outbox.lua":  {k.convMeta("c_1")},
		"promote.lua": {k.outboxDue(), k.outbox()},
	} {
		for _, key := range keys {
			require.Equal(t, hashTag(keys[0]), hashTag(key), "%s: %v", name, keys)
		}
	}
	// The merchant's handoff indexes live with the merchant.
	require.Equal(t, hashTag(k.merchant("m_1")), hashTag(k.failedHandoffs("m_1")))
}
