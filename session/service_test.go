package session

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/batonchat/baton/session/sessiontest"
)

// fixedAssistant answers "answer: TEXT", except for texts starting with
// "human" (wants a person) or "?" (unsure).
type fixedAssistant struct{}

func (fixedAssistant) Answer(_ context.Context, q Question) (Answer, error) {
	switch {
	case strings.HasPrefix(q.Text, "human"):
		return Answer{Kind: WantsPerson}, nil
	case strings.HasPrefix(q.Text, "?"):
		return Answer{Kind: Unsure}, nil
	}
	return Answer{Kind: Answered, Text: "answer: " + q.Text}, nil
}

type node struct {
	*Service
	rdb redis.UniversalClient
}

// newNode starts a Service on the test's Redis prefix; several nodes with
// the same prefix behave like gateways sharing one Redis.
func newNode(t *testing.T, rdb redis.UniversalClient, prefix string) *node {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s := New(Options{Redis: rdb, Prefix: prefix, Assistant: fixedAssistant{}, Logger: log, BcryptCost: bcrypt.MinCost})
	ctx, cancel := context.WithCancel(context.Background())
	s.Run(ctx)
	t.Cleanup(func() { cancel(); s.Close() })
	return &node{Service: s, rdb: rdb}
}

func newTestNode(t *testing.T) (*node, context.Context) {
	rdb, prefix := sessiontest.Redis(t)
	return newNode(t, rdb, prefix), context.Background()
}

// recorder is a ConversationWatcher that keeps what it was told.
type recorder struct {
	mu      sync.Mutex
	entries []RawEntry
	states  []State
	typing  []string
	gone    bool
}

func (r *recorder) Entry(_ string, e RawEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, e)
}

func (r *recorder) State(_ string, st State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, st)
}

func (r *recorder) Typing(_ string, role Role, active bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.typing = append(r.typing, fmt.Sprintf("%s:%v", role, active))
}

func (r *recorder) Gone(string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gone = true
}

func (r *recorder) seqs() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int64, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.Seq
	}
	return out
}

func (r *recorder) lastState() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.states) == 0 {
		return State{}
	}
	return r.states[len(r.states)-1]
}

func upTo(n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

func (n *node) start(t *testing.T, m *Merchant, info VisitorInfo) (Turn, string) {
	t.Helper()
	c, token, err := n.StartConversation(context.Background(), m, info)
	require.NoError(t, err)
	return c.Turn(), token
}

// stored starts a conversation and stores it at once, as its first step
// would, with nothing in its transcript: for tests that watch it before the
// visitor says anything.
func (n *node) stored(t *testing.T, m *Merchant, info VisitorInfo) Turn {
	t.Helper()
	turn, _ := n.start(t, m, info)
	op := applyOp{convID: turn.ConversationID, merchant: m.ID, on: EventWrite, now: time.Now()}
	var err error
	op.create, op.enter, err = n.storing(context.Background(), turn)
	require.NoError(t, err)
	res, err := n.apply(context.Background(), op)
	require.NoError(t, err)
	require.Equal(t, "ok", res.code)
	return turn.Stored()
}

func TestSeqContiguousAndClientIDsStoredOnce(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Seq", nil, "")
	require.NoError(t, err)
	turn := n.stored(t, m, VisitorInfo{})
	turn.Status = StatusQueued // no assistant replies: only the visitor's entries

	// Twenty writers, each sending its five messages twice.
	var wg sync.WaitGroup
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				id := fmt.Sprintf("w%d-%d", w, i%5)
				require.NoError(t, n.VisitorMessage(ctx, turn, id, "hello "+id))
			}
		}()
	}
	wg.Wait()
	entries, err := n.readEntries(ctx, turn.ConversationID, 0)
	require.NoError(t, err)
	require.Len(t, entries, 100)
	seen := map[string]bool{}
	for i, e := range entries {
		msg, err := e.Decode()
		require.NoError(t, err)
		require.EqualValues(t, i+1, msg.Seq)
		require.False(t, seen[msg.ClientID], "client_id %s stored twice", msg.ClientID)
		seen[msg.ClientID] = true
	}
}

