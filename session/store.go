package session

import (
	"context"
	_ "embed"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/apply.lua
var applySource string

//go:embed scripts/append.lua
var appendSource string

// applyArgs are apply.lua's keys and arguments, in the script's order.
type applyArgs struct {
	Meta       string   `lua:"meta,key"`
	Log        string   `lua:"log,key"`
	Cids       string   `lua:"cids,key"` // client_id -> seq
	Channel    string   `lua:"channel"`  // the conversation's: entries and states
	Pub        string   `lua:"pub"`      // PUBLISH, or SPUBLISH on a cluster (see Service.pub)
	Need       string   `lua:"need"`     // ",s1,s2,": the statuses the step may run in
	Cond       string   `lua:"cond"`     // those its conditional part runs in ("" never)
	Agent      string   `lua:"agent"`    // the conversation must be assigned to this agent ("" any)
	ClientID   string   `lua:"client_id"`
	Now        int64    `lua:"now"`
	Status     string   `lua:"status"` // the conditional part's new status ("" keeps it)
	State      string   `lua:"state"`  // published with the new status
	MaxSeq     int64    `lua:"max_seq"`
	TTL        int64    `lua:"ttl"` // ms, for all three keys
	WantMeta   bool     `lua:"want_meta"`
	Team       string   `lua:"team"` // the merchant's channel, to announce the conditional part on ("" none)
	QueueMoved bool     `lua:"queue_moved"`
	ConvID     string   `lua:"conv_id"`
	Create     []string `lua:"create"` // field, value...: the conversation's first fields, if it is not stored yet
	Once       []string `lua:"once"`   // fields set to now if absent, whenever the step runs
	Fields     []string `lua:"fields"` // field, value...: set by the conditional part
	Base       []string `lua:"base"`   // entry tails appended whenever the step runs
	After      []string `lua:"after"`  // entry tails appended by the conditional part
}

// applyReply is what apply.lua answers.
type applyReply struct {
	Code     string            `lua:"code"` // ok, dup, nf, state, agent, full
	Status   string            `lua:"status"`
	Version  int64             `lua:"version"`
	Applied  bool              `lua:"applied"` // the conditional part ran
	Created  bool              `lua:"created"` // this step stored the conversation
	Once     string            `lua:"once"`    // "1" or "0" per once field: newly set
	Meta     map[string]string `lua:"meta"`    // with want_meta, after the step
	Was      map[string]string `lua:"was"`     // the values the fields replaced
	Holder   string            `lua:"holder"`  // refusals: who has the conversation
	Day      string            `lua:"day"`     // the conversation's metrics day
	FirstSeq int64             `lua:"first_seq"`
	Entries  []string          `lua:"entries"` // appended (dup: the stored one)
}

// appendArgs are append.lua's keys and arguments.
type appendArgs struct {
	Meta     string `lua:"meta,key"`
	Log      string `lua:"log,key"`
	Cids     string `lua:"cids,key"`
	Visitors string `lua:"visitors,key"` // the visitor's open sockets, as leases
	Channel  string `lua:"channel"`
	Pub      string `lua:"pub"` // PUBLISH, or SPUBLISH on a cluster (see Service.pub)
	Need     string `lua:"need"`
	Agent    string `lua:"agent"`
	ClientID string `lua:"client_id"`
	Entry    string `lua:"entry"` // the entry's tail
	Now      int64  `lua:"now"`
	MaxSeq   int64  `lua:"max_seq"`
	TTL      int64  `lua:"ttl"`
	Engage   bool   `lua:"engage"` // mark the conversation engaged, for metrics (once)
	// MarkReply: the agent's entry; the first one since the conversation
	// was given to them is reported.
	MarkReply bool `lua:"mark_reply"`
}

// appendReply is what append.lua answers.
type appendReply struct {
	Code    string `lua:"code"`
	Status  string `lua:"status"`
	Holder  string `lua:"holder"`
	Seq     int64  `lua:"seq"`
	Entry   string `lua:"entry"`
	Counted bool   `lua:"counted"` // this entry engaged the conversation
	Day     string `lua:"day"`
	// FirstReply: the agent's first entry since they were given the
	// conversation, which was queued at QueuedAt (ms).
	FirstReply bool  `lua:"first_reply"`
	QueuedAt   int64 `lua:"queued_at"`
	// MailDue: the visitor has no socket open: the agent's words are owed
	// to them by email.
	MailDue bool `lua:"mail_due"`
}

// applyOp is one atomic step on one conversation, described by the events
// of the transition table: the step runs in the statuses of on, and its
// conditional part (fields, condEntries, the new status) in those of then,
// or of on itself when then is empty. The step owns the merchant's indexes
// around it: enter is written before it (a conversation is never in a
// status without being listed there; see the package doc), taken back when
// the step is refused, and what the new status no longer needs is cleaned
// up after it.
type applyOp struct {
	convID      string
	merchant    string // whose team hears of the change, and whose indexes follow it
	on, then    Event
	agent       string // the conversation must be assigned to this agent
	clientID    string // deduplicates the first base entry
	now         time.Time
	state       State // published with the new status; Status is set from the table
	create      []string
	once        []string
	fields      []string // field, value, field, value...
	base        []entryTail
	condEntries []entryTail
	wantMeta    bool

	enter []indexEdit
	after []indexEdit // more writes once the step has applied
	// prepare adds reads to the round trip that writes enter; what it
	// returns completes the op from their answers.
	prepare func(ctx context.Context, pipe redis.Pipeliner) func(*applyOp)

	newStatus Status      // from the table, set by apply
	handoff   handoffNote // counted by the Observer when the step applies
}

// applyResult is what a step did.
type applyResult struct {
	code string // ok, dup, nf, state, agent, full
	// firstReply: an agent's first entry in this assignment, in a
	// conversation queued at queuedAt (ms).
	firstReply bool
	queuedAt   int64
	mailDue    bool // the visitor is owed an email
	status     Status
	version    int64
	applied    bool
	created    bool // this step stored the conversation
	once       []bool
	meta       map[string]string
	was        map[string]string
	agent      string // for state/agent refusals: who holds the conversation
	day        string // the conversation's metrics day
	entries    []RawEntry
}

// Limits on what one conversation may hold.
const (
	maxTranscript = 5000
	liveTTL       = 30 * 24 * time.Hour // refreshed by every write
	closedTTL     = 90 * 24 * time.Hour // kept after the end, for merchants' records
)

func (s *Service) convKeys(convID string) (meta, log, cids string) {
	return s.keys.convMeta(convID), s.keys.convLog(convID), s.keys.convClient(convID)
}

func (s *Service) apply(ctx context.Context, op applyOp) (*applyResult, error) {
	guard := transitions[op.on]
	cond := guard
	if op.then != "" {
		cond = transitions[op.then]
	}
	if len(op.enter) > 0 || op.prepare != nil {
		pipe := s.rdb.Pipeline()
		for _, e := range op.enter {
			e.write(ctx, pipe)
		}
		var finish func(*applyOp)
		if op.prepare != nil {
			finish = op.prepare(ctx, pipe)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		if finish != nil {
			finish(&op)
		}
	}
	op.newStatus = cond.to
	op.state.Status = cond.to
	a := applyArgs{
		Channel: s.keys.convChannel(op.convID), Pub: s.pub.command, Need: statusSet(guard.from...), Cond: statusSet(cond.from...),
		Agent: op.agent, ClientID: op.clientID, Now: op.now.UnixMilli(), Status: string(cond.to),
		MaxSeq: maxTranscript, TTL: liveTTL.Milliseconds(), WantMeta: op.wantMeta || cond.to != "" || len(op.create) > 0,
		QueueMoved: cond.queue, ConvID: op.convID, Create: op.create, Once: op.once, Fields: op.fields,
	}
	a.Meta, a.Log, a.Cids = s.convKeys(op.convID)
	if cond.to != "" {
		a.State = op.state.encode()
	}
	if cond.to.Terminal() {
		a.TTL = closedTTL.Milliseconds()
	}
	if cond.team && op.merchant != "" {
		a.Team = s.keys.merchantChannel(op.merchant)
	}
	a.Base = make([]string, len(op.base))
	for i, e := range op.base {
		a.Base[i] = e.encode()
	}
	a.After = make([]string, len(op.condEntries))
	for i, e := range op.condEntries {
		a.After[i] = e.encode()
	}
	rep, err := s.applyScript.run(ctx, s.rdb, &a)
	if err != nil {
		// The step may or may not have run: the index entries stay, as
		// the supersets readers check.
		return nil, err
	}
	res := &applyResult{code: rep.Code, status: Status(rep.Status), version: rep.Version, applied: rep.Applied,
		meta: rep.Meta, was: rep.Was, agent: rep.Holder, day: rep.Day, created: rep.Created}
	for _, c := range rep.Once {
		res.once = append(res.once, c == '1')
	}
	for i, e := range rep.Entries {
		res.entries = append(res.entries, RawEntry{Seq: rep.FirstSeq + int64(i), JSON: []byte(e)})
	}
	s.observeEntries(&op, res)
	if res.code != "ok" || !res.applied {
		s.takeBack(ctx, op.enter, res)
		return res, nil
	}
	// Sockets on this node learn of the change at once; the same envelopes
	// arriving later through Redis are dropped as already seen.
	s.hub.localApply(op.convID, res, op)
	m, events := s.stepHooks(ctx, op, cond, res)
	if edits := append(s.leaving(op, res), op.after...); len(edits) > 0 || len(events) > 0 {
		pipe := s.rdb.Pipeline()
		for _, e := range edits {
			e.write(ctx, pipe)
		}
		for _, ev := range events {
			s.writeHooks(ctx, pipe, m, ev)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			// Harmless: readers drop index entries that no longer match.
			s.log.WarnContext(ctx, "updating indexes after a step", "conversation", op.convID, "event", op.then, "err", err)
		}
	}
	return res, nil
}

// leaving is what the merchant's indexes no longer need once a step has
// moved the conversation to its new status.
func (s *Service) leaving(op applyOp, res *applyResult) []indexEdit {
	to := op.newStatus
	if to == "" || op.merchant == "" {
		return nil
	}
	var out []indexEdit
	if ep := res.meta[fQueueEp]; ep != "" && to != StatusQueued {
		// The step's announcement may be read before the entry is gone,
		// and a snapshot counts the entries beyond the ones it describes
		// unchecked: a second signal makes the total right again.
		out = append(out, indexEdit{kind: editZRem, key: s.keys.queue(op.merchant), member: queueMember(op.convID, ep)},
			indexEdit{kind: editPublish, key: s.keys.merchantChannel(op.merchant), member: "q"})
	}
	agent, ok := res.was[fAgent]
	if !ok {
		agent = res.meta[fAgent]
	}
	if agent != "" && to != StatusAssigned {
		out = append(out, indexEdit{kind: editSRem, key: s.keys.assigned(op.merchant, agent), member: op.convID})
	}
	if to.Terminal() {
		out = append(out,
			indexEdit{kind: editZRem, key: s.keys.active(op.merchant), member: op.convID},
			indexEdit{kind: editZAdd, key: s.keys.recent(op.merchant), member: op.convID, score: float64(op.now.UnixMilli())},
			indexEdit{kind: editTrim, key: s.keys.recent(op.merchant), keep: maxRecent})
	}
	return out
}

// maxRecent bounds the merchant's index of ended conversations.
const maxRecent = 5000

// takeBack undoes a refused step's index entries, but for those that
// already describe where the conversation is.
func (s *Service) takeBack(ctx context.Context, edits []indexEdit, res *applyResult) {
	pipe := s.rdb.Pipeline()
	n := 0
	for _, e := range edits {
		if e.kind != editZAdd && e.kind != editSAdd || (e.held != nil && e.held(res)) {
			continue
		}
		e.undo(ctx, pipe)
		n++
	}
	if n == 0 {
		return
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.DebugContext(ctx, "taking back index entries of a refused step", "err", err)
	}
}

// indexEdit is one write to a merchant-wide index or the outbox, made
// around a conversation's step.
type indexEdit struct {
	kind   editKind
	key    string
	member string
	score  float64
	keep   int64         // editTrim: how many of the highest scores stay; editLPush: how many newest
	values []string      // editXAdd
	ttl    time.Duration // editLPush, editZAdd: the key's lifetime (none when zero for a sorted set)
	// held reports, for an entry written before a step that was refused,
	// that the refusal found the conversation where the entry lists it.
	held func(*applyResult) bool
}

type editKind int

const (
	editZAdd editKind = iota
	editZRem
	editSAdd
	editSRem
	editTrim
	editXAdd
	editLPush
	editPublish // member on the channel key
)

func (e indexEdit) write(ctx context.Context, pipe redis.Pipeliner) {
	switch e.kind {
	case editZAdd:
		pipe.ZAdd(ctx, e.key, zmember(e.score, e.member))
		if e.ttl > 0 {
			pipe.PExpire(ctx, e.key, e.ttl)
		}
	case editZRem:
		pipe.ZRem(ctx, e.key, e.member)
	case editSAdd:
		pipe.SAdd(ctx, e.key, e.member)
	case editSRem:
		pipe.SRem(ctx, e.key, e.member)
	case editTrim:
		pipe.ZRemRangeByRank(ctx, e.key, 0, -e.keep-1)
	case editXAdd:
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: e.key, Values: e.values})
	case editLPush:
		pipe.LPush(ctx, e.key, e.member)
		pipe.LTrim(ctx, e.key, 0, e.keep-1)
		pipe.PExpire(ctx, e.key, e.ttl)
	case editPublish:
		pipe.Publish(ctx, e.key, e.member)
	}
}

