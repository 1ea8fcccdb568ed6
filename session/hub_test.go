package session

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/batonchat/baton/session/sessiontest"
)

// newTunedNode is newNode with the Hub adjusted before it starts.
func newTunedNode(t *testing.T, rdb redis.UniversalClient, prefix string, tune func(h *Hub)) *node {
	t.Helper()
	s := New(Options{Redis: rdb, Prefix: prefix, Assistant: fixedAssistant{}, Logger: slog.New(slog.DiscardHandler), BcryptCost: bcrypt.MinCost})
	tune(s.hub)
	ctx, cancel := context.WithCancel(context.Background())
	s.Run(ctx)
	t.Cleanup(func() { cancel(); s.Close() })
	return &node{Service: s, rdb: rdb}
}

// startTalking starts a conversation with one visitor message, so that its
// keys exist however lazily the store creates them.
func startTalking(t *testing.T, n *node, m *Merchant) Turn {
	t.Helper()
	turn, _ := n.start(t, m, VisitorInfo{})
	turn.Status = StatusQueued // the hint keeps the assistant out: one entry per message
	require.NoError(t, n.VisitorMessage(context.Background(), turn, "first", "hello"))
	return turn
}

// transcriptLen is the number of entries in the conversation's transcript.
func transcriptLen(t *testing.T, n *node, convID string) int64 {
	t.Helper()
	entries, err := n.readEntries(context.Background(), convID, 0)
	require.NoError(t, err)
	return int64(len(entries))
}

// rejoinFirst makes the first few unsubscribe calls race a re-join: before
// the UNSUBSCRIBE goes out, one of its rooms is watched again, and the
// call waits until that join has done all it does before returning. It is
// the interleaving that left rooms deaf, made certain; the churn around it
// tries the others.
type rejoinFirst struct {
	h      *Hub
	rejoin func(channel string) // starts a watch of channel's conversation
	mu     sync.Mutex
	left   int           // calls still to race
	want   string        // the channel whose join is awaited
	joined chan struct{} // closed when it has joined
}

func (r *rejoinFirst) unsubscribe(ctx context.Context, channels ...string) error {
	r.mu.Lock()
	race := r.left > 0
	if race {
		r.left--
		r.want, r.joined = channels[0], make(chan struct{})
	}
	joined := r.joined
	r.mu.Unlock()
	if race {
		r.rejoin(channels[0])
		<-joined
	}
	return r.h.classic().Unsubscribe(ctx, channels...)
}

func (r *rejoinFirst) racing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.left > 0
}

func (r *rejoinFirst) step(name, channel string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "joined" && channel == r.want {
		close(r.joined)
		r.want = ""
	}
}

