package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session/sessiontest"
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
		"apply.lua":                {k.convMeta("c_1"), k.convLog("c_1"), k.convClient("c_1")},
		"outbox.lua":               {k.convMeta("c_1")},
		"promote.lua":              {k.outboxDue(), k.outbox()},
		"promote.lua for webhooks": {k.webhookDue(), k.webhookStream()},
		"whcas.lua":                {k.webhookDelivery("m_1", "msg_1.we_1"), k.webhookFailed("m_1")},
	} {
		for _, key := range keys {
			require.Equal(t, hashTag(keys[0]), hashTag(key), "%s: %v", name, keys)
		}
	}
	// The merchant's handoff indexes live with the merchant.
	require.Equal(t, hashTag(k.merchant("m_1")), hashTag(k.failedHandoffs("m_1")))
}

// TestDeadLetterIndexedBeforeItFails: a worker indexes a dead letter before
// its record says failed. A listing that runs in between must not drop the
// entry, or the dead letter is never shown (this was the CI flake in
// TestGorgiasDeadLetterRetriedByAdmin).
func TestDeadLetterIndexedBeforeItFails(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	s := New(Options{Redis: rdb, Prefix: prefix})
	ctx := context.Background()
	const mid, conv = "m_dl", "c_dl"
	h := &handoff{ID: "h_1", Provider: MethodGorgias, Email: "a@example.com", State: TicketPending, At: 1, Updated: 1}
	require.NoError(t, rdb.HSet(ctx, s.keys.convMeta(conv), fMerchant, mid, fStatus, string(StatusTicketed),
		fHandoffRec, h.encode(), fHandoffVer, "1").Err())

	// The worker's first step: the index entry.
	require.NoError(t, rdb.ZAdd(ctx, s.keys.failedHandoffs(mid), zmember(2, conv)).Err())
	// An admin lists the dead letters now: nothing yet...
	got, err := s.HelpdeskHandoffs(ctx, mid, TicketFailed)
	require.NoError(t, err)
	require.Empty(t, got)
	// ...then the record says failed.
	_, err = s.casHandoff(ctx, conv, "", "1", &handoff{ID: "h_1", Provider: MethodGorgias, Email: "a@example.com",
		State: TicketFailed, Error: "gorgias answered 400", At: 1, Updated: 3})
	require.NoError(t, err)
	got, err = s.HelpdeskHandoffs(ctx, mid, TicketFailed)
	require.NoError(t, err)
	require.Len(t, got, 1, "the dead letter is listed")
	require.Equal(t, conv, got[0].ID)

	// A ticket made after all leaves the dead letters.
	_, err = s.casHandoff(ctx, conv, "", "2", &handoff{ID: "h_1", Provider: MethodGorgias, Email: "a@example.com",
		State: TicketCreated, TicketID: "9", At: 1, Updated: 4})
	require.NoError(t, err)
	got, err = s.HelpdeskHandoffs(ctx, mid, TicketFailed)
	require.NoError(t, err)
	require.Empty(t, got)
	n, err := rdb.ZCard(ctx, s.keys.failedHandoffs(mid)).Result()
	require.NoError(t, err)
	require.Zero(t, n, "a made ticket's entry is cleaned up")
}
