package session

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session/sessiontest"
)

// TestWaitEstimateFromHistory: known first-reply waits and available agents
// give the documented estimate (median × rounds of the agents ahead,
// rounded up to 15 s); no basis gives none.
func TestWaitEstimateFromHistory(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Estimates", nil, "")
	require.NoError(t, err)
	snap := func() *QueueSnapshot {
		t.Helper()
		q, err := n.queueSnapshot(ctx, m.ID, nil, nil)
		require.NoError(t, err)
		return q
	}
	require.Nil(t, snap().WaitEstimate(1), "no history, no estimate")

	// Waits of 40 s, 70 s, 100 s, 130 s, 300 s: the median is 100 s.
	for _, s := range []int64{40, 300, 100, 130, 70} {
		require.NoError(t, n.rdb.LPush(ctx, n.keys.waits(m.ID), s*1000).Err())
	}
	require.Nil(t, snap().WaitEstimate(1), "nobody available: no estimate")

	var closers []func()
	for i := range 2 {
		a, err := n.CreateAgent(ctx, m.ID, "est"+itoa(int64(i))+"@example.com", "Est", "agent-password", false)
		require.NoError(t, err)
		closed, err := n.ConsoleOpened(ctx, a.Actor())
		require.NoError(t, err)
		closers = append(closers, closed)
	}
	q := snap()
	for pos, want := range map[int]int{1: 105, 2: 105, 3: 210, 4: 210, 5: 300} {
		got := q.WaitEstimate(pos)
		require.NotNil(t, got, "position %d", pos)
		// 100 s per round, rounded up to 15 s: 105.
		require.Equal(t, want, *got, "position %d with 2 agents", pos)
	}
	require.Nil(t, q.WaitEstimate(0))

	// An agent away: one agent left, a round per place.
	require.NoError(t, n.SetPresence(ctx, Actor{ID: mustAgentID(t, n, m.ID, "est1@example.com"), MerchantID: m.ID}, PresenceAway))
	require.Equal(t, 300, *snap().WaitEstimate(3))

	// Closed now: no estimate.
	_, err = n.SetOfficeHours(ctx, m.ID, OfficeHours{Timezone: "UTC", Weekly: map[string][]Interval{}})
	require.NoError(t, err)
	require.Nil(t, snap().WaitEstimate(1))
	for _, c := range closers {
		c()
	}
}

func mustAgentID(t *testing.T, n *node, mid, email string) string {
	t.Helper()
	as, err := n.Agents(context.Background(), mid)
	require.NoError(t, err)
	for _, a := range as {
		if a.Email == email {
			return a.ID
		}
	}
	t.Fatalf("no agent %s", email)
	return ""
}

// TestRatingOnce: a conversation a person took part in asks for a rating
// when it ends and takes one; a second is refused; one without a person
// asks nothing; metrics count it.
func TestRatingOnce(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Ratings", nil, "")
	require.NoError(t, err)
	ag, err := n.CreateAgent(ctx, m.ID, "rate@example.com", "Rae", "agent-password", false)
	require.NoError(t, err)

	turn, _ := n.start(t, m, VisitorInfo{Email: "v@example.com"})
	require.NoError(t, n.RequestHandoff(ctx, turn))
	turn = turn.Stored()
	turn.Status = StatusHandoffOffered
	require.NoError(t, n.ReplyToOffer(ctx, turn, true))
	_, err = n.Claim(ctx, ag.Actor(), turn.ConversationID)
	require.NoError(t, err)
	require.ErrorContains(t, n.Rate(ctx, turn, 5, ""), "not_rateable", "not before the end")
	_, err = n.CloseByAgent(ctx, ag.Actor(), turn.ConversationID)
	require.NoError(t, err)
	c, _, err := n.loadConversation(ctx, turn.ConversationID)
	require.NoError(t, err)
	require.True(t, c.State().CSAT, "the ended conversation asks for a rating")

	require.Equal(t, "invalid_score", ErrorOf(n.Rate(ctx, turn, 6, "")).Code)
	require.NoError(t, n.Rate(ctx, turn, 4, "  quick and kind  "))
	require.Equal(t, "already_rated", ErrorOf(n.Rate(ctx, turn, 1, "changed my mind")).Code)
	c, _, err = n.loadConversation(ctx, turn.ConversationID)
	require.NoError(t, err)
	require.False(t, c.State().CSAT)
	require.Equal(t, &Rating{Score: 4, Comment: "quick and kind", At: c.Rating.At}, c.Rating)

	// Without a person: nothing to rate.
	t2 := n.stored(t, m, VisitorInfo{})
	require.NoError(t, n.CloseByVisitor(ctx, t2))
	require.Equal(t, "not_rateable", ErrorOf(n.Rate(ctx, t2, 5, "")).Code)

	today := time.Now().UTC().Format(time.DateOnly)
	got, err := n.Metrics(ctx, m.ID, today, today)
	require.NoError(t, err)
	require.Equal(t, CSAT{Responses: 1, Average: 4}, got.CSAT)
}