// TestHubRoomsKeepHearingOtherNodesThroughJanitorChurn races the janitor's
// sweep against watches leaving and coming back on many rooms, then has
// another node write to every conversation: each room must still hear it.
// An UNSUBSCRIBE that lands after a re-join's SUBSCRIBE leaves a room deaf,
// which only this last step can see.
func TestHubRoomsKeepHearingOtherNodesThroughJanitorChurn(t *testing.T) {
	const rooms, cycles = 48, 30
	rdb, prefix := sessiontest.Redis(t)
	a := newNode(t, rdb, prefix) // writes
	ctx := context.Background()
	m, err := a.CreateMerchant(ctx, "Churn", nil, "")
	require.NoError(t, err)
	turns := make([]Turn, rooms)
	byChannel := map[string]Turn{}
	for i := range turns {
		turns[i] = startTalking(t, a, m)
		byChannel[a.keys.convChannel(turns[i].ConversationID)] = turns[i]
	}

	// Every watch a test makes, to check at the end.
	type watch struct {
		turn Turn
		rec  *recorder
		feed *Feed
	}
	var watchesMu sync.Mutex
	var watches []*watch
	var rejoins sync.WaitGroup
	var b *node
	race := &rejoinFirst{left: 3}
	race.rejoin = func(channel string) {
		rejoins.Add(1)
		go func() {
			defer rejoins.Done()
			w := &watch{turn: byChannel[channel], rec: &recorder{}}
			w.feed = b.Hub().WatchConversation(ctx, w.turn.ConversationID, 0, w.rec)
			watchesMu.Lock()
			watches = append(watches, w)
			watchesMu.Unlock()
		}()
	}
	b = newTunedNode(t, rdb, prefix, func(h *Hub) {
		h.sweepEvery = time.Hour // the test sweeps
		h.idleAfter = 0
		race.h = h
		h.unsubscribe = race.unsubscribe
		h.step = race.step
	})

	// Every room's watch leaves and comes back, over and over (at least
	// until the races are run), while the janitor sweeps; each ends watched.
	last := make([]*watch, rooms)
	var joins sync.WaitGroup
	joined := make(chan struct{})
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		for {
			b.hub.sweep(time.Now().Add(time.Hour))
			select {
			case <-joined:
				return
			default:
			}
		}
	}()
	for i := range turns {
		joins.Add(1)
		go func() {
			defer joins.Done()
			for c := 0; c < cycles || race.racing(); c++ {
				if last[i] != nil {
					last[i].feed.Stop()
				}
				w := &watch{turn: turns[i], rec: &recorder{}}
				w.feed = b.Hub().WatchConversation(ctx, turns[i].ConversationID, 0, w.rec)
				last[i] = w
			}
		}()
	}
	joins.Wait()
	close(joined)
	<-swept
	rejoins.Wait()
	watches = append(watches, last...)
	defer func() {
		for _, w := range watches {
			w.feed.Stop()
		}
	}()
	want := map[string]int{}
	for _, turn := range turns {
		want[turn.ConversationID] = int(transcriptLen(t, a, turn.ConversationID))
	}
	for _, w := range watches {
		require.Eventually(t, func() bool { return len(w.rec.seqs()) == want[w.turn.ConversationID] }, 5*time.Second, 5*time.Millisecond)
	}

	for _, turn := range turns {
		require.NoError(t, a.VisitorMessage(ctx, turn, "last", "are you there?"))
		want[turn.ConversationID]++
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var deaf []string
		for _, w := range watches {
			if len(w.rec.seqs()) != want[w.turn.ConversationID] {
				deaf = append(deaf, w.turn.ConversationID)
			}
		}
		require.Empty(c, deaf, "rooms that did not hear node a")
	}, 5*time.Second, 10*time.Millisecond)
}

// slowSubscriptions stands in for a Redis that takes the Hub's subscriptions
// (all but the control channel) only once release is called; until then
// what is published on them is lost to this node.
type slowSubscriptions struct {
	h       *Hub
	gate    chan struct{}
	once    sync.Once
	pending sync.WaitGroup
}

func (s *slowSubscriptions) subscribe(ctx context.Context, channels ...string) error {
	var now, later []string
	for _, ch := range channels {
		if ch == s.h.svc.keys.control() {
			now = append(now, ch)
		} else {
			later = append(later, ch)
		}
	}
	if len(later) > 0 {
		s.pending.Add(1)
		go func() {
			defer s.pending.Done()
			<-s.gate
			_ = s.h.classic().Subscribe(context.Background(), later...)
		}()
	}
	if len(now) > 0 {
		return s.h.classic().Subscribe(ctx, now...)
	}
	return nil
}

// release lets Redis take them; safe to call again (as a test's cleanup
// does, so that nothing waits on the gate after a failure).
func (s *slowSubscriptions) release() {
	s.once.Do(func() { close(s.gate) })
	s.pending.Wait()
}

// queueRecorder is a MerchantWatcher that keeps the last queue it was shown.
type queueRecorder struct {
	mu      sync.Mutex
	last    *QueueSnapshot
	resyncs int
}

func (q *queueRecorder) ConversationChanged(*Conversation, []byte) {}
func (q *queueRecorder) QueueChanged(s *QueueSnapshot) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.last = s
}
func (q *queueRecorder) Resync() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.resyncs++
}

func (q *queueRecorder) total() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last == nil {
		return -1
	}
	return q.last.Total
}