// TestLongConversationsFindClientIDsByHash: a conversation's client-id
// hash becomes a hash table once it is long (a listpack is scanned on every
// lookup, up to 512 entries), on the lean append path and on apply.lua's,
// and a retried client id is still found there; short ones stay compact.
func TestLongConversationsFindClientIDsByHash(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   Status // StatusQueued: append.lua; StatusAssistant: apply.lua (the assistant answers each)
		messages int
		encoding string
	}{
		{"short, append", StatusQueued, 10, "listpack"},
		{"long, append", StatusQueued, 100, "hashtable"},
		{"long, apply", StatusAssistant, 100, "hashtable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, ctx := newTestNode(t)
			m, err := n.CreateMerchant(ctx, "Long", nil, "")
			require.NoError(t, err)
			turn := n.stored(t, m, VisitorInfo{})
			turn.Status = tc.status
			for i := range tc.messages {
				require.NoError(t, n.VisitorMessage(ctx, turn, fmt.Sprintf("c%d", i), "hello"))
			}
			if !sessiontest.Shared(t).Embedded { // miniredis has no encodings
				_, _, cids := n.convKeys(turn.ConversationID)
				enc, err := n.rdb.ObjectEncoding(ctx, cids).Result()
				require.NoError(t, err)
				require.Equal(t, tc.encoding, enc)
			}

			before, err := n.readEntries(ctx, turn.ConversationID, 0)
			require.NoError(t, err)
			require.NoError(t, n.VisitorMessage(ctx, turn, "c3", "hello"), "a retry is answered, not refused")
			after, err := n.readEntries(ctx, turn.ConversationID, 0)
			require.NoError(t, err)
			require.Len(t, after, len(before), "a retried client id is stored once")
			visitor := 0
			for _, e := range after {
				msg, err := e.Decode()
				require.NoError(t, err)
				if msg.Role == RoleVisitor {
					visitor++
					require.NotEmpty(t, msg.ClientID)
				}
			}
			require.Equal(t, tc.messages, visitor)
		})
	}
}

func TestFeedDeliversInOrderAndFillsGaps(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	a := newNode(t, rdb, prefix) // writes
	b := newNode(t, rdb, prefix) // watches
	ctx := context.Background()
	m, err := a.CreateMerchant(ctx, "Gaps", nil, "")
	require.NoError(t, err)
	turn := a.stored(t, m, VisitorInfo{})
	turn.Status = StatusQueued

	rec := &recorder{}
	f := b.Hub().WatchConversation(ctx, turn.ConversationID, 0, rec)
	defer f.Stop()
	require.NoError(t, a.VisitorMessage(ctx, turn, "m1", "one"))
	require.NoError(t, a.VisitorMessage(ctx, turn, "m2", "two"))
	require.Eventually(t, func() bool { return len(rec.seqs()) == 2 }, 3*time.Second, 5*time.Millisecond)

	// Entries that reach the transcript without a signal (as when a node
	// misses pub/sub) are found by the next signal's gap.
	for i := 3; i <= 5; i++ {
		e := entryTail{ID: fmt.Sprintf("x%d", i), Role: RoleVisitor, Text: "silent", TS: Time{time.Now()}}.encode()
		require.NoError(t, rdb.RPush(ctx, a.keys.convLog(turn.ConversationID), fmt.Sprintf(`{"seq":%d,%s`, i, e)).Err())
		require.NoError(t, rdb.HSet(ctx, a.keys.convMeta(turn.ConversationID), fSeq, i).Err())
	}
	require.NoError(t, a.VisitorMessage(ctx, turn, "m6", "six"))
	require.Eventually(t, func() bool { return len(rec.seqs()) == 6 }, 3*time.Second, 5*time.Millisecond)
	require.Equal(t, upTo(6), rec.seqs())

	// A second watcher that starts at a cursor gets exactly what follows.
	rec2 := &recorder{}
	f2 := b.Hub().WatchConversation(ctx, turn.ConversationID, 4, rec2)
	defer f2.Stop()
	require.Eventually(t, func() bool { return len(rec2.seqs()) == 2 }, 3*time.Second, 5*time.Millisecond)
	require.Equal(t, []int64{5, 6}, rec2.seqs())
	require.Equal(t, StatusAssistant, rec2.lastState().Status)
}

