package session

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/batonchat/baton/session/sessiontest"
)

// fakeModel is a session.Model whose every answer a test scripts: the
// chunks it streams (each after a pause), then what it returns.
type fakeModel struct {
	mu    sync.Mutex
	reqs  []ModelRequest
	reply func(req ModelRequest) fakeReply
}

type fakeReply struct {
	chunks []string
	pause  time.Duration // before each chunk
	ans    ModelAnswer
	err    error
	hang   bool // never answers: only ctx ends it
}

func (f *fakeModel) Answer(ctx context.Context, req ModelRequest, delta func(string)) (ModelAnswer, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	r := f.reply(req)
	f.mu.Unlock()
	if r.hang {
		<-ctx.Done()
		return ModelAnswer{}, ctx.Err()
	}
	for _, c := range r.chunks {
		select {
		case <-time.After(r.pause):
		case <-ctx.Done():
			return ModelAnswer{}, ctx.Err()
		}
		delta(c)
	}
	if r.err != nil {
		return ModelAnswer{}, r.err
	}
	if r.ans.Text == "" && !r.ans.Handoff {
		r.ans.Text = strings.Join(r.chunks, "")
	}
	return r.ans, nil
}

func (f *fakeModel) Summarize(context.Context, ModelRequest) (string, ModelUsage, error) {
	return "summary", ModelUsage{}, nil
}

func (f *fakeModel) requests() []ModelRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ModelRequest(nil), f.reqs...)
}

// draftRecorder also follows drafts, as a visitor socket does.
type draftRecorder struct {
	recorder
	drafts []DraftEvent
}

func (r *draftRecorder) Draft(_ string, d DraftEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drafts = append(r.drafts, d)
}

func (r *draftRecorder) draftText(id string) (text string, dropped bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.drafts {
		if d.ID == id {
			text += d.Delta
			dropped = dropped || d.Dropped
		}
	}
	return text, dropped
}

func (r *draftRecorder) messages(t *testing.T) []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Message
	for _, e := range r.entries {
		m, err := e.Decode()
		require.NoError(t, err)
		out = append(out, m)
	}
	return out
}

func (r *draftRecorder) anyDraft() (DraftEvent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.drafts) == 0 {
		return DraftEvent{}, false
	}
	return r.drafts[0], true
}

func modelNode(t *testing.T, rdb redis.UniversalClient, prefix string, m Model, timeout time.Duration) *node {
	t.Helper()
	s := New(Options{Redis: rdb, Prefix: prefix, Assistant: fixedAssistant{}, Logger: slog.New(slog.DiscardHandler),
		BcryptCost: bcrypt.MinCost, Model: &ModelOptions{Model: m, Timeout: timeout}})
	s.Run(context.Background())
	t.Cleanup(s.Close)
	return &node{Service: s, rdb: rdb}
}

// modelShop is a merchant whose answers come from the model, with two
// entries.
func modelShop(t *testing.T, n *node) *Merchant {
	t.Helper()
	ctx := context.Background()
	m, err := n.CreateMerchant(ctx, "Model Shop", nil, "")
	require.NoError(t, err)
	_, err = n.SetKnowledge(ctx, m.ID, []KnowledgeEntry{
		{ID: "ship", Question: "How long does shipping take?", Answer: "Two working days."},
		{ID: "ret", Question: "Can I return an item?", Answer: "Within 30 days."},
	})
	require.NoError(t, err)
	_, err = n.SetAssistant(ctx, m.ID, AssistantSettings{Mode: ModeModel, Instructions: "Be brief."})
	require.NoError(t, err)
	m, err = n.Merchant(ctx, m.ID)
	require.NoError(t, err)
	return m
}

// watched stores a new conversation and watches it from w's node.
func watched(t *testing.T, writer, watcher *node, m *Merchant) (Turn, *draftRecorder) {
	t.Helper()
	turn := writer.stored(t, m, VisitorInfo{Email: "v@example.com"})
	rec := &draftRecorder{}
	f := watcher.Hub().WatchConversation(context.Background(), turn.ConversationID, 0, rec)
	t.Cleanup(f.Stop)
	return turn, rec
}