// TestHubLateConfirmationCatchesWatchersUp: a watch gives up waiting for its
// subscription and reads what there is; what is written before Redis
// confirms the subscription reaches no node's pub/sub. The confirmation,
// however late, must make every feed and merchant watcher of the room read
// again, or the tail stays unseen until some later signal.
func TestHubLateConfirmationCatchesWatchersUp(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	a := newNode(t, rdb, prefix) // writes
	var slow *slowSubscriptions
	b := newTunedNode(t, rdb, prefix, func(h *Hub) {
		h.readyWait = 20 * time.Millisecond
		slow = &slowSubscriptions{h: h, gate: make(chan struct{})}
		h.subscribe = slow.subscribe
	})
	t.Cleanup(slow.release) // before b closes
	ctx := context.Background()
	m, err := a.CreateMerchant(ctx, "Late", nil, "")
	require.NoError(t, err)
	turn := startTalking(t, a, m)
	n := transcriptLen(t, a, turn.ConversationID)

	// Two feeds of one conversation and a merchant watcher, none confirmed.
	recs := []*recorder{{}, {}}
	for _, rec := range recs {
		f := b.Hub().WatchConversation(ctx, turn.ConversationID, 0, rec)
		defer f.Stop()
	}
	q := &queueRecorder{}
	defer b.Hub().WatchMerchant(ctx, m.ID, q)()
	for _, rec := range recs {
		require.Eventually(t, func() bool { return len(rec.seqs()) == int(n) }, 5*time.Second, 5*time.Millisecond)
	}
	require.Eventually(t, func() bool { return q.total() == 0 }, 5*time.Second, 5*time.Millisecond)

	// Written while this node hears nothing: an entry, and a conversation
	// that joins the queue.
	require.NoError(t, a.VisitorMessage(ctx, turn, "tail", "the last words"))
	queued, _ := a.start(t, m, VisitorInfo{Email: "v@example.com"})
	require.NoError(t, a.VisitorMessage(ctx, queued, "q1", "hello"))
	require.NoError(t, a.RequestHandoff(ctx, queued))
	queued.Status = StatusHandoffOffered
	require.NoError(t, a.ReplyToOffer(ctx, queued, true))
	total, err := rdb.ZCard(ctx, a.keys.queue(m.ID)).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, total, "the conversation is queued")

	slow.release()
	for i, rec := range recs {
		require.Eventually(t, func() bool { return len(rec.seqs()) == int(n)+1 }, 5*time.Second, 5*time.Millisecond,
			"feed %d never saw the entry written before the confirmation", i)
		require.Equal(t, upTo(n+1), rec.seqs())
	}
	require.Eventually(t, func() bool { return q.total() == 1 }, 5*time.Second, 5*time.Millisecond,
		"the merchant watcher never saw the queue change made before the confirmation")
}

// TestHubConfirmationDuringFirstFillCatchesUp: the late confirmation lands
// while the feed's first fill is between its read and its delivery. The
// fill must read once more, or what was written before the confirmation
// stays unseen.
func TestHubConfirmationDuringFirstFillCatchesUp(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	a := newNode(t, rdb, prefix) // writes
	ctx := context.Background()
	m, err := a.CreateMerchant(ctx, "Refill", nil, "")
	require.NoError(t, err)
	turn := startTalking(t, a, m)
	n := transcriptLen(t, a, turn.ConversationID)

	var slow *slowSubscriptions
	read := make(chan struct{})
	resume := make(chan struct{})
	kicked := make(chan struct{})
	var once, kickOnce sync.Once
	b := newTunedNode(t, rdb, prefix, func(h *Hub) {
		h.readyWait = 20 * time.Millisecond
		slow = &slowSubscriptions{h: h, gate: make(chan struct{})}
		h.subscribe = slow.subscribe
		h.step = func(name, id string) {
			if id != turn.ConversationID {
				return
			}
			switch name {
			case "read":
				once.Do(func() { close(read); <-resume })
			case "kick":
				kickOnce.Do(func() { close(kicked) })
			}
		}
	})

	// Before b closes: nothing may wait on the test after a failure.
	var resumeOnce sync.Once
	resumeFill := func() { resumeOnce.Do(func() { close(resume) }) }
	t.Cleanup(func() { resumeFill(); slow.release() })

	rec := &recorder{}
	f := b.Hub().WatchConversation(ctx, turn.ConversationID, 0, rec)
	defer f.Stop()
	select {
	case <-read: // the first fill has read the transcript: n entries
	case <-time.After(5 * time.Second):
		t.Fatal("the feed never read the transcript")
	}
	require.NoError(t, a.VisitorMessage(ctx, turn, "tail", "written before the confirmation"))
	slow.release()
	select {
	case <-kicked:
	case <-time.After(5 * time.Second):
		t.Fatal("the late confirmation did not tell the feed to read again")
	}
	resumeFill()
	require.Eventually(t, func() bool { return len(rec.seqs()) == int(n)+1 }, 5*time.Second, 5*time.Millisecond,
		"the feed never saw the entry written before the confirmation")
	require.Equal(t, upTo(n+1), rec.seqs())
}

