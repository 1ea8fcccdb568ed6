package session

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Observer hears what the core does, for an operator's metrics. The core
// calls it where things conclude, some on the per-message path, so an
// implementation must be cheap and never block: no I/O, no allocation per
// call. Gauges that are state (queues, outbox depth) are not pushed through
// it: a collector reads them with OpsSnapshot when it is scraped.
type Observer interface {
	// Message: an entry by role was stored.
	Message(role Role)
	// Handoff: a handoff reached outcome (one of the Handoff* outcomes)
	// for reason (the Reason constants) under the merchant's method.
	Handoff(method HandoffMethod, outcome, reason string)
	// Assigned: a queued conversation was given to an agent, by hand or
	// by auto-assignment, after waiting wait in the queue.
	Assigned(byHand bool, wait time.Duration)
	// ScriptCall: one call of a Lua script (name as under scripts/) took d,
	// including any wait for a shared round trip.
	ScriptCall(script string, d time.Duration, err error)
	// Batch: the batcher sent size scripts in one round trip.
	Batch(size int)
	// BatchWait: a script waited d in the batcher before the round trip
	// carrying it was sent (a linger included); once per script.
	BatchWait(d time.Duration)
	// OutboxAttempt: a helpdesk ticket attempt settled with outcome (one of
	// the Attempt* outcomes).
	OutboxAttempt(provider HandoffMethod, outcome string)
	// WebhookDelivery: a webhook delivery attempt settled with outcome
	// (one of the Attempt* outcomes).
	WebhookDelivery(outcome string)
	// DeadLetter: an outbox ("helpdesk" or "webhook") gave an entry up.
	DeadLetter(outbox string)
	// ModelCall: a call to the language model ("answer") or the embedder
	// ("embed") took d.
	ModelCall(call string, d time.Duration, err error)
}

// Handoff outcomes.
const (
	HandoffOffered  = "offered"  // the visitor was offered a person
	HandoffMessaged = "message"  // the merchant's custom message stood in for a person
	HandoffDeclined = "declined" // the visitor turned the offer down
	HandoffQueued   = "queued"   // the conversation joined the inbox queue
	HandoffTicketed = "ticketed" // the conversation went to a helpdesk
)

// Outcomes of an outbox or webhook attempt.
const (
	AttemptDone  = "done"  // the ticket was made, the endpoint answered 2xx
	AttemptRetry = "retry" // failed; tried again later
	AttemptHeld  = "held"  // waits for the integration to be reconnected
	AttemptDead  = "dead"  // failed for good: a dead letter
)

// Outboxes, as DeadLetter and OpsSnapshot name them.
const (
	OutboxHelpdesk = "helpdesk"
	OutboxWebhook  = "webhook"
)

// NoObserver is the Observer that does nothing, used when Options has none.
type NoObserver struct{}

func (NoObserver) Message(Role)                            {}
func (NoObserver) Handoff(HandoffMethod, string, string)   {}
func (NoObserver) Assigned(bool, time.Duration)            {}
func (NoObserver) ScriptCall(string, time.Duration, error) {}
func (NoObserver) Batch(int)                               {}
func (NoObserver) BatchWait(time.Duration)                 {}
func (NoObserver) OutboxAttempt(HandoffMethod, string)     {}
func (NoObserver) WebhookDelivery(string)                  {}
func (NoObserver) DeadLetter(string)                       {}
func (NoObserver) ModelCall(string, time.Duration, error)  {}

// observeEntries counts the entries a step stored: its base entries
// whenever it ran, its conditional ones when that part applied too.
func (s *Service) observeEntries(op *applyOp, res *applyResult) {
	if res.code != "ok" {
		return
	}
	for i := range op.base {
		s.obs.Message(op.base[i].Role)
	}
	if res.applied {
		for i := range op.condEntries {
			s.obs.Message(op.condEntries[i].Role)
		}
		if op.handoff.outcome != "" {
			s.obs.Handoff(op.handoff.method, op.handoff.outcome, op.handoff.reason)
		}
	}
}

// handoffNote is the handoff outcome a step stands for, counted when it
// applies.
type handoffNote struct {
	method          HandoffMethod
	outcome, reason string
}

// QueueGauge is one merchant's inbox queue as listed in Redis. The queue
// index is a superset (see the package doc): an entry whose step was
// refused a moment ago may still be counted.
type QueueGauge struct {
	MerchantID string
	Length     int64
	// OldestWait is how long the first listed conversation has waited;
	// zero when the queue is empty.
	OldestWait time.Duration
}

// OpsSnapshot is the state an operator graphs: every merchant's queue, and
// what the outboxes hold.
type OpsSnapshot struct {
	Queues []QueueGauge
	// Depth is what each outbox has still to settle (OutboxHelpdesk,
	// OutboxWebhook): entries waiting for an attempt, a retry or recovery.
	Depth map[string]int64
	// DeadLetters is how many entries each outbox holds given up, until an
	// admin retries them.
	DeadLetters map[string]int64
}

// OpsSnapshot reads the operator's gauges in two round trips: the merchant
// list, then every count at once.
func (s *Service) OpsSnapshot(ctx context.Context) (*OpsSnapshot, error) {
	ids, err := s.rdb.SMembers(ctx, s.keys.merchants()).Result()
	if err != nil {
		return nil, err
	}
	type reads struct {
		n, hdf, whf *redis.IntCmd
		first       *redis.ZSliceCmd
	}
	pipe := s.rdb.Pipeline()
	per := make([]reads, len(ids))
	for i, id := range ids {
		per[i] = reads{
			n:     pipe.ZCard(ctx, s.keys.queue(id)),
			first: pipe.ZRangeWithScores(ctx, s.keys.queue(id), 0, 0),
			hdf:   pipe.ZCard(ctx, s.keys.failedHandoffs(id)),
			whf:   pipe.ZCard(ctx, s.keys.webhookFailed(id)),
		}
	}
	// Every pending handoff has a recovery entry in the helpdesk's due set
	// from the step that made it; a webhook delivery is in the stream until
	// settled (entries are deleted when acknowledged) or in the due set
	// waiting for a retry.
	hd := pipe.ZCard(ctx, s.keys.outboxDue())
	wh := pipe.ZCard(ctx, s.keys.webhookDue())
	whNew := pipe.XLen(ctx, s.keys.webhookStream())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	now := s.now()
	snap := &OpsSnapshot{
		Queues:      make([]QueueGauge, len(ids)),
		Depth:       map[string]int64{OutboxHelpdesk: hd.Val(), OutboxWebhook: wh.Val() + whNew.Val()},
		DeadLetters: map[string]int64{OutboxHelpdesk: 0, OutboxWebhook: 0},
	}
	for i, id := range ids {
		q := QueueGauge{MerchantID: id, Length: per[i].n.Val()}
		if z := per[i].first.Val(); len(z) > 0 {
			q.OldestWait = max(0, now.Sub(time.UnixMilli(int64(z[0].Score))))
		}
		snap.Queues[i] = q
		snap.DeadLetters[OutboxHelpdesk] += per[i].hdf.Val()
		snap.DeadLetters[OutboxWebhook] += per[i].whf.Val()
	}
	return snap, nil
}

// handoffReason is the stored reason, unsure for conversations handed off
// before reasons were stored (as countRouted counts them).
func handoffReason(r string) string {
	if r == "" {
		return ReasonUnsure
	}
	return r
}