// TestHubCatchesUpAfterSubscriptionLoss kills the node's pub/sub connection
// in Redis; what is written meanwhile arrives once the node resubscribes.
func TestHubCatchesUpAfterSubscriptionLoss(t *testing.T) {
	if sessiontest.Shared(t).Embedded {
		t.Skip("needs CLIENT KILL, which the embedded store lacks")
	}
	rdb, prefix := sessiontest.Redis(t)
	a := newNode(t, rdb, prefix)
	name := "watcher-" + strings.TrimSuffix(prefix, ":")
	// Options of its own, from the URL: copying the running client's
	// Options raced with go-redis writing to them as it opened connections.
	bopt, err := redis.ParseURL(sessiontest.Shared(t).URL)
	require.NoError(t, err)
	bopt.ClientName = name
	brdb := redis.NewClient(bopt)
	defer brdb.Close()
	b := newNode(t, brdb, prefix)
	ctx := context.Background()
	m, err := a.CreateMerchant(ctx, "Loss", nil, "")
	require.NoError(t, err)
	turn := a.stored(t, m, VisitorInfo{})
	turn.Status = StatusQueued
	rec := &recorder{}
	f := b.Hub().WatchConversation(ctx, turn.ConversationID, 0, rec)
	defer f.Stop()
	require.NoError(t, a.VisitorMessage(ctx, turn, "m1", "one"))
	require.Eventually(t, func() bool { return len(rec.seqs()) == 1 }, 3*time.Second, 5*time.Millisecond)

	// Kill b's subscriber connection, and write while it is down.
	list, err := rdb.ClientList(ctx).Result()
	require.NoError(t, err)
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name="+name+" ") && !strings.Contains(line, " sub=0 ") {
			id := strings.TrimPrefix(strings.Fields(line)[0], "id=")
			require.NoError(t, rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err())
			killed++
		}
	}
	require.Equal(t, 1, killed, "one subscriber connection of node b")
	for i := 2; i <= 4; i++ {
		require.NoError(t, a.VisitorMessage(ctx, turn, fmt.Sprintf("m%d", i), "while down"))
	}
	require.Eventually(t, func() bool { return len(rec.seqs()) == 4 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, upTo(4), rec.seqs())
}

func TestClaimHasExactlyOneWinner(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Claims", nil, "")
	require.NoError(t, err)
	turn, _ := n.start(t, m, VisitorInfo{Email: "v@example.com"})
	require.NoError(t, n.RequestHandoff(ctx, turn))
	turn.Status = StatusHandoffOffered
	require.NoError(t, n.ReplyToOffer(ctx, turn, true))

	var actors []Actor
	for i := 0; i < 16; i++ {
		a, err := n.CreateAgent(ctx, m.ID, fmt.Sprintf("a%d@example.com", i), fmt.Sprintf("A%d", i), "password1", false)
		require.NoError(t, err)
		actors = append(actors, a.Actor())
	}
	var wg sync.WaitGroup
	errs := make([]error, len(actors))
	for i, a := range actors {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = n.Claim(ctx, a, turn.ConversationID) }()
	}
	wg.Wait()
	winners := 0
	for _, err := range errs {
		if err == nil {
			winners++
			continue
		}
		require.Equal(t, "already_claimed", ErrorOf(err).Code)
	}
	require.Equal(t, 1, winners)
	snap, err := n.queueSnapshot(ctx, m.ID, nil, nil)
	require.NoError(t, err)
	require.Empty(t, snap.Conversations)
}