// TestUnawaitLeavesANewerAssignment: the routing pass reads the late
// entries, then takes each off; a conversation given to someone else in
// between has a newer entry under the same member, which must stay (before:
// an unconditional ZREM took it, and the second agent's silence was never
// noticed; TestReassignment caught it under load).
func TestUnawaitLeavesANewerAssignment(t *testing.T) {
	n, ctx := newTestNode(t)
	set := n.keys.awaitingReply("m_unawait")
	require.NoError(t, n.rdb.ZAdd(ctx, set, zmember(2000, "c_1")).Err()) // given again at 2000
	r, err := n.unawaitScript.run(ctx, n.rdb, &unawaitArgs{Set: set, Member: "c_1", Score: 1000})
	require.NoError(t, err)
	require.False(t, r.Removed)
	score, err := n.rdb.ZScore(ctx, set, "c_1").Result()
	require.NoError(t, err)
	require.EqualValues(t, 2000, score)

	r, err = n.unawaitScript.run(ctx, n.rdb, &unawaitArgs{Set: set, Member: "c_1", Score: 2000})
	require.NoError(t, err)
	require.True(t, r.Removed)
	r, err = n.unawaitScript.run(ctx, n.rdb, &unawaitArgs{Set: set, Member: "c_gone", Score: 2000})
	require.NoError(t, err)
	require.False(t, r.Removed)
}

// TestReassignReadsEachMerchantsOwn: reassignment reads all the merchants
// of a pass in two round trips; each merchant's agents must be judged by
// their own loads and consoles. A's First has a conversation and no
// console (now noted as gone), A's Second none (no longer gone); B's Third
// has none and no console (nothing to note), B's Fourth two and a console
// (no longer gone).
func TestReassignReadsEachMerchantsOwn(t *testing.T) {
	n, ctx := newTestNode(t)
	var ms []*Merchant
	for _, name := range []string{"A", "B"} {
		m, err := n.CreateMerchant(ctx, name, nil, "")
		require.NoError(t, err)
		ms = append(ms, m)
	}
	a, b := ms[0], ms[1]
	long := n.now().Add(-time.Second).UnixMilli() // noted, but not long enough to reassign
	pipe := n.rdb.Pipeline()
	for _, ag := range []struct{ m, id string }{{a.ID, "first"}, {a.ID, "second"}, {b.ID, "third"}, {b.ID, "fourth"}} {
		pipe.HSet(ctx, n.keys.merchantAgents(ag.m), ag.id, "{}")
	}
	pipe.SAdd(ctx, n.keys.assigned(a.ID, "first"), "c_a1")
	pipe.HSet(ctx, n.keys.goneSince(a.ID), "second", long)
	pipe.SAdd(ctx, n.keys.assigned(b.ID, "fourth"), "c_b1", "c_b2")
	pipe.HSet(ctx, n.keys.goneSince(b.ID), "fourth", long)
	pipe.ZAdd(ctx, n.keys.consoles(b.ID), zmember(float64(n.now().Add(time.Minute).UnixMilli()), "fourth|k1"))
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	n.reassign(ctx, ms)
	goneA, err := n.rdb.HGetAll(ctx, n.keys.goneSince(a.ID)).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"first"}, slices.Collect(maps.Keys(goneA)))
	goneB, err := n.rdb.HGetAll(ctx, n.keys.goneSince(b.ID)).Result()
	require.NoError(t, err)
	require.Empty(t, goneB)
	assigned, err := n.rdb.SCard(ctx, n.keys.assigned(b.ID, "fourth")).Result()
	require.NoError(t, err)
	require.EqualValues(t, 2, assigned, "an agent with a console keeps their conversations")
}

// TestOneNodeRunsEachPass: of the nodes that start a background pass in
// one period, one runs it; the others ask once and skip. When the period's
// lock lapses (its node died mid-pass, or the period is over), the next to
// ask runs it.
func TestOneNodeRunsEachPass(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	a, b := newNode(t, rdb, prefix), newNode(t, rdb, prefix)
	ctx := context.Background()
	var runs []string
	pass := func(who string) func(context.Context) error {
		return func(context.Context) error { runs = append(runs, who); return nil }
	}
	for _, step := range []struct {
		n    *node
		who  string
		what string
		ran  bool
	}{
		{a, "a", "routing", true},
		{b, "b", "routing", false},
		{a, "a", "routing", false}, // not twice in a period either
		{b, "b", "sweep", true},    // each pass has its own lock
		{a, "a", "sweep", false},
	} {
		ran, err := step.n.onePass(ctx, step.what, time.Minute, pass(step.who+" "+step.what))
		require.NoError(t, err)
		require.Equal(t, step.ran, ran, "%s's %s pass", step.who, step.what)
	}
	require.Equal(t, []string{"a routing", "b sweep"}, runs)
	ttl, err := rdb.PTTL(ctx, a.keys.passLock("routing")).Result()
	require.NoError(t, err)
	require.InDelta(t, time.Minute, ttl, float64(5*time.Second), "the lock lasts the period given")

	require.NoError(t, rdb.Del(ctx, a.keys.passLock("routing")).Err()) // as when it lapses
	ran, err := b.onePass(ctx, "routing", time.Minute, pass("b routing"))
	require.NoError(t, err)
	require.True(t, ran)
	require.Equal(t, []string{"a routing", "b sweep", "b routing"}, runs)

	failing := errors.New("a merchant's read failed")
	require.NoError(t, rdb.Del(ctx, a.keys.passLock("routing")).Err())
	ran, err = a.onePass(ctx, "routing", time.Minute, func(context.Context) error { return failing })
	require.True(t, ran)
	require.ErrorIs(t, err, failing, "the pass's own error is told")
}

