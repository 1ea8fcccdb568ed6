package session

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The outbox's goroutines: one scheduler and Workers workers per node (see
// outbox.go for what they do with an entry).

// run works the outbox until ctx ends.
func (ob *outbox) run(ctx context.Context) {
	if !ob.ensureGroup(ctx) {
		return
	}
	var wg sync.WaitGroup
	wg.Add(1 + ob.opts.Workers)
	go func() { defer wg.Done(); ob.schedule(ctx) }()
	for i := 0; i < ob.opts.Workers; i++ {
		name := ob.svc.nodeID + "-" + strconv.Itoa(i)
		go func() { defer wg.Done(); ob.work(ctx, name) }()
	}
	wg.Wait()
}

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
			n, err := ob.svc.promoteScript.Run(ctx, ob.svc.rdb, []string{ob.svc.keys.outboxDue(), ob.svc.keys.outbox()},
				ob.svc.now().UnixMilli(), 100).Int()
			if err != nil {
				if ctx.Err() == nil {
					ob.svc.log.Warn("outbox: promoting due retries", "err", err)
				}
				break
			}
			if n < 100 {
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
		if c.Pending == 0 && c.Idle > time.Hour && !strings.HasPrefix(c.Name, ob.svc.nodeID+"-") {
			_ = ob.svc.rdb.XGroupDelConsumer(ctx, ob.svc.keys.outbox(), outboxGroup, c.Name).Err()
		}
	}
}

// work is one worker: it claims entries other workers left idle, and reads
// new ones.
func (ob *outbox) work(ctx context.Context, consumer string) {
	stream := ob.svc.keys.outbox()
	cursor := "0-0"
	var nextClaim time.Time
	for ctx.Err() == nil {
		if now := time.Now(); !now.Before(nextClaim) {
			nextClaim = now.Add(ob.opts.Poll)
			msgs, next, err := ob.svc.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: stream, Group: outboxGroup,
				Consumer: consumer, MinIdle: ob.opts.ClaimIdle, Start: cursor, Count: 8}).Result()
			if err != nil {
				ob.readFailed(ctx, err)
				continue
			}
			cursor = next
			for _, m := range msgs {
				ob.handle(ctx, consumer, m)
			}
		}
		streams, err := ob.svc.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: outboxGroup, Consumer: consumer,
			Streams: []string{stream, ">"}, Count: 1, Block: ob.opts.Poll}).Result()
		if err != nil {
			if !errors.Is(err, redis.Nil) {
				ob.readFailed(ctx, err)
			}
			continue
		}
		for _, st := range streams {
			for _, m := range st.Messages {
				ob.handle(ctx, consumer, m)
			}
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
