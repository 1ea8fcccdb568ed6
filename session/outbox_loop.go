package session

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// run works the helpdesk outbox until ctx ends, on a jobQueue of its own
// (see outbox.go for what a worker does with an entry).
func (ob *outbox) run(ctx context.Context) {
	q := &jobQueue{svc: ob.svc, name: "outbox", stream: ob.svc.keys.outbox(), due: ob.svc.keys.outboxDue(),
		workers: ob.opts.Workers, poll: ob.opts.Poll, claimIdle: ob.opts.ClaimIdle, process: ob.entry}
	q.run(ctx)
}

// entry says "look at conversation c's handoff h".
func (ob *outbox) entry(ctx context.Context, consumer string, m redis.XMessage) (bool, error) {
	convID, _ := m.Values["c"].(string)
	hid, _ := m.Values["h"].(string)
	return ob.process(ctx, consumer, convID, hid)
}
