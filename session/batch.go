package session

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// batcher sends the per-message scripts of many sockets in shared round
// trips without making any of them wait for company: a caller that finds a
// free slot sends at once, taking along whatever others queued meanwhile;
// callers that find every slot busy queue and are sent by the next caller
// to finish. At low load each script goes alone, as fast as a plain call;
// under load they go in pipelines, which spares both sides most of their
// system calls.
type batcher struct {
	rdb     redis.UniversalClient
	obs     Observer
	batched bool          // false: every script alone (BATON_REDIS_BATCHING=0)
	slots   chan struct{} // round trips that may be under way at once
	// maxLinger bounds a leader's wait for company (BATON_REDIS_LINGER);
	// none when zero.
	maxLinger time.Duration
	pauser    pauser

	mu     sync.Mutex
	queue  []*batchCall
	window time.Time // when the current counting window began
	count  int       // calls in the current window
	rate   float64   // calls per second over the last whole window
	shared bool      // a round trip in the last whole window carried several calls
	paired bool      // one in the current window has

	// step, when set, is called at the points where callers hand work to
	// one another ("busy": no free slot; "idle": a leader found nothing to
	// send), so that a test can hold a caller there.
	step func(name string)
}

// Lingering: only above lingerRate calls per second, for as long as it
// takes lingerBatch calls to arrive at the current rate, at most the
// batcher's maxLinger (DefaultLinger unless configured).
// The rate is counted over whole windows of rateWindow, not estimated from
// the gaps between calls: a handoff's few scripts arrive close together,
// and a gap average read such a burst as thousands per second and made
// every step of a handoff wait (every console notified at p99 9.8 ms at 200
// handoffs/s; 4.7 counted over windows, 3.8 with no batching).
//
// Lingering buys CPU and costs latency. Same-run pairs on the 2-core box
// (docs/performance.md, at dccc7ba): at 5,000 msg/s a 0.5 ms linger saved
// 15 % of the CPU per message but moved the median from 0.30 to 0.71-0.76
// ms, with a core to spare; at 10,000, where CPU is what runs out, it
// saved 15-18 %; p99 there was 4.3-8.3 ms with a 0.5 ms bound (five runs),
// 4.3-6.8 with 0.25 ms (seven) and 4.7-5.8 with none (three), all within
// the runs' spread, while the 0.25 ms bound cut the linger's cost to the
// median (0.8-1.0 ms against 1.0-1.2) for 5-10 % more CPU than 0.5 ms. So
// only a rate that fills a node's CPU lingers, and briefly.
const (
	lingerRate  = 7500
	lingerBatch = 8
	rateWindow  = 100 * time.Millisecond
)

// DefaultLinger is the longest a round trip waits for company under load.
const DefaultLinger = 250 * time.Microsecond

// countCall records a call arriving at now; b.mu is held.
func (b *batcher) countCall(now time.Time) {
	if d := now.Sub(b.window); d >= rateWindow {
		if d < 2*rateWindow {
			b.rate, b.shared = float64(b.count)/d.Seconds(), b.paired
		} else {
			b.rate, b.shared = 0, false // a quiet spell: nothing to wait for
		}
		b.window, b.count, b.paired = now, 0, false
	}
	b.count++
}

// linger is how long a leader waits for company at the current rate. Only
// callers that have had company lately wait: one busy caller alone (a
// migration, a benchmark) would wait for nobody on every call. Nobody waits
// when a batch's worth is already queued: behind a stall, waiting only
// lengthens the backlog (at 10,000 msg/s the visitor's echo p99 was 22.7 ms,
// all of it before the publication left node A).
func (b *batcher) linger() time.Duration {
	b.mu.Lock()
	rate, shared, queued := b.rate, b.shared, len(b.queue)
	b.mu.Unlock()
	if b.maxLinger <= 0 || rate < lingerRate || !shared || queued >= lingerBatch {
		return 0
	}
	return min(b.maxLinger, time.Duration(lingerBatch/rate*float64(time.Second)))
}

type batchCall struct {
	cmd    *redis.Cmd
	done   chan struct{}
	queued time.Time
}

// batchSlots and maxBatch bound the batcher: a few round trips at once, each
// of at most a couple of hundred scripts.
const (
	batchSlots = 2
	maxBatch   = 256
)

// newBatcher returns a batcher; maxLinger bounds its wait for company (none
// when zero or less).
func newBatcher(rdb redis.UniversalClient, batched bool, maxLinger time.Duration, obs Observer) *batcher {
	return &batcher{rdb: rdb, obs: obs, batched: batched, slots: make(chan struct{}, batchSlots),
		maxLinger: maxLinger, pauser: newPauser()}
}

// run runs script with keys and args, alone or with others.
func (b *batcher) run(ctx context.Context, script *redis.Script, keys []string, args ...any) ([]any, error) {
	if !b.batched {
		return script.Run(ctx, b.rdb, keys, args...).Slice()
	}
	cmdArgs := make([]any, 0, 3+len(keys)+len(args))
	cmdArgs = append(cmdArgs, "evalsha", script.Hash(), len(keys))
	for _, k := range keys {
		cmdArgs = append(cmdArgs, k)
	}
	cmdArgs = append(cmdArgs, args...)
	now := time.Now()
	c := &batchCall{cmd: redis.NewCmd(ctx, cmdArgs...), done: make(chan struct{}), queued: now}

	b.mu.Lock()
	b.queue = append(b.queue, c)
	b.countCall(now)
	b.mu.Unlock()
	b.lead(ctx, script)
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
		// The script cache was flushed (a restarted Redis): load it again.
		return script.Run(ctx, b.rdb, keys, args...).Slice()
	}
	return c.cmd.Slice()
}

// lead sends what is queued while a slot is free; a caller that finds none
// leaves its call to the callers holding them, each of which looks at the
// queue again after giving its slot back.
func (b *batcher) lead(ctx context.Context, script *redis.Script) {
	for {
		select {
		case b.slots <- struct{}{}:
		default:
			if b.step != nil {
				b.step("busy")
			}
			return
		}
		// Under load, wait a moment for company: every script that joins
		// this round trip saves a write and a read on both ends, and its
		// publications reach the other nodes together. At low rates nothing
		// waits.
		if d := b.linger(); d > 0 {
			b.pauser.pause(d)
		}
		b.mu.Lock()
		batch := b.queue
		if len(batch) > maxBatch {
			batch, b.queue = batch[:maxBatch], append([]*batchCall(nil), batch[maxBatch:]...)
		} else {
			b.queue = nil
		}
		if len(batch) > 1 {
			b.paired = true
		}
		b.mu.Unlock()
		if len(batch) > 0 {
			b.send(batch)
		} else if b.step != nil {
			b.step("idle")
		}
		<-b.slots
		// Look again after giving the slot back, even when this round had
		// nothing to send: a caller that found every slot taken queued its
		// call before trying, so whoever held a slot then finds it here.
		b.mu.Lock()
		more := len(b.queue) > 0
		b.mu.Unlock()
		if !more {
			return
		}
	}
}

func (b *batcher) send(batch []*batchCall) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.obs.Batch(len(batch))
	now := time.Now()
	for _, c := range batch {
		b.obs.BatchWait(now.Sub(c.queued))
	}
	if len(batch) == 1 {
		_ = b.rdb.Process(ctx, batch[0].cmd)
	} else {
		pipe := b.rdb.Pipeline()
		for _, c := range batch {
			_ = pipe.Process(ctx, c.cmd)
		}
		_, _ = pipe.Exec(ctx)
	}
	for _, c := range batch {
		close(c.done)
	}
}