// TestFreshNodeHearsAccountChanges: a node that has just started and watches
// nothing yet (it serves only REST, or its first console is still opening)
// must hear at once that an account changed on another node. The control
// channel was subscribed only with the first watch, so a console that got
// its "ready" before that kept a disabled agent connected.
func TestFreshNodeHearsAccountChanges(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	a := newNode(t, rdb, prefix)
	ctx := context.Background()
	m, err := a.CreateMerchant(ctx, "Fresh Node", nil, "")
	require.NoError(t, err)
	_, err = a.CreateAgent(ctx, m.ID, "admin@example.com", "Admin", "password1", true)
	require.NoError(t, err)
	ag, err := a.CreateAgent(ctx, m.ID, "fresh@example.com", "Fresh", "password1", false)
	require.NoError(t, err)

	b := newNode(t, rdb, prefix)
	heard := make(chan string, 16)
	stop := b.OnAccountChange(func(_, agentID string) { heard <- agentID })
	defer stop()
	require.Eventually(t, func() bool {
		n, err := rdb.PubSubNumSub(ctx, b.keys.control()).Result()
		return err == nil && n[b.keys.control()] == 2
	}, 2*time.Second, 5*time.Millisecond, "both nodes subscribe to the control channel when they start, before anything is watched")

	disabled := true
	_, err = a.UpdateAgent(ctx, m.ID, ag.ID, AgentPatch{Disabled: &disabled})
	require.NoError(t, err)
	select {
	case id := <-heard:
		require.Contains(t, []string{ag.ID, ""}, id)
	case <-time.After(time.Second):
		t.Fatal("the fresh node did not hear of the disabled account")
	}
}

// TestLateControlConfirmationRechecksAccounts: what changed on other nodes
// before this node's control subscription was confirmed is not heard, so
// the confirmation itself has every account and merchant read again.
func TestLateControlConfirmationRechecksAccounts(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	release := make(chan struct{})
	b := newTunedNode(t, rdb, prefix, func(h *Hub) {
		h.subscribe = func(ctx context.Context, channels ...string) error {
			for _, ch := range channels {
				if ch == h.svc.keys.control() {
					select {
					case <-release:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
			}
			return h.classic().Subscribe(ctx, channels...)
		}
	})
	heard := make(chan string, 16)
	stop := b.OnAccountChange(func(_, agentID string) { heard <- agentID })
	defer stop()
	select {
	case id := <-heard:
		t.Fatalf("heard %q before the control channel was subscribed", id)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case id := <-heard:
		require.Equal(t, "", id, "every account is checked again")
	case <-time.After(2 * time.Second):
		t.Fatal("the control subscription's confirmation did not have the accounts checked again")
	}
}

// TestWatchesDuringClose: watches that start while the service stops (a
// socket's last frames) neither race close's wait for the Hub's goroutines
// (run with -race) nor hang it.
func TestWatchesDuringClose(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	for round := 0; round < 5; round++ {
		s := New(Options{Redis: rdb, Prefix: prefix, Assistant: fixedAssistant{}, Logger: slog.New(slog.DiscardHandler), BcryptCost: bcrypt.MinCost})
		ctx, cancel := context.WithCancel(context.Background())
		s.Run(ctx)
		m, err := s.CreateMerchant(context.Background(), "Closing "+itoa(int64(round)), nil, "")
		require.NoError(t, err)
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < 20; k++ {
					wctx, wcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
					stop := s.hub.WatchMerchant(wctx, m.ID, nopMerchantWatcher{})
					f := s.hub.WatchConversation(wctx, "c_closing"+itoa(int64(i)), 0, &recorder{})
					wcancel()
					stop()
					f.Stop()
				}
			}()
		}
		time.Sleep(time.Duration(round) * 3 * time.Millisecond)
		done := make(chan struct{})
		go func() { cancel(); s.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Close hung while watches were starting")
		}
		wg.Wait()
	}
}

type nopMerchantWatcher struct{}

func (nopMerchantWatcher) ConversationChanged(*Conversation, []byte) {}
func (nopMerchantWatcher) QueueChanged(*QueueSnapshot)               {}
func (nopMerchantWatcher) Resync()                                   {}