func TestQueueIndexIsVerifiedAgainstConversations(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Queue", nil, "")
	require.NoError(t, err)
	var turns []Turn
	for i := 0; i < 3; i++ {
		turn, _ := n.start(t, m, VisitorInfo{Email: fmt.Sprintf("v%d@example.com", i)})
		require.NoError(t, n.RequestHandoff(ctx, turn))
		turn.Status = StatusHandoffOffered
		require.NoError(t, n.ReplyToOffer(ctx, turn, true))
		turns = append(turns, turn)
		time.Sleep(2 * time.Millisecond) // distinct queued_at, so the order is known
	}
	// An entry left behind by a step that never completed, and one for a
	// conversation that moved on.
	require.NoError(t, n.rdb.ZAdd(ctx, n.keys.queue(m.ID), zmember(1, queueMember("c_ghost", "q_x"))).Err())
	require.NoError(t, n.CloseByVisitor(ctx, turns[1]))

	snap, err := n.queueSnapshot(ctx, m.ID, nil, nil)
	require.NoError(t, err)
	require.Len(t, snap.Conversations, 2)
	require.Equal(t, turns[0].ConversationID, snap.Conversations[0].ID)
	require.Equal(t, turns[2].ConversationID, snap.Conversations[1].ID)
	require.Equal(t, 1, snap.Position(turns[0].ConversationID))
	require.Equal(t, 2, snap.Position(turns[2].ConversationID))
	n2, err := n.rdb.ZCard(ctx, n.keys.queue(m.ID)).Result()
	require.NoError(t, err)
	require.EqualValues(t, 2, n2, "stale entries are removed")

	var frame struct {
		Type          string            `json:"type"`
		Conversations []json.RawMessage `json:"conversations"`
		Total         int               `json:"total"`
	}
	require.NoError(t, json.Unmarshal(snap.Frame(), &frame))
	require.Equal(t, "queue", frame.Type)
	require.Equal(t, 2, frame.Total)
}

func TestReleaseKeepsThePlaceInTheQueue(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Release", nil, "")
	require.NoError(t, err)
	a, err := n.CreateAgent(ctx, m.ID, "r@example.com", "R", "password1", false)
	require.NoError(t, err)
	var turns []Turn
	for i := 0; i < 2; i++ {
		turn, _ := n.start(t, m, VisitorInfo{Email: "v@example.com"})
		require.NoError(t, n.RequestHandoff(ctx, turn))
		turn.Status = StatusHandoffOffered
		require.NoError(t, n.ReplyToOffer(ctx, turn, true))
		turns = append(turns, turn)
		time.Sleep(2 * time.Millisecond) // distinct queued_at
	}
	_, err = n.Claim(ctx, a.Actor(), turns[0].ConversationID)
	require.NoError(t, err)
	got, err := n.Release(ctx, a.Actor(), turns[0].ConversationID)
	require.NoError(t, err)
	require.Equal(t, StatusQueued, got.Status)
	require.Equal(t, 1, got.QueuePosition)
	snap, err := n.queueSnapshot(ctx, m.ID, nil, nil)
	require.NoError(t, err)
	require.Equal(t, 1, snap.Position(turns[0].ConversationID))
	require.Equal(t, 2, snap.Position(turns[1].ConversationID))
	mine, err := n.AssignedTo(ctx, a.Actor())
	require.NoError(t, err)
	require.Empty(t, mine)
}