func TestModelAnswerStreamsThenStoresOneEntry(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	fm := &fakeModel{reply: func(ModelRequest) fakeReply {
		return fakeReply{chunks: []string{"Shipping ", "takes two ", "working days."}, pause: 60 * time.Millisecond,
			ans: ModelAnswer{Text: "Shipping takes two working days.", Sources: []string{"ship"}, Usage: ModelUsage{PromptTokens: 120, CompletionTokens: 9}}}
	}}
	a := modelNode(t, rdb, prefix, fm, 5*time.Second)
	b := modelNode(t, rdb, prefix, fm, 5*time.Second) // the conversation watched from another node
	m := modelShop(t, a)
	for name, watcher := range map[string]*node{"same node": a, "other node": b} {
		t.Run(name, func(t *testing.T) {
			turn, rec := watched(t, a, watcher, m)
			ctx := context.Background()
			require.NoError(t, a.VisitorMessage(ctx, turn, "q1", "how long is shipping"))
			var final Message
			require.Eventually(t, func() bool {
				msgs := rec.messages(t)
				if len(msgs) == 2 && msgs[1].Role == RoleAssistant {
					final = msgs[1]
					return true
				}
				return false
			}, 5*time.Second, 10*time.Millisecond)
			require.Equal(t, "Shipping takes two working days.", final.Text)
			require.Equal(t, []string{"ship"}, final.Sources)
			require.NotEmpty(t, final.DraftID)
			text, dropped := rec.draftText(final.DraftID)
			require.Equal(t, final.Text, text, "the deltas add up to the answer")
			require.False(t, dropped)

			// The draft is not in the transcript; the answer is, once.
			_, entries, err := a.Conversation(ctx, m.ID, turn.ConversationID)
			require.NoError(t, err)
			require.Len(t, entries, 2)
		})
	}
	// The model saw the entries and the conversation.
	req := fm.requests()[0]
	require.Equal(t, "Be brief.", req.Instructions)
	require.NotEmpty(t, req.Entries)
	require.Equal(t, "how long is shipping", req.History[len(req.History)-1].Text)
	today := time.Now().UTC().Format(time.DateOnly)
	got, err := a.Metrics(context.Background(), m.ID, today, today)
	require.NoError(t, err)
	require.EqualValues(t, 2, got.Model.Calls)
	require.EqualValues(t, 240, got.Model.PromptTokens)
}

func TestModelHandoffToolOffersAPersonWithItsReason(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	fm := &fakeModel{reply: func(ModelRequest) fakeReply {
		return fakeReply{ans: ModelAnswer{Handoff: true, Reason: "asks about a damaged parcel"}}
	}}
	n := modelNode(t, rdb, prefix, fm, 5*time.Second)
	m := modelShop(t, n)
	turn, rec := watched(t, n, n, m)
	ctx := context.Background()
	require.NoError(t, n.VisitorMessage(ctx, turn, "q1", "my parcel arrived broken"))
	require.Eventually(t, func() bool { return rec.lastState().Status == StatusHandoffOffered }, 5*time.Second, 10*time.Millisecond)
	turn.Status = StatusHandoffOffered
	require.NoError(t, n.ReplyToOffer(ctx, turn, true))
	c, _, err := n.Conversation(ctx, m.ID, turn.ConversationID)
	require.NoError(t, err)
	require.Equal(t, StatusQueued, c.Status)
	require.NotNil(t, c.Handoff)
	require.Equal(t, ReasonModelHandoff, c.Handoff.Reason)
	require.Equal(t, "asks about a damaged parcel", c.Handoff.Detail)
	require.Contains(t, c.Handoff.Summary, "my parcel arrived broken")
}

func TestModelFailureFallsBackWithinTheTimeout(t *testing.T) {
	cases := []struct {
		name   string
		reply  fakeReply
		text   string // the visitor's
		want   Status
		answer string // the fallback's text, when it answers
	}{
		{"500, the built-in assistant answers", fakeReply{err: &ModelError{Kind: ModelUnavailable, Status: 500, Message: "boom"}},
			"shipping?", StatusAssistant, "answer: shipping?"},
		{"429, the built-in assistant is unsure", fakeReply{err: &ModelError{Kind: ModelRateLimited, Status: 429, Message: "slow down"}},
			"?what", StatusHandoffOffered, ""},
		{"a hang", fakeReply{hang: true}, "shipping?", StatusAssistant, "answer: shipping?"},
		{"a hang mid-stream", fakeReply{chunks: []string{"Ship", "ping", " takes"}, pause: 600 * time.Millisecond}, "?x", StatusHandoffOffered, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rdb, prefix := sessiontest.Redis(t)
			fm := &fakeModel{reply: func(ModelRequest) fakeReply { return c.reply }}
			const timeout = time.Second
			n := modelNode(t, rdb, prefix, fm, timeout)
			m := modelShop(t, n)
			turn, rec := watched(t, n, n, m)
			start := time.Now()
			require.NoError(t, n.VisitorMessage(context.Background(), turn, "q1", c.text))
			require.Eventually(t, func() bool {
				if c.want == StatusHandoffOffered {
					return rec.lastState().Status == StatusHandoffOffered
				}
				msgs := rec.messages(t)
				return len(msgs) == 2
			}, 3*time.Second, 5*time.Millisecond)
			took := time.Since(start)
			require.Less(t, took, timeout+300*time.Millisecond, "the visitor waited past the timeout")
			msgs := rec.messages(t)
			require.Equal(t, "q1", msgs[0].ClientID, "the visitor's message is kept")
			if c.answer != "" {
				require.Equal(t, c.answer, msgs[1].Text)
			} else {
				c, _, err := n.Conversation(context.Background(), m.ID, turn.ConversationID)
				require.NoError(t, err)
				require.Equal(t, StatusHandoffOffered, c.Status)
				if d, ok := rec.anyDraft(); ok {
					_, dropped := rec.draftText(d.ID)
					require.True(t, dropped, "a draft the visitor saw is dropped")
				}
			}
		})
	}
}

