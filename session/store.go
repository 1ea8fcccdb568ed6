package session

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/apply.lua
var applySource string

//go:embed scripts/append.lua
var appendSource string

// applyOp is one call of apply.lua: see the script for the meaning of each
// part. Building it from named fields keeps the argument layout in one place.
type applyOp struct {
	convID      string
	need        []Status
	cond        []Status
	agent       string
	clientID    string
	now         time.Time
	newStatus   Status
	state       State
	once        []string
	fields      []string // field, value, field, value...
	base        []entryTail
	condEntries []entryTail
	wantMeta    bool
	// announce tells the merchant's consoles when the conditional part ran;
	// queueChanged says whether their queue moved too.
	announce     string // merchant id
	queueChanged bool
}

// applyResult is what apply.lua answered.
type applyResult struct {
	code    string // ok, dup, nf, state, agent, full
	status  Status
	version int64
	applied bool
	once    []bool
	meta    map[string]string
	agent   string // for state/agent refusals: who holds the conversation
	day     string // the conversation's metrics day
	entries []RawEntry
}

// Limits on what one conversation may hold.
const (
	maxTranscript = 5000
	liveTTL       = 30 * 24 * time.Hour // refreshed by every write
	closedTTL     = 90 * 24 * time.Hour // kept after the end, for merchants' records
)

func (s *Service) apply(ctx context.Context, op applyOp) (*applyResult, error) {
	announceChannel := ""
	if op.announce != "" {
		announceChannel = s.keys.merchantChannel(op.announce)
	}
	ttl := liveTTL
	if op.newStatus.Terminal() {
		ttl = closedTTL
	}
	args := make([]any, 0, 24+len(op.fields)+len(op.base)+len(op.condEntries))
	args = append(args,
		s.keys.convChannel(op.convID),
		statusSet(op.need...),
		statusSet(op.cond...),
		op.agent,
		op.clientID,
		op.now.UnixMilli(),
		string(op.newStatus),
		op.state.encode(),
		maxTranscript,
		ttl.Milliseconds(),
		boolArg(op.wantMeta),
		announceChannel,
		boolArg(op.queueChanged),
		op.convID,
	)
	args = append(args, len(op.once))
	for _, f := range op.once {
		args = append(args, f)
	}
	args = append(args, len(op.fields))
	for _, f := range op.fields {
		args = append(args, f)
	}
	args = append(args, len(op.base))
	for _, e := range op.base {
		args = append(args, e.encode())
	}
	args = append(args, len(op.condEntries))
	for _, e := range op.condEntries {
		args = append(args, e.encode())
	}
	keys := []string{s.keys.convMeta(op.convID), s.keys.convLog(op.convID), s.keys.convClient(op.convID)}
	v, err := s.applyScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return nil, err
	}
	res, err := parseApply(v)
	if err != nil {
		return nil, fmt.Errorf("apply.lua reply: %w", err)
	}
	// Sockets on this node learn of the change at once; the same envelopes
	// arriving later through Redis are dropped as already seen.
	if res.code == "ok" {
		s.hub.localApply(op.convID, res, op)
	}
	return res, nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// replyString is element i of a script's reply as a string: Lua numbers come
// back as integers, everything else as strings; missing ones are empty.
func replyString(v []any, i int) string {
	if i < len(v) {
		switch x := v[i].(type) {
		case string:
			return x
		case int64:
			return strconv.FormatInt(x, 10)
		}
	}
	return ""
}

func parseApply(v []any) (*applyResult, error) {
	if len(v) == 0 {
		return nil, errors.New("empty reply")
	}
	str := func(i int) string { return replyString(v, i) }
	r := &applyResult{code: str(0), status: Status(str(1))}
	r.version, _ = strconv.ParseInt(str(2), 10, 64)
	switch r.code {
	case "nf", "full":
		return r, nil
	case "state", "agent":
		r.agent = str(6)
		return r, nil
	case "dup":
		seq, _ := strconv.ParseInt(str(6), 10, 64)
		r.entries = []RawEntry{{Seq: seq, JSON: []byte(str(7))}}
		return r, nil
	case "ok":
	default:
		return nil, fmt.Errorf("unknown code %q", r.code)
	}
	r.applied = str(3) == "1"
	for _, c := range str(4) {
		r.once = append(r.once, c == '1')
	}
	if m, ok := v[5].([]any); ok && len(m) > 0 {
		r.meta = make(map[string]string, len(m)/2)
		for i := 0; i+1 < len(m); i += 2 {
			k, _ := m[i].(string)
			val, _ := m[i+1].(string)
			r.meta[k] = val
		}
	}
	r.day = str(6)
	for i := 7; i+1 < len(v); i += 2 {
		seq, _ := strconv.ParseInt(str(i), 10, 64)
		r.entries = append(r.entries, RawEntry{Seq: seq, JSON: []byte(str(i + 1))})
	}
	return r, nil
}

// appendOp is one call of append.lua: an entry added without a change of
// status, the path every message to or from a person takes.
type appendOp struct {
	convID   string
	need     []Status
	agent    string
	clientID string
	now      time.Time
	entry    entryTail
	engage   bool // mark the conversation engaged, for metrics
}

func (s *Service) appendEntry(ctx context.Context, op appendOp) (*applyResult, error) {
	keys := []string{s.keys.convMeta(op.convID), s.keys.convLog(op.convID), s.keys.convClient(op.convID)}
	v, err := s.hot.run(ctx, s.appendScript, keys,
		s.keys.convChannel(op.convID), statusSet(op.need...), op.agent, op.clientID, op.entry.encode(),
		op.now.UnixMilli(), maxTranscript, liveTTL.Milliseconds(), boolArg(op.engage))
	if err != nil {
		return nil, err
	}
	str := func(i int) string { return replyString(v, i) }
	r := &applyResult{code: str(0), status: Status(str(1))}
	switch r.code {
	case "state", "agent":
		r.agent = str(2)
	case "dup", "ok":
		seq, _ := strconv.ParseInt(str(2), 10, 64)
		r.entries = []RawEntry{{Seq: seq, JSON: []byte(str(3))}}
		if r.code == "ok" {
			r.once = []bool{str(4) == "1"}
			r.day = str(5)
			s.hub.localEntry(op.convID, r.entries[0])
		}
	case "nf", "full":
	default:
		return nil, fmt.Errorf("append.lua reply: unknown code %q", r.code)
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
