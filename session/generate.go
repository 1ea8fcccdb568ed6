package session

import (
	"context"
	"strings"
	"sync"
	"time"
)

// The model-backed assistant. A visitor's message is stored at once, as
// always; its answer is written afterwards by the model, streamed to the
// visitor's sockets as a draft (never stored), and stored as one entry when
// done, by a step that runs only while the assistant still has the
// conversation: a visitor who asks for a person, or anyone who changes the
// conversation's status meanwhile, drops the draft, and the assistant never
// talks over a person. When the model fails or takes too long, the built-in
// assistant answers instead, or the handoff offer comes: the visitor never
// waits past the timeout for some answer.

// ModelOptions configure the model-backed assistant.
type ModelOptions struct {
	Model    Model
	Embedder Embedder // nil: the built-in retriever picks the entries
	// Timeout bounds the wait for an answer, from the visitor's message to
	// the answer (or the fallback) being stored (20s).
	Timeout time.Duration
	// Concurrency is how many generations run at once on a node (8);
	// Queue how many more may wait for a slot (64). Beyond that the
	// built-in assistant answers at once, so a slow model cannot take a
	// node's memory or goroutines.
	Concurrency int
	Queue       int
	// Entries is how many of the merchant's entries the model sees (8).
	Entries int
	// History is how many earlier transcript entries it sees (30).
	History int
}

func (o ModelOptions) withDefaults() ModelOptions {
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.Entries <= 0 {
		o.Entries = 8
	}
	if o.History <= 0 {
		o.History = 30
	}
	return o
}

// Retriever finds the entries most relevant to a question, best first. The
// built-in assistant is one; with none, the model sees the first entries.
type Retriever interface {
	Retrieve(ks *KnowledgeSet, text string, k int) []KnowledgeEntry
}

// DraftEvent is a streamed answer's progress: text to add to draft ID, or
// the draft dropped (its answer will not come).
type DraftEvent struct {
	ID      string
	Delta   string
	Dropped bool
}

// DraftWatcher is a ConversationWatcher that also follows drafts (visitor
// sockets do). Calls come in order for one draft and must not block.
type DraftWatcher interface {
	Draft(convID string, d DraftEvent)
}

// generator runs generations, a bounded number at a time.
type generator struct {
	svc   *Service
	opts  ModelOptions
	slots chan struct{}
	queue chan struct{} // a token per waiting generation

	vectors vectorCache

	mu      sync.Mutex
	running map[string]*generation // by conversation, on this node
	wg      sync.WaitGroup
}

// generation is one answer being written.
type generation struct {
	convID   string
	draftID  string
	cancel   context.CancelFunc
	mu       sync.Mutex
	streamed bool // a delta reached the sockets
	dropped  bool
}

func newGenerator(s *Service, o ModelOptions) *generator {
	o = o.withDefaults()
	return &generator{svc: s, opts: o, slots: make(chan struct{}, o.Concurrency), queue: make(chan struct{}, o.Queue),
		running: map[string]*generation{}}
}

// ask is what a generation needs to know of the visitor's message.
type ask struct {
	turn     Turn
	merchant *Merchant
	text     string
	cursor   int64     // the seq of the visitor's message
	at       time.Time // when it arrived: the timeout counts from here
	builtin  Answer    // the built-in assistant's answer, the fallback
}

// start begins answering a; an answer still being written for the same
// conversation on this node is dropped (the new one sees both messages).
func (g *generator) start(a ask) {
	ctx, cancel := context.WithDeadline(context.WithoutCancel(g.svc.runCtx()), a.at.Add(g.opts.Timeout))
	gen := &generation{convID: a.turn.ConversationID, draftID: newID("d", 8), cancel: cancel}
	g.mu.Lock()
	prev := g.running[gen.convID]
	g.running[gen.convID] = gen
	g.mu.Unlock()
	if prev != nil {
		prev.cancel()
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer cancel()
		g.run(ctx, gen, a)
		g.mu.Lock()
		if g.running[gen.convID] == gen {
			delete(g.running, gen.convID)
		}
		g.mu.Unlock()
	}()
}

// fallbackBudget is kept back from the timeout for the answer that replaces
// a failed model's: the built-in assistant and one Redis step.
const fallbackBudget = 500 * time.Millisecond

