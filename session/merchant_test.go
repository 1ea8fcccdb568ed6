package session

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConfigCacheDropsAReadOvertakenByAnInvalidation: a read that began
// before an admin's write was announced must not be cached, or the node
// would serve the old settings for a whole TTL (this hid a helpdesk handoff
// behind the inbox for 10 s).
func TestConfigCacheDropsAReadOvertakenByAnInvalidation(t *testing.T) {
	c := newConfigCache(time.Minute)
	old, fresh := &Merchant{ID: "m", Name: "old"}, &Merchant{ID: "m", Name: "fresh"}
	now := time.Now()

	got, st := c.lookup("m", now)
	require.Nil(t, got)
	// The read is under way when the invalidation arrives...
	c.invalidate("m")
	// ...so what it read is not kept.
	c.keep("m", old, st, now)
	got, st = c.lookup("m", now)
	require.Nil(t, got, "a read overtaken by an invalidation was cached")

	c.keep("m", fresh, st, now)
	got, _ = c.lookup("m", now)
	require.Same(t, fresh, got)

	// A lost subscription drops everything, including reads under way.
	c.invalidate("m")
	_, st = c.lookup("m", now)
	c.invalidateAll()
	c.keep("m", old, st, now)
	got, _ = c.lookup("m", now)
	require.Nil(t, got)

	// And the TTL still bounds a missed invalidation.
	_, st = c.lookup("m", now)
	c.keep("m", fresh, st, now)
	got, _ = c.lookup("m", now.Add(time.Minute))
	require.Nil(t, got)
}

// TestSettingsEditsDoNotUndoEachOther: two admins editing different fields
// at once both land; a form saved over since it was loaded is refused.
func TestSettingsEditsDoNotUndoEachOther(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Edits", nil, "")
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := n.UpdateSettings(ctx, m.ID, 0, func(s *Settings) {
				if i%2 == 0 {
					s.AutoResponse += "a"
				} else {
					s.AwayMessage += "b"
				}
			})
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	cur, err := n.loadMerchant(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, "aaaaa", cur.Settings.AutoResponse, "every edit of one field kept")
	require.Equal(t, "bbbbb", cur.Settings.AwayMessage, "every edit of the other kept")
	require.EqualValues(t, 10, cur.Settings.Version)

	// A form loaded at version 10, saved after another admin's save.
	_, err = n.UpdateSettings(ctx, m.ID, 10, func(s *Settings) { s.Locale = "nl" })
	require.NoError(t, err)
	_, err = n.UpdateSettings(ctx, m.ID, 10, func(s *Settings) { s.AutoResponse = "mine" })
	require.Equal(t, "stale_settings", ErrorOf(err).Code)
	require.Equal(t, KindConflict, ErrorOf(err).Kind)
	got, err := n.Merchant(context.Background(), m.ID)
	require.NoError(t, err)
	require.Equal(t, "aaaaa", got.Settings.AutoResponse)
	require.Equal(t, "nl", got.Settings.Locale)
}
