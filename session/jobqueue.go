package session

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A jobQueue is work every node shares through one Redis stream and one
// consumer group, with retries waiting in a sorted set until they are due
// (scripts/promote.lua moves them back into the stream). The helpdesk
// outbox and webhook deliveries both run on one. What an entry means is the
// owner's business (process); the queue only guarantees that an entry is
// acknowledged once process says so, and that one a dead node left
// unacknowledged is claimed by another after claimIdle.
//
// Per node: a scheduler, one reader and some workers. One reader, not one
// per worker: a blocking XREADGROUP holds a connection of the Redis
// client's pool for as long as it blocks, and the pool is shared with every
// socket of the node. The reader reads only as many entries as there are
// idle workers, so a busy node leaves the rest to others, and entries never
// wait in this process long enough to be claimed away.
type jobQueue struct {
	svc       *Service
	name      string // in log lines
	stream    string
	due       string
	workers   int
	poll      time.Duration // promotion, claiming, and how long a read blocks
	claimIdle time.Duration
	// process handles one entry and reports whether it is done with.
	process func(ctx context.Context, consumer string, m redis.XMessage) (bool, error)
}

// queueGroup is the consumer group every node's workers join.
const queueGroup = "workers"

// run works the queue until ctx ends.
func (q *jobQueue) run(ctx context.Context) {
	if !q.ensureGroup(ctx) {
		return
	}
	jobs := make(chan redis.XMessage)
	idle := make(chan struct{}, q.workers) // one token per idle worker
	for range q.workers {
		idle <- struct{}{}
	}
	var wg sync.WaitGroup
	wg.Add(2 + q.workers)
	go func() { defer wg.Done(); q.schedule(ctx) }()
	go func() { defer wg.Done(); defer close(jobs); q.read(ctx, jobs, idle) }()
	for range q.workers {
		go func() {
			defer wg.Done()
			for m := range jobs {
				q.handle(ctx, m)
				idle <- struct{}{}
			}
		}()
	}
	wg.Wait()
}

// consumer is this node's name in the consumer group.
func (q *jobQueue) consumer() string { return q.svc.nodeID }

// ensureGroup creates the consumer group, from the stream's start so that
// entries written before any node ever ran are not skipped.
func (q *jobQueue) ensureGroup(ctx context.Context) bool {
	for {
		err := q.svc.rdb.XGroupCreateMkStream(ctx, q.stream, queueGroup, "0").Err()
		if err == nil || strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return true
		}
		q.svc.log.Warn(q.name+": creating the consumer group", "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(q.poll):
		}
	}
}

// schedule moves due retries into the stream, and now and then forgets
// consumers of nodes long gone.
func (q *jobQueue) schedule(ctx context.Context) {
	t := time.NewTicker(q.poll)
	defer t.Stop()
	polls := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			r, err := q.svc.promoteScript.run(ctx, q.svc.rdb, &promoteArgs{Due: q.due,
				Stream: q.stream, Now: q.svc.now().UnixMilli(), Limit: 100})
			if err != nil {
				if ctx.Err() == nil {
					q.svc.log.Warn(q.name+": promoting due retries", "err", err)
				}
				break
			}
			if r.Moved < 100 {
				break
			}
		}
		if polls++; polls%600 == 0 {
			q.pruneConsumers(ctx)
		}
	}
}

func (q *jobQueue) pruneConsumers(ctx context.Context) {
	cs, err := q.svc.rdb.XInfoConsumers(ctx, q.stream, queueGroup).Result()
	if err != nil {
		return
	}
	for _, c := range cs {
		if c.Pending == 0 && c.Idle > time.Hour && c.Name != q.consumer() {
			_ = q.svc.rdb.XGroupDelConsumer(ctx, q.stream, queueGroup, c.Name).Err()
		}
	}
}

// read hands entries to idle workers: entries other nodes left idle
// (claimed every poll), then new ones.
func (q *jobQueue) read(ctx context.Context, jobs chan<- redis.XMessage, idle chan struct{}) {
	cursor := "0-0"
	var nextClaim time.Time
	for {
		// Wait for a worker, then count every idle one.
		select {
		case <-ctx.Done():
			return
		case <-idle:
		}
		free := 1
	count:
		for free < q.workers {
			select {
			case <-idle:
				free++
			default:
				break count
			}
		}
		dispatch := func(ms []redis.XMessage) {
			for _, m := range ms {
				jobs <- m // an idle worker takes it at once
				free--
			}
		}
		if now := time.Now(); !now.Before(nextClaim) {
			nextClaim = now.Add(q.poll)
			msgs, next, err := q.svc.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: q.stream, Group: queueGroup,
				Consumer: q.consumer(), MinIdle: q.claimIdle, Start: cursor, Count: int64(free)}).Result()
			if err != nil {
				q.readFailed(ctx, err)
			} else {
				cursor = next
				dispatch(msgs)
			}
		}
		if free > 0 {
			streams, err := q.svc.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: queueGroup, Consumer: q.consumer(),
				Streams: []string{q.stream, ">"}, Count: int64(free), Block: q.poll}).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				q.readFailed(ctx, err)
			}
			for _, st := range streams {
				dispatch(st.Messages)
			}
		}
		for ; free > 0; free-- {
			idle <- struct{}{}
		}
	}
}

func (q *jobQueue) readFailed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	if strings.HasPrefix(err.Error(), "NOGROUP") {
		// The stream was deleted under us (a flushed Redis): start over.
		q.ensureGroup(ctx)
		return
	}
	q.svc.log.Warn(q.name+": reading the stream", "err", err)
	select {
	case <-ctx.Done():
	case <-time.After(q.poll):
	}
}

// handle processes one entry and acknowledges it once process says it is
// done with. An entry left unacknowledged (Redis failed us) is claimed
// again after claimIdle.
func (q *jobQueue) handle(ctx context.Context, m redis.XMessage) {
	ack, err := q.process(ctx, q.consumer(), m)
	if err != nil {
		if ctx.Err() == nil {
			q.svc.log.Warn(q.name+": handling an entry; it will be claimed again", "entry", m.Values, "err", err)
		}
		return
	}
	if !ack {
		return
	}
	rctx, cancel := detached(ctx, 5*time.Second)
	defer cancel()
	pipe := q.svc.rdb.Pipeline()
	pipe.XAck(rctx, q.stream, queueGroup, m.ID)
	pipe.XDel(rctx, q.stream, m.ID)
	if _, err := pipe.Exec(rctx); err != nil {
		q.svc.log.Warn(q.name+": acknowledging an entry", "entry", m.Values, "err", err)
	}
}
