package session

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/batonchat/baton/session/sessiontest"
)

// roundTrips counts what a client sends: round trips (a command alone, or
// a pipeline) and commands.
type roundTrips struct{ trips, cmds atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.trips.Add(1)
		r.cmds.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.trips.Add(1)
		r.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// BenchmarkRoutingPass is one node's routing pass over 1,000 merchants
// with the default routing (reassign after 120 s) and nothing to reassign,
// winning every merchant's lock. Every node runs one every five seconds;
// the configurations it reads are cached for ten, so every other pass
// reads them again.
func BenchmarkRoutingPass(b *testing.B) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", time.Hour}, {"reloaded", time.Nanosecond}} {
		b.Run(tc.name, func(b *testing.B) { benchmarkRoutingPass(b, tc.ttl) })
	}
}

func benchmarkRoutingPass(b *testing.B, configTTL time.Duration) {
	rdb, prefix := sessiontest.Redis(b)
	s := New(Options{Redis: rdb, Prefix: prefix, ConfigTTL: configTTL})
	ctx := context.Background()
	const merchants = 1000
	ids := make([]string, merchants)
	for i := range ids {
		m, err := s.CreateMerchant(ctx, "Bench", nil, "")
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = m.ID
	}
	var rt roundTrips
	rdb.AddHook(&rt)
	var trips, cmds int64
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		pipe := rdb.Pipeline()
		for _, id := range ids {
			pipe.Del(ctx, s.keys.merchantLock(id, "routing"))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		t0, c0 := rt.trips.Load(), rt.cmds.Load()
		b.StartTimer()
		if err := s.routingPass(ctx); err != nil {
			b.Fatal(err)
		}
		trips += rt.trips.Load() - t0
		cmds += rt.cmds.Load() - c0
	}
	b.ReportMetric(float64(trips)/float64(b.N), "round-trips/op")
	b.ReportMetric(float64(cmds)/float64(b.N), "commands/op")
}