func (e indexEdit) undo(ctx context.Context, pipe redis.Pipeliner) {
	switch e.kind {
	case editZAdd:
		pipe.ZRem(ctx, e.key, e.member)
	case editSAdd:
		pipe.SRem(ctx, e.key, e.member)
	}
}

// appendOp is one call of append.lua: an entry added without a change of
// status, the path every message to or from a person takes.
type appendOp struct {
	convID   string
	on       Event // the statuses it may be added in
	agent    string
	clientID string
	now      time.Time
	entry    entryTail
	engage   bool // mark the conversation engaged, for metrics
	reply    bool // an agent's entry (see appendArgs.MarkReply)
}

func (s *Service) appendEntry(ctx context.Context, op appendOp) (*applyResult, error) {
	a := appendArgs{Channel: s.keys.convChannel(op.convID), Pub: s.pub.command, Need: statusSet(transitions[op.on].from...),
		Agent: op.agent, ClientID: op.clientID, Entry: op.entry.encode(), Now: op.now.UnixMilli(),
		MaxSeq: maxTranscript, TTL: liveTTL.Milliseconds(), Engage: op.engage, MarkReply: op.reply}
	a.Meta, a.Log, a.Cids = s.convKeys(op.convID)
	a.Visitors = s.keys.visitorSockets(op.convID)
	rep, err := s.appendScript.runBatched(ctx, s.hot, &a)
	if err != nil {
		return nil, err
	}
	r := &applyResult{code: rep.Code, status: Status(rep.Status), agent: rep.Holder}
	switch r.code {
	case "dup", "ok":
		r.entries = []RawEntry{{Seq: rep.Seq, JSON: []byte(rep.Entry)}}
		if r.code == "ok" {
			s.obs.Message(op.entry.Role)
			r.once = []bool{rep.Counted}
			r.day = rep.Day
			r.firstReply, r.queuedAt, r.mailDue = rep.FirstReply, rep.QueuedAt, rep.MailDue
			s.hub.localEntry(op.convID, r.entries[0])
		}
	}
	return r, nil
}