func (g *generator) run(ctx context.Context, gen *generation, a ask) {
	s := g.svc
	log := s.log.With("conversation", gen.convID, "draft", gen.draftID)
	// Anything that moves the conversation on ends the generation: a
	// request for a person on any node, a claim, a close.
	watch := s.hub.WatchConversation(ctx, gen.convID, a.cursor, statusWatch{gen: gen})
	defer watch.Stop()

	modelCtx, cancelModel := context.WithDeadline(ctx, a.at.Add(g.opts.Timeout-min(fallbackBudget, g.opts.Timeout/4)))
	defer cancelModel()
	ans, err := g.answer(modelCtx, gen, a)
	_ = s.Typing(context.WithoutCancel(ctx), gen.convID, RoleAssistant, false)
	if ctx.Err() != nil && !isDeadline(ctx) || gen.wasDropped() {
		// Dropped: the visitor or the team moved on. Nothing more to say.
		g.drop(gen)
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err != nil {
		kind := ModelErrorKindOf(err)
		log.Warn("the model failed; the built-in assistant answers instead", "kind", kind, "err", err)
		s.countModel(fctx, a.merchant, ModelUsage{}, true)
		g.drop(gen)
		g.fallback(fctx, a, ReasonModelError)
		return
	}
	s.countModel(fctx, a.merchant, ans.Usage, false)
	op := applyOp{convID: gen.convID, merchant: a.merchant.ID, on: EventAnswer, now: s.now()}
	switch {
	case ans.Handoff:
		g.drop(gen)
		s.planHandoff(a.merchant, a.turn, ReasonModelHandoff, ans.Reason, &op)
	case strings.TrimSpace(ans.Text) == "":
		g.drop(gen)
		g.fallback(fctx, a, ReasonUnsure)
		return
	case len(ans.Sources) == 0 && a.builtin.Kind != SmallTalk:
		// Not from the entries, and not a greeting: not sent as knowledge.
		log.Info("the model's answer cited no entry; not sent")
		g.drop(gen)
		g.fallback(fctx, a, ReasonUnsure)
		return
	default:
		e := s.assistantEntry(ans.Text, op.now)
		e.Sources, e.DraftID = ans.Sources, gen.draftID
		op.condEntries = []entryTail{e}
	}
	res, err := s.apply(fctx, op)
	if err != nil {
		log.Warn("storing the model's answer", "err", err)
		g.drop(gen)
		return
	}
	if res.code != "ok" {
		g.drop(gen) // the conversation moved on just now
	}
}

// answer asks the model, streaming its deltas to the conversation's
// sockets. Deltas are gathered for a moment so a fast model costs a
// publication per few words, not per token; all are out before the answer
// is stored, so no delta follows its message.
func (g *generator) answer(ctx context.Context, gen *generation, a ask) (ModelAnswer, error) {
	s := g.svc
	select {
	case g.queue <- struct{}{}:
	default:
		return ModelAnswer{}, &ModelError{Kind: ModelUnavailable, Message: "too many answers being written on this node"}
	}
	select {
	case g.slots <- struct{}{}:
		<-g.queue
	case <-ctx.Done():
		<-g.queue
		return ModelAnswer{}, ctx.Err()
	}
	defer func() { <-g.slots }()
	_ = s.Typing(ctx, gen.convID, RoleAssistant, true)
	req, err := g.request(ctx, a)
	if err != nil {
		return ModelAnswer{}, err
	}
	var buf strings.Builder
	last := time.Now()
	flush := func() {
		if buf.Len() == 0 {
			return
		}
		text := buf.String()
		buf.Reset()
		last = time.Now()
		s.publishDraft(ctx, gen, DraftEvent{ID: gen.draftID, Delta: text})
	}
	start := time.Now()
	ans, err := s.gen.opts.Model.Answer(ctx, req, func(text string) {
		buf.WriteString(text)
		if buf.Len() >= draftFlushBytes || time.Since(last) >= draftFlushEvery {
			flush()
		}
	})
	s.obs.ModelCall("answer", time.Since(start), err)
	if err == nil && !ans.Handoff {
		flush()
	}
	return ans, err
}

// A draft's deltas go out at least this often, or when this much has
// gathered.
const (
	draftFlushEvery = 40 * time.Millisecond
	draftFlushBytes = 160
)

// request gathers what the model sees: the conversation so far and the
// merchant's most relevant entries.
func (g *generator) request(ctx context.Context, a ask) (ModelRequest, error) {
	s := g.svc
	from := max(0, a.cursor-int64(g.opts.History))
	raw, err := s.readEntries(ctx, a.turn.ConversationID, from)
	if err != nil {
		return ModelRequest{}, err
	}
	hist := make([]Message, 0, len(raw))
	for _, e := range raw {
		if msg, err := e.Decode(); err == nil && msg.Seq <= a.cursor {
			hist = append(hist, msg)
		}
	}
	entries, err := s.relevant(ctx, a.merchant, a.text, g.opts.Entries)
	if err != nil {
		return ModelRequest{}, err
	}
	return ModelRequest{MerchantID: a.merchant.ID, MerchantName: a.merchant.Name, Locale: a.turn.Locale,
		Instructions: a.merchant.Assistant.Instructions, History: hist, Entries: entries}, nil
}

// fallback answers a in the built-in assistant's way: its answer when it
// had one, else the merchant's handoff for reason.
func (g *generator) fallback(ctx context.Context, a ask, reason string) {
	s := g.svc
	op := applyOp{convID: a.turn.ConversationID, merchant: a.merchant.ID, on: EventAnswer, now: s.now()}
	switch a.builtin.Kind {
	case Answered, SmallTalk:
		e := s.assistantEntry(a.builtin.Text, op.now)
		if a.builtin.EntryID != "" {
			e.Sources = []string{a.builtin.EntryID}
		}
		op.condEntries = []entryTail{e}
	default:
		s.planHandoff(a.merchant, a.turn, reason, "", &op)
		if reason == ReasonUnsure {
			op.after = append(op.after, s.gapEdit(a.merchant, a.turn.ConversationID, a.text, op.now))
		}
	}
	if _, err := s.apply(ctx, op); err != nil {
		s.log.WarnContext(ctx, "storing the fallback answer", "conversation", a.turn.ConversationID, "err", err)
	}
}

// drop tells the sockets a draft will not be finished, once, if any of it
// reached them.
func (g *generator) drop(gen *generation) {
	gen.mu.Lock()
	send := gen.streamed && !gen.dropped
	gen.dropped = true
	gen.mu.Unlock()
	if send {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		g.svc.publishDraft(ctx, gen, DraftEvent{ID: gen.draftID, Dropped: true})
	}
}

func (gen *generation) wasDropped() bool {
	gen.mu.Lock()
	defer gen.mu.Unlock()
	return gen.dropped
}

// statusWatch ends a generation when its conversation leaves the
// assistant.
type statusWatch struct{ gen *generation }

func (w statusWatch) Entry(string, RawEntry)    {}
func (w statusWatch) Typing(string, Role, bool) {}
func (w statusWatch) Gone(string)               { w.gen.cancel() }
func (w statusWatch) State(_ string, st State) {
	if st.Status != StatusAssistant {
		w.gen.cancel()
	}
}

// publishDraft sends a draft event to this node's watchers at once and to
// the other nodes' through Redis.
func (s *Service) publishDraft(ctx context.Context, gen *generation, d DraftEvent) {
	if !d.Dropped {
		gen.mu.Lock()
		if gen.dropped {
			gen.mu.Unlock()
			return
		}
		gen.streamed = true
		gen.mu.Unlock()
	}
	s.hub.localDraft(gen.convID, d)
	payload := "d" + s.nodeID + " " + d.ID + " " + d.Delta
	if d.Dropped {
		payload = "D" + s.nodeID + " " + d.ID
	}
	if err := s.pub.conversation(ctx, s.rdb, s.keys.convChannel(gen.convID), payload); err != nil {
		s.log.DebugContext(ctx, "publishing a draft", "conversation", gen.convID, "err", err)
	}
}

// cancelDraft drops the answer being written for a conversation on this
// node at once, before whatever the caller does next (the visitor asked for
// a person: the draft goes before the offer comes; a generation on another
// node learns of it from the status change).
func (g *generator) cancelDraft(convID string) {
	g.mu.Lock()
	gen := g.running[convID]
	g.mu.Unlock()
	if gen != nil {
		gen.cancel()
		g.drop(gen)
	}
}

func (g *generator) close() { g.wg.Wait() }

func isDeadline(ctx context.Context) bool { return ctx.Err() == context.DeadlineExceeded }
