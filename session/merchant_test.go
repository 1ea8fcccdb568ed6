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

// TestSweepReadsTheWholeIndex: conversations waiting for a person stay in
// the live index while they wait; hundreds of them must not hide the idle
// ones behind them from the sweep (it read only the 500 oldest).
func TestSweepReadsTheWholeIndex(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Sweep", nil, "")
	require.NoError(t, err)
	old := time.Now().Add(-2 * time.Hour).UnixMilli()
	pipe := n.rdb.Pipeline()
	for i := range 2*sweepPage + 50 {
		id := "c_wait" + itoa(int64(i))
		pipe.HSet(ctx, n.keys.convMeta(id), fMerchant, m.ID, fStatus, string(StatusQueued), fUpdated, old, fCreated, old)
		pipe.PExpire(ctx, n.keys.convMeta(id), time.Hour)
		pipe.ZAdd(ctx, n.keys.active(m.ID), zmember(float64(old-1000), id))
	}
	_, err = pipe.Exec(ctx)
	require.NoError(t, err)
	idle := n.stored(t, m, VisitorInfo{})
	require.NoError(t, n.rdb.HSet(ctx, n.keys.convMeta(idle.ConversationID), fUpdated, old).Err())
	require.NoError(t, n.rdb.ZAdd(ctx, n.keys.active(m.ID), zmember(float64(old), idle.ConversationID)).Err())

	require.NoError(t, n.sweepMerchant(ctx, m.ID, time.Now().Add(-time.Hour)))
	c, _, err := n.Conversation(ctx, m.ID, idle.ConversationID)
	require.NoError(t, err)
	require.Equal(t, StatusClosed, c.Status, "the idle conversation behind the queue was closed")
	require.Equal(t, "inactive", c.ClosedReason)
	left, err := n.rdb.ZCard(ctx, n.keys.active(m.ID)).Result()
	require.NoError(t, err)
	require.EqualValues(t, 2*sweepPage+50, left, "the waiting ones stay listed")
}

// TestSweepOnceTakesEachMerchantsLock: a pass sweeps the merchants whose
// lock it gets and leaves the one another node holds.
func TestSweepOnceTakesEachMerchantsLock(t *testing.T) {
	n, ctx := newTestNode(t)
	old := time.Now().Add(-2 * time.Hour).UnixMilli()
	var idle []string
	var ms []*Merchant
	for _, name := range []string{"Mine", "Theirs", "Also mine"} {
		m, err := n.CreateMerchant(ctx, name, nil, "")
		require.NoError(t, err)
		c := n.stored(t, m, VisitorInfo{})
		require.NoError(t, n.rdb.HSet(ctx, n.keys.convMeta(c.ConversationID), fUpdated, old).Err())
		require.NoError(t, n.rdb.ZAdd(ctx, n.keys.active(m.ID), zmember(float64(old), c.ConversationID)).Err())
		ms = append(ms, m)
		idle = append(idle, c.ConversationID)
	}
	require.NoError(t, n.rdb.Set(ctx, n.keys.merchantLock(ms[1].ID, "sweep"), "another-node", time.Minute).Err())

	require.NoError(t, n.sweepOnce(ctx))
	for i, m := range ms {
		c, _, err := n.Conversation(ctx, m.ID, idle[i])
		require.NoError(t, err)
		if i == 1 {
			require.NotEqual(t, StatusClosed, c.Status, "another node holds %s's lock", m.Name)
		} else {
			require.Equal(t, StatusClosed, c.Status, m.Name)
		}
	}
}