func TestMetricsCountResolvedAndRouted(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Metrics", nil, "")
	require.NoError(t, err)
	// Resolved: engaged, ended without a handoff.
	t1, _ := n.start(t, m, VisitorInfo{})
	require.NoError(t, n.VisitorMessage(ctx, t1, "a", "shipping?"))
	require.NoError(t, n.CloseByVisitor(ctx, t1))
	// Routed: asked for a person and was queued, then closed.
	t2, _ := n.start(t, m, VisitorInfo{Email: "x@example.com"})
	require.NoError(t, n.VisitorMessage(ctx, t2, "a", "human please"))
	t2.Status = StatusHandoffOffered
	require.NoError(t, n.ReplyToOffer(ctx, t2, true))
	require.NoError(t, n.CloseByVisitor(ctx, t2))
	// Never engaged: not counted at all.
	t3, _ := n.start(t, m, VisitorInfo{})
	require.NoError(t, n.CloseByVisitor(ctx, t3))
	// Engaged and still open.
	t4, _ := n.start(t, m, VisitorInfo{})
	require.NoError(t, n.VisitorMessage(ctx, t4, "a", "hi"))

	today := time.Now().UTC().Format(time.DateOnly)
	got, err := n.Metrics(ctx, m.ID, today, today)
	require.NoError(t, err)
	require.EqualValues(t, 3, got.Conversations)
	require.EqualValues(t, 1, got.ResolvedByAssistant)
	require.EqualValues(t, 1, got.RoutedToTeam)
	require.InDelta(t, 0.3333, got.ResolutionRate, 0.0001)
	require.EqualValues(t, 1, got.Open)

	_, err = n.Metrics(ctx, m.ID, today, "2000-01-01")
	require.Equal(t, KindInvalid, ErrorOf(err).Kind)
}

func TestStatesReachWatchersWithVersions(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "States", nil, "")
	require.NoError(t, err)
	turn := n.stored(t, m, VisitorInfo{})
	rec := &recorder{}
	f := n.Hub().WatchConversation(ctx, turn.ConversationID, 0, rec)
	defer f.Stop()
	require.Eventually(t, func() bool { return rec.lastState().Status == StatusAssistant }, 3*time.Second, 5*time.Millisecond)

	require.NoError(t, n.VisitorMessage(ctx, turn, "h", "human"))
	require.Eventually(t, func() bool { return rec.lastState().Status == StatusHandoffOffered }, 3*time.Second, 5*time.Millisecond)
	require.NotEmpty(t, rec.lastState().Prompt)
	turn.Status = StatusHandoffOffered
	require.NoError(t, n.ReplyToOffer(ctx, turn, true))
	require.Eventually(t, func() bool { return rec.lastState().Status == StatusAwaitingEmail }, 3*time.Second, 5*time.Millisecond)
	turn.Status = StatusAwaitingEmail
	err = n.SubmitEmail(ctx, turn, "nope")
	require.Equal(t, "invalid_email", ErrorOf(err).Code)
	require.NoError(t, n.SubmitEmail(ctx, turn, "ok@example.com"))
	require.Eventually(t, func() bool { return rec.lastState().Status == StatusQueued }, 3*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, rec.lastState().QueuePosition)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := 1; i < len(rec.states); i++ {
		require.Greater(t, rec.states[i].Version, rec.states[i-1].Version)
	}
	// visitor, offer (state only), ... , the queued notice
	require.Equal(t, RoleSystem, func() Role { m, _ := rec.entries[len(rec.entries)-1].Decode(); return m.Role }())
}

func TestIdentifyWhileAskedForEmailRoutes(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Identify", nil, "")
	require.NoError(t, err)
	turn, _ := n.start(t, m, VisitorInfo{})
	require.NoError(t, n.RequestHandoff(ctx, turn))
	turn.Status = StatusHandoffOffered
	require.NoError(t, n.ReplyToOffer(ctx, turn, true))
	c, _, err := n.Conversation(ctx, m.ID, turn.ConversationID)
	require.NoError(t, err)
	require.Equal(t, StatusAwaitingEmail, c.Status)

	_, err = n.Identify(ctx, turn, VisitorInfo{Email: "signed@example.com", ProfileID: "p-9", Authenticated: true})
	require.NoError(t, err)
	c, _, err = n.Conversation(ctx, m.ID, turn.ConversationID)
	require.NoError(t, err)
	require.Equal(t, StatusQueued, c.Status, "signing in with an address answers the email request")
	require.Equal(t, NullString("signed@example.com"), c.Visitor.Email)
	require.Equal(t, NullString("p-9"), c.Visitor.ProfileID)
	require.True(t, c.Visitor.Authenticated)
}