func TestHandoffRequestDropsTheDraft(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	started := make(chan struct{}, 1)
	fm := &fakeModel{reply: func(ModelRequest) fakeReply {
		started <- struct{}{}
		return fakeReply{chunks: []string{"Ship", "ping ", "takes ", "two ", "days."}, pause: 150 * time.Millisecond,
			ans: ModelAnswer{Text: "Shipping takes two days.", Sources: []string{"ship"}}}
	}}
	a := modelNode(t, rdb, prefix, fm, 5*time.Second)
	b := modelNode(t, rdb, prefix, fm, 5*time.Second)
	m := modelShop(t, a)
	for name, asker := range map[string]*node{"on the writing node": a, "on another node": b} {
		t.Run(name, func(t *testing.T) {
			turn, rec := watched(t, a, a, m)
			ctx := context.Background()
			require.NoError(t, a.VisitorMessage(ctx, turn, "q1", "how long is shipping"))
			<-started
			var d DraftEvent
			require.Eventually(t, func() bool {
				var ok bool
				d, ok = rec.anyDraft()
				return ok
			}, 3*time.Second, 5*time.Millisecond)
			require.NoError(t, asker.RequestHandoff(ctx, turn))
			require.Eventually(t, func() bool { _, dropped := rec.draftText(d.ID); return dropped }, 3*time.Second, 5*time.Millisecond)
			// No answer follows, ever.
			time.Sleep(time.Second)
			for _, msg := range rec.messages(t) {
				require.NotEqual(t, RoleAssistant, msg.Role, "an answer after the request for a person: %q", msg.Text)
			}
			c, _, err := a.Conversation(ctx, m.ID, turn.ConversationID)
			require.NoError(t, err)
			require.Equal(t, StatusHandoffOffered, c.Status)
		})
	}
}

func TestUncitedModelAnswerIsNotSentAsKnowledge(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	fm := &fakeModel{reply: func(ModelRequest) fakeReply {
		return fakeReply{chunks: []string{"We ship to Mars for free."}, ans: ModelAnswer{Text: "We ship to Mars for free."}}
	}}
	n := modelNode(t, rdb, prefix, fm, 5*time.Second)
	m := modelShop(t, n)
	turn, rec := watched(t, n, n, m)
	require.NoError(t, n.VisitorMessage(context.Background(), turn, "q1", "?do you ship to mars"))
	require.Eventually(t, func() bool { return rec.lastState().Status == StatusHandoffOffered }, 5*time.Second, 10*time.Millisecond)
	for _, msg := range rec.messages(t) {
		require.NotContains(t, msg.Text, "Mars", "an answer citing no entry was sent")
	}
	d, ok := rec.anyDraft()
	require.True(t, ok)
	_, dropped := rec.draftText(d.ID)
	require.True(t, dropped)
}

func TestModelModeNeedsAModel(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "No Model", nil, "")
	require.NoError(t, err)
	_, err = n.SetAssistant(ctx, m.ID, AssistantSettings{Mode: ModeModel})
	require.Equal(t, "model_unavailable", ErrorOf(err).Code)
	require.Equal(t, KindRefused, ErrorOf(err).Kind)
	_, err = n.SetAssistant(ctx, m.ID, AssistantSettings{Mode: "oracle"})
	require.Equal(t, KindInvalid, ErrorOf(err).Kind)
}