// readEntries returns the transcript entries with seq > after, in order.
func (s *Service) readEntries(ctx context.Context, convID string, after int64) ([]RawEntry, error) {
	vals, err := s.rdb.LRange(ctx, s.keys.convLog(convID), after, -1).Result()
	if err != nil {
		return nil, err
	}
	return rawEntries(after, vals), nil
}

func rawEntries(after int64, vals []string) []RawEntry {
	out := make([]RawEntry, len(vals))
	for i, v := range vals {
		out[i] = RawEntry{Seq: after + int64(i) + 1, JSON: []byte(v)}
	}
	return out
}

// catchUp reads everything a watcher at cursor has missed: the entries after
// it and the current state, in one round trip.
func (s *Service) catchUp(ctx context.Context, convID string, cursor int64) ([]RawEntry, State, bool, error) {
	pipe := s.rdb.Pipeline()
	lr := pipe.LRange(ctx, s.keys.convLog(convID), cursor, -1)
	hm := pipe.HMGet(ctx, s.keys.convMeta(convID), stateFields()...)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, State{}, false, err
	}
	st, ok := parseState(hm.Val())
	return rawEntries(cursor, lr.Val()), st, ok, nil
}

// loadConversation reads a conversation's meta hash.
func (s *Service) loadConversation(ctx context.Context, convID string) (*Conversation, map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.convMeta(convID)).Result()
	if err != nil {
		return nil, nil, err
	}
	c, ok := conversationFromMeta(convID, m)
	if !ok {
		return nil, nil, ErrNotFound
	}
	return c, m, nil
}

func zmember(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
