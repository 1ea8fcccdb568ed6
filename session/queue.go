package session

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// snapshotCap bounds how many queued conversations a snapshot describes in
// full; positions are known for all of them.
const snapshotCap = 200

// QueueSnapshot is a merchant's inbox queue at one moment, oldest first. It
// is shared by every watcher on a node: never modify it.
type QueueSnapshot struct {
	MerchantID    string
	Conversations []*Conversation
	Total         int
	positions     map[string]int
	byMember      map[string]*Conversation // the checked entries, for the next snapshot
	frame         []byte
	// The delta stream (queue_delta.go): each described conversation
	// encoded without its position, by member; the version this snapshot
	// is at and the delta frames from the previous one to it.
	enc     map[string][]byte
	version int64
	base    int64
	deltas  [][]byte
	deltaN  int // their bytes
	vframe  []byte
	// perRound is how long one round of the team's replies takes (the
	// median of recent waits for a first reply) and available how many
	// agents share the queue; 0 when there is no basis for an estimate.
	perRound  time.Duration
	available int
}

// WaitEstimate is how long, in seconds, the conversation at position pos
// can expect to wait for a person, or nil when there is nothing to
// estimate from (nobody available, too few recent waits, or closed): the
// median of the merchant's recent waits for a first reply (counted only
// within office hours) for every round of the available agents ahead of
// it, rounded up to a quarter minute.
func (q *QueueSnapshot) WaitEstimate(pos int) *int {
	if q.perRound <= 0 || q.available <= 0 || pos <= 0 {
		return nil
	}
	rounds := (pos + q.available - 1) / q.available
	s := int((time.Duration(rounds)*q.perRound + 15*time.Second - 1) / (15 * time.Second) * 15)
	return &s
}

// minWaits is how many recent waits an estimate needs.
const minWaits = 3

// estimateBasis reads what the wait estimates draw on, in one round trip.
func (s *Service) estimateBasis(ctx context.Context, merchantID string) (time.Duration, int) {
	m, err := s.Merchant(ctx, merchantID)
	if err != nil || !m.Schedule.At(s.now()).Open {
		return 0, 0
	}
	pipe := s.rdb.Pipeline()
	waits := pipe.LRange(ctx, s.keys.waits(merchantID), 0, maxWaits-1)
	presence := pipe.HGetAll(ctx, s.keys.presence(merchantID))
	online := s.openConsoles(ctx, pipe, merchantID, s.now())
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, 0
	}
	var ms []int64
	for _, v := range waits.Val() {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			ms = append(ms, n)
		}
	}
	if len(ms) < minWaits {
		return 0, 0
	}
	slices.Sort(ms)
	return time.Duration(ms[len(ms)/2]) * time.Millisecond, countAvailable(presence.Val(), online.Val())
}

// Position returns a conversation's 1-based place in the queue, or 0.
func (q *QueueSnapshot) Position(convID string) int { return q.positions[convID] }

// Frame is the ready-encoded {"type":"queue",...} frame for agent consoles.
func (q *QueueSnapshot) Frame() []byte { return q.frame }

func queueMember(convID, episode string) string { return convID + "|" + episode }

// newEpisode names one stay of a conversation in the queue. It carries the
// time it was made, so a snapshot can tell an entry whose step is still
// under way (keep it, unshown) from one whose step never completed.
func newEpisode(now time.Time) string {
	return "q" + strconv.FormatInt(now.UnixMilli(), 36) + newID("", 4)
}

// episodeAge is how long ago episode was made; long ago when unreadable.
func episodeAge(episode string, now time.Time) time.Duration {
	stamp, _, _ := strings.Cut(strings.TrimPrefix(episode, "q"), "_")
	ms, err := strconv.ParseInt(stamp, 36, 64)
	if err != nil {
		return time.Hour
	}
	return now.Sub(time.UnixMilli(ms))
}

// staleAfter is how long an entry may disagree with its conversation before
// a snapshot removes it: far longer than any step takes.
const staleAfter = time.Minute

// queueSnapshot reads the queue index and checks each entry against its
// conversation, dropping entries left behind by transitions that never
// completed (see the package doc). Entries already checked in prev whose
// conversations have not been announced as changed since (dirty) are taken
// from prev, so a queue of hundreds costs a read of the one that changed,
// not of all of them.
func (s *Service) queueSnapshot(ctx context.Context, merchantID string, prev *QueueSnapshot, dirty map[string]bool) (*QueueSnapshot, error) {
	qkey := s.keys.queue(merchantID)
	zs, err := s.rdb.ZRangeWithScores(ctx, qkey, 0, -1).Result()
	if err != nil {
		return nil, err
	}
	type item struct{ member, conv, ep string }
	items := make([]item, 0, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string)
		conv, ep, _ := strings.Cut(m, "|")
		items = append(items, item{m, conv, ep})
	}
	n := min(len(items), snapshotCap)
	metas := make([]*redis.MapStringStringCmd, n)
	reused := make([]*Conversation, n)
	var pipe redis.Pipeliner
	for i := 0; i < n; i++ {
		if prev != nil && !dirty[items[i].conv] {
			if c, ok := prev.byMember[items[i].member]; ok {
				reused[i] = c
				continue
			}
		}
		if pipe == nil {
			pipe = s.rdb.Pipeline()
		}
		metas[i] = pipe.HGetAll(ctx, s.keys.convMeta(items[i].conv))
	}
	if pipe != nil {
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, err
		}
	}
	now := s.now()
	snap := &QueueSnapshot{MerchantID: merchantID, positions: make(map[string]int, len(items)),
		byMember: make(map[string]*Conversation, n), enc: make(map[string][]byte, n)}
	var stale []any
	pos := 0
	for i, it := range items {
		if i < n {
			var c *Conversation
			if reused[i] != nil {
				cc := *reused[i] // the previous snapshot's stays as it was
				c = &cc
				snap.enc[it.member] = prev.enc[it.member]
			} else {
				var ok bool
				c, ok = conversationFromMeta(it.conv, metas[i].Val())
				if !ok || c.Status != StatusQueued || c.queueEp != it.ep {
					if episodeAge(it.ep, now) > staleAfter {
						stale = append(stale, it.member)
					}
					continue
				}
			}
			pos++
			c.QueuePosition = pos
			snap.Conversations = append(snap.Conversations, c)
			snap.byMember[it.member] = c
		} else {
			pos++
		}
		snap.positions[it.conv] = pos
	}
	snap.Total = pos
	snap.perRound, snap.available = s.estimateBasis(ctx, merchantID)
	if len(stale) > 0 {
		// Only an exact episode is removed, so a conversation that was
		// queued again meanwhile keeps its new entry.
		if err := s.rdb.ZRem(ctx, qkey, stale...).Err(); err != nil {
			s.log.DebugContext(ctx, "removing stale queue entries", "err", err)
		}
	}
	if snap.Conversations == nil {
		snap.Conversations = []*Conversation{}
	}
	snap.frame, err = json.Marshal(struct {
		Type          string          `json:"type"`
		Conversations []*Conversation `json:"conversations"`
		Total         int             `json:"total"`
	}{"queue", snap.Conversations, snap.Total})
	return snap, err
}