// TestQueueSnapshotFromThePreviousOne: a snapshot built from the last one
// re-reads only the conversations announced as changed.
func TestQueueSnapshotFromThePreviousOne(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Incremental", nil, "")
	require.NoError(t, err)
	a, err := n.CreateAgent(ctx, m.ID, "inc@example.com", "Inc", "password1", false)
	require.NoError(t, err)
	var turns []Turn
	for i := 0; i < 3; i++ {
		turn, _ := n.start(t, m, VisitorInfo{Email: "v@example.com"})
		require.NoError(t, n.RequestHandoff(ctx, turn))
		turn.Status = StatusHandoffOffered
		require.NoError(t, n.ReplyToOffer(ctx, turn, true))
		turns = append(turns, turn)
		time.Sleep(2 * time.Millisecond)
	}
	first, err := n.queueSnapshot(ctx, m.ID, nil, nil)
	require.NoError(t, err)
	require.Len(t, first.Conversations, 3)

	_, err = n.Claim(ctx, a.Actor(), turns[1].ConversationID)
	require.NoError(t, err)
	// A change nobody announced to this builder is not seen: the point of
	// building from the last snapshot. (Real changes are all announced.)
	require.NoError(t, n.rdb.HSet(ctx, n.keys.convMeta(turns[2].ConversationID), fLast, "").Err())

	next, err := n.queueSnapshot(ctx, m.ID, first, map[string]bool{turns[1].ConversationID: true})
	require.NoError(t, err)
	require.Len(t, next.Conversations, 2)
	require.Equal(t, turns[0].ConversationID, next.Conversations[0].ID)
	require.Equal(t, turns[2].ConversationID, next.Conversations[1].ID)
	require.Equal(t, 2, next.Position(turns[2].ConversationID))
	require.NotNil(t, next.Conversations[1].LastMessage, "taken from the previous snapshot, not re-read")
	require.Equal(t, 3, first.Conversations[2].QueuePosition, "the previous snapshot is left as it was")
}

// TestAssignedToKeepsAnAssignmentInFlight: the assign script writes the
// agent's index before the claim's step, so a listing in between (a console
// connecting, /v1/agent/me) must not take the entry away; ended and
// someone else's conversations still go. (Before: the entry was removed
// and the agent's load read 0 right after agent_joined.)
func TestAssignedToKeepsAnAssignmentInFlight(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "In flight", nil, "")
	require.NoError(t, err)
	a, err := n.CreateAgent(ctx, m.ID, "f@example.com", "F", "password1", false)
	require.NoError(t, err)
	b, err := n.CreateAgent(ctx, m.ID, "g@example.com", "G", "password1", false)
	require.NoError(t, err)
	var convs []string
	for i := 0; i < 3; i++ {
		turn, _ := n.start(t, m, VisitorInfo{Email: fmt.Sprintf("v%d@example.com", i)})
		require.NoError(t, n.RequestHandoff(ctx, turn))
		turn.Status = StatusHandoffOffered
		require.NoError(t, n.ReplyToOffer(ctx, turn, true))
		convs = append(convs, turn.ConversationID)
	}
	_, err = n.Claim(ctx, b.Actor(), convs[1]) // someone else's
	require.NoError(t, err)
	_, err = n.CloseByAgent(ctx, b.Actor(), convs[1])
	require.NoError(t, err)
	_, err = n.Claim(ctx, b.Actor(), convs[2])
	require.NoError(t, err)
	key := n.keys.assigned(m.ID, a.ID)
	require.NoError(t, n.rdb.SAdd(ctx, key, convs[0], convs[1], convs[2], "c_gone").Err())

	mine, err := n.AssignedTo(ctx, a.Actor())
	require.NoError(t, err)
	require.Empty(t, mine)
	left, err := n.rdb.SMembers(ctx, key).Result()
	require.NoError(t, err)
	require.Equal(t, []string{convs[0]}, left, "only the queued one may still become theirs")

	_, err = n.claim(ctx, a.Actor(), convs[0], false)
	require.NoError(t, err)
	mine, err = n.AssignedTo(ctx, a.Actor())
	require.NoError(t, err)
	require.Len(t, mine, 1)
	require.Equal(t, convs[0], mine[0].ID)
}