// TestReassignSkipsAMerchantWithAFailedRead: when one of a merchant's
// reassignment reads fails (here: its key holds the wrong type, as a
// shard failing over would fail them), that merchant is left whole for
// the next pass, and the other merchant of the same batch is acted on.
// Half a picture would do harm: without the consoles, online agents look
// gone; without the loads, gone ones look idle. Each merchant has an agent
// "on" (a conversation and a console: nothing to do), an agent "off" (a
// conversation, no console: noted as gone), and an unanswered assignment
// of a conversation that no longer exists (its entry is dropped).
func TestReassignSkipsAMerchantWithAFailedRead(t *testing.T) {
	for _, broken := range []string{"agents", "consoles", "gone", "await", "load"} {
		t.Run(broken, func(t *testing.T) {
			n, ctx := newTestNode(t)
			var ms []*Merchant
			for _, name := range []string{"Victim", "Control"} {
				m, err := n.CreateMerchant(ctx, name, nil, "")
				require.NoError(t, err)
				ms = append(ms, m)
			}
			old := float64(n.now().Add(-time.Hour).UnixMilli())
			pipe := n.rdb.Pipeline()
			for _, m := range ms {
				pipe.HSet(ctx, n.keys.merchantAgents(m.ID), "on", "{}", "off", "{}")
				pipe.SAdd(ctx, n.keys.assigned(m.ID, "on"), "c_on")
				pipe.SAdd(ctx, n.keys.assigned(m.ID, "off"), "c_off")
				pipe.ZAdd(ctx, n.keys.consoles(m.ID), zmember(float64(n.now().Add(time.Minute).UnixMilli()), "on|k1"))
				pipe.ZAdd(ctx, n.keys.awaitingReply(m.ID), zmember(old, "c_missing"))
			}
			victim := ms[0].ID
			key := map[string]string{"agents": n.keys.merchantAgents(victim), "consoles": n.keys.consoles(victim),
				"gone": n.keys.goneSince(victim), "await": n.keys.awaitingReply(victim), "load": n.keys.assigned(victim, "off")}[broken]
			pipe.Del(ctx, key)
			pipe.Set(ctx, key, "not what it should be", 0)
			_, err := pipe.Exec(ctx)
			require.NoError(t, err)

			n.reassign(ctx, ms)
			for i, m := range ms {
				acted := i == 1
				if broken != "gone" || acted {
					gone, err := n.rdb.HKeys(ctx, n.keys.goneSince(m.ID)).Result()
					require.NoError(t, err)
					if acted {
						require.Equal(t, []string{"off"}, gone, "%s: only the agent without a console is noted", m.Name)
					} else {
						require.Empty(t, gone, "%s: nothing noted", m.Name)
					}
				}
				if broken != "await" || acted {
					waiting, err := n.rdb.ZCard(ctx, n.keys.awaitingReply(m.ID)).Result()
					require.NoError(t, err)
					require.EqualValues(t, map[bool]int64{true: 0, false: 1}[acted], waiting, "%s: the missing conversation's entry", m.Name)
				}
			}
		})
	}
}

// TestReassignLooksAgainBeforeTakingConversations: the batched reads can
// be a moment old when a merchant's turn comes (those before it in the
// batch were acted on first). An agent whose console opened since is not
// taken for gone. (Their conversation here is only an id, so what shows it
// is the gone-since entry, which a reassignment removes with them.)
func TestReassignLooksAgainBeforeTakingConversations(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Back Again", nil, "")
	require.NoError(t, err)
	long := n.now().Add(-time.Hour).UnixMilli()
	pipe := n.rdb.Pipeline()
	pipe.HSet(ctx, n.keys.merchantAgents(m.ID), "back", "{}")
	pipe.SAdd(ctx, n.keys.assigned(m.ID, "back"), "c_1")
	pipe.HSet(ctx, n.keys.goneSince(m.ID), "back", long)
	_, err = pipe.Exec(ctx)
	require.NoError(t, err)

	now := n.now()
	reads := n.readForReassign(ctx, []*Merchant{m}, now)
	require.NoError(t, reads[0].err())
	require.Empty(t, reads[0].online.Val(), "no console when read")
	require.NoError(t, n.rdb.ZAdd(ctx, n.keys.consoles(m.ID), zmember(float64(now.Add(time.Minute).UnixMilli()), "back|k1")).Err())
	n.reassignOne(ctx, m, now, &reads[0])

	gone, err := n.rdb.HGet(ctx, n.keys.goneSince(m.ID), "back").Result()
	require.NoError(t, err, "not taken for gone: the entry a reassignment removes is still there")
	require.Equal(t, strconv.FormatInt(long, 10), gone)
}
