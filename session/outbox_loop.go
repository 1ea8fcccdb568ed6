package session

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The outbox's goroutines, per node: a scheduler, one reader and Workers
// workers (see outbox.go for what a worker does with an entry).
//
// One reader, not one per worker: a blocking XREADGROUP holds a connection
// of the Redis client's pool for as long as it blocks, and the pool is
// shared with every socket of the node. The reader reads only as many
// entries as there are idle workers, so a busy node leaves the rest to
// others, and entries never wait in this process long enough to be claimed
// away.

// run works the outbox until ctx ends.
func (ob *outbox) run(ctx context.Context) {
	if !ob.ensureGroup(ctx) {
		return
	}
	jobs := make(chan redis.XMessage)
	idle := make(chan struct{}, ob.opts.Workers) // one token per idle worker
	for range ob.opts.Workers {
		idle <- struct{}{}
	}
	var wg sync.WaitGroup
	wg.Add(2 + ob.opts.Workers)
	go func() { defer wg.Done(); ob.schedule(ctx) }()
	go func() { defer wg.Done(); defer close(jobs); ob.read(ctx, jobs, idle) }()
	for range ob.opts.Workers {
		go func() {
			defer wg.Done()
			for m := range jobs {
				ob.handle(ctx, ob.consumer(), m)
				idle <- struct{}{}
			}
		}()
	}
	wg.Wait()
}

// consumer is this node's name in the consumer group.
func (ob *outbox) consumer() string { return ob.svc.nodeID }

// ensureGroup creates the consumer group, from the stream's start so that
// entries written before any node ever ran are not skipped.
func (ob *outbox) ensureGroup(ctx context.Context) bool {
	for {
		err := ob.svc.rdb.XGroupCreateMkStream(ctx, ob.svc.keys.outbox(), outboxGroup, "0").Err()
		if err == nil || strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return true
		}
		ob.svc.log.Warn("outbox: creating the consumer group", "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(ob.opts.Poll):
		}
	}
}

// schedule moves due retries into the stream, and now and then forgets
// consumers of nodes long gone.
func (ob *outbox) schedule(ctx context.Context) {
	t := time.NewTicker(ob.opts.Poll)
	defer t.Stop()
	polls := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			r, err := ob.svc.promoteScript.run(ctx, ob.svc.rdb, &promoteArgs{Due: ob.svc.keys.outboxDue(),
				Stream: ob.svc.keys.outbox(), Now: ob.svc.now().UnixMilli(), Limit: 100})
			if err != nil {
				if ctx.Err() == nil {
					ob.svc.log.Warn("outbox: promoting due retries", "err", err)
				}
				break
			}
			if r.Moved < 100 {
				break
			}
		}
		if polls++; polls%600 == 0 {
			ob.pruneConsumers(ctx)
		}
	}
}

func (ob *outbox) pruneConsumers(ctx context.Context) {
	cs, err := ob.svc.rdb.XInfoConsumers(ctx, ob.svc.keys.outbox(), outboxGroup).Result()
	if err != nil {
		return
	}
	for _, c := range cs {
		if c.Pending == 0 && c.Idle > time.Hour && c.Name != ob.consumer() {
			_ = ob.svc.rdb.XGroupDelConsumer(ctx, ob.svc.keys.outbox(), outboxGroup, c.Name).Err()
		}
	}
}

// read hands entries to idle workers: entries other nodes left idle
// (claimed every Poll), then new ones.
func (ob *outbox) read(ctx context.Context, jobs chan<- redis.XMessage, idle chan struct{}) {
	stream := ob.svc.keys.outbox()
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
		for free < ob.opts.Workers {
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
			nextClaim = now.Add(ob.opts.Poll)
			msgs, next, err := ob.svc.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: stream, Group: outboxGroup,
				Consumer: ob.consumer(), MinIdle: ob.opts.ClaimIdle, Start: cursor, Count: int64(free)}).Result()
			if err != nil {
				ob.readFailed(ctx, err)
			} else {
				cursor = next
				dispatch(msgs)
			}
		}
		if free > 0 {
			streams, err := ob.svc.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: outboxGroup, Consumer: ob.consumer(),
				Streams: []string{stream, ">"}, Count: int64(free), Block: ob.opts.Poll}).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				ob.readFailed(ctx, err)
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

func (ob *outbox) readFailed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	if strings.HasPrefix(err.Error(), "NOGROUP") {
		// The stream was deleted under us (a flushed Redis): start over.
		ob.ensureGroup(ctx)
		return
	}
	ob.svc.log.Warn("outbox: reading the stream", "err", err)
	select {
	case <-ctx.Done():
	case <-time.After(ob.opts.Poll):
	}
}

// handle processes one stream entry and acknowledges it once the record says
// what happens next. An entry left unacknowledged (Redis failed us) is
// claimed again after ClaimIdle.
func (ob *outbox) handle(ctx context.Context, consumer string, m redis.XMessage) {
	convID, _ := m.Values["c"].(string)
	hid, _ := m.Values["h"].(string)
	ack, err := ob.process(ctx, consumer, convID, hid)
	if err != nil {
		if ctx.Err() == nil {
			ob.svc.log.Warn("outbox: handling an entry; it will be claimed again", "conversation", convID, "err", err)
		}
		return
	}
	if !ack {
		return
	}
	rctx, cancel := detached(ctx, 5*time.Second)
	defer cancel()
	pipe := ob.svc.rdb.Pipeline()
	pipe.XAck(rctx, ob.svc.keys.outbox(), outboxGroup, m.ID)
	pipe.XDel(rctx, ob.svc.keys.outbox(), m.ID)
	if _, err := pipe.Exec(rctx); err != nil {
		ob.svc.log.Warn("outbox: acknowledging an entry", "conversation", convID, "err", err)
	}
}
