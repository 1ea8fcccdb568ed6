package prom

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/redis/go-redis/v9"

	"github.com/batonchat/baton/gateway/socket"
	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/sessiontest"
)

// fakeState serves a fixed snapshot (or an error) and counts its reads.
type fakeState struct {
	snap  *session.OpsSnapshot
	err   error
	reads atomic.Int64
}

func (f *fakeState) OpsSnapshot(context.Context) (*session.OpsSnapshot, error) {
	f.reads.Add(1)
	return f.snap, f.err
}

// merchants makes n merchants, merchant i with i conversations queued, the
// oldest of them waiting i seconds.
func merchants(n int) *session.OpsSnapshot {
	s := &session.OpsSnapshot{Depth: map[string]int64{"helpdesk": 3, "webhook": 4},
		DeadLetters: map[string]int64{"helpdesk": 1, "webhook": 2}}
	for i := range n {
		s.Queues = append(s.Queues, session.QueueGauge{MerchantID: fmt.Sprintf("m_%03d", i), Length: int64(i),
			OldestWait: time.Duration(i) * time.Second})
	}
	return s
}

// series returns the family's values by merchant label.
func series(t *testing.T, m *Metrics, name string) map[string]float64 {
	t.Helper()
	fams, err := m.Gatherer().Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, mt := range f.GetMetric() {
			out[label(mt, "merchant")] = mt.GetGauge().GetValue()
		}
	}
	return out
}

func label(mt *dto.Metric, name string) string {
	for _, l := range mt.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestQueueMerchantsBounded: however many merchants there are, at most
// MaxMerchants of them (the longest queues) get series; the rest are summed
// under merchant="other", whose wait is the longest among them.
func TestQueueMerchantsBounded(t *testing.T) {
	for _, tc := range []struct {
		name          string
		merchants     int
		max           int
		wantSeries    int
		wantOther     float64 // queued among the merchants left out
		wantOtherWait float64
	}{
		{name: "fewer than the bound", merchants: 3, max: 50, wantSeries: 4},
		{name: "many merchants", merchants: 1000, max: 50, wantSeries: 51,
			wantOther: 950 * 949 / 2, wantOtherWait: 949}, // 0..949 are left out
		{name: "none labelled", merchants: 10, max: 0, wantSeries: 1, wantOther: 45, wantOtherWait: 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Options{MaxMerchants: tc.max})
			m.WatchState(&fakeState{snap: merchants(tc.merchants)})
			require.Equal(t, tc.wantSeries, testutil.CollectAndCount(m.reg, "baton_queue_length"))
			require.Equal(t, tc.wantSeries, testutil.CollectAndCount(m.reg, "baton_queue_oldest_wait_seconds"))
			lens := series(t, m, "baton_queue_length")
			waits := series(t, m, "baton_queue_oldest_wait_seconds")
			require.Equal(t, tc.wantOther, lens["other"])
			require.Equal(t, tc.wantOtherWait, waits["other"])
			// The longest queue always has its own series.
			if tc.max > 0 {
				top := fmt.Sprintf("m_%03d", tc.merchants-1)
				require.Equal(t, float64(tc.merchants-1), lens[top])
			}
			var total float64
			for _, v := range lens {
				total += v
			}
			require.Equal(t, float64(tc.merchants*(tc.merchants-1)/2), total, "nothing is lost in the sum")
		})
	}
}

// TestStateReadCached: scrapes within CacheFor share one read of Redis; a
// failed read is counted and leaves the gauges out rather than at zero.
func TestStateReadCached(t *testing.T) {
	st := &fakeState{snap: merchants(2)}
	m := New(Options{CacheFor: time.Hour})
	m.WatchState(st)
	for range 3 {
		_, err := m.Gatherer().Gather()
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, st.reads.Load())
	require.NoError(t, testutil.GatherAndCompare(m.reg, strings.NewReader(`
# HELP baton_outbox_depth Entries an outbox (helpdesk, webhook) has still to settle.
# TYPE baton_outbox_depth gauge
baton_outbox_depth{outbox="helpdesk"} 3
baton_outbox_depth{outbox="webhook"} 4
# HELP baton_dead_letters_held Dead letters an outbox holds until an admin retries them.
# TYPE baton_dead_letters_held gauge
baton_dead_letters_held{outbox="helpdesk"} 1
baton_dead_letters_held{outbox="webhook"} 2
`), "baton_outbox_depth", "baton_dead_letters_held"))

	broken := &fakeState{err: errors.New("redis: connection refused")}
	m = New(Options{CacheFor: time.Nanosecond})
	m.WatchState(broken)
	_, err := m.Gatherer().Gather()
	require.NoError(t, err)
	require.Zero(t, testutil.CollectAndCount(m.reg, "baton_queue_length"))
	require.Equal(t, 2.0, testutil.ToFloat64(m.readErrs))
}

type fakeSockets []socket.Tally

func (f fakeSockets) Tallies() []socket.Tally { return f }

// TestSocketKinds: the named kinds are reported at zero before their first
// socket, others as they come.
func TestSocketKinds(t *testing.T) {
	m := New(Options{})
	m.WatchSockets(fakeSockets{{Kind: "visitor", Open: 2, In: 10, Out: 12}}, "visitor", "console")
	require.NoError(t, testutil.GatherAndCompare(m.reg, strings.NewReader(`
# HELP baton_sockets_open WebSockets open on this process, by kind (visitor, console).
# TYPE baton_sockets_open gauge
baton_sockets_open{kind="console"} 0
baton_sockets_open{kind="visitor"} 2
# HELP baton_socket_frames_total WebSocket data frames read (in) and written (out) by this process, by kind.
# TYPE baton_socket_frames_total counter
baton_socket_frames_total{direction="in",kind="console"} 0
baton_socket_frames_total{direction="out",kind="console"} 0
baton_socket_frames_total{direction="in",kind="visitor"} 10
baton_socket_frames_total{direction="out",kind="visitor"} 12
`), "baton_sockets_open", "baton_socket_frames_total"))
}

// TestObserverCounts: each Observer call lands in its series, and
// canceled calls are not errors.
func TestObserverCounts(t *testing.T) {
	m := New(Options{})
	m.Message(session.RoleVisitor)
	m.Message(session.RoleVisitor)
	m.Message(session.Role("robot"))
	m.ScriptCall("apply.lua", time.Millisecond, nil)
	m.ScriptCall("apply.lua", time.Millisecond, errors.New("READONLY"))
	m.ScriptCall("apply.lua", time.Millisecond, context.Canceled)
	m.OutboxAttempt(session.MethodZendesk, session.AttemptRetry)
	m.WebhookDelivery(session.AttemptDone)
	m.DeadLetter(session.OutboxWebhook)
	m.ModelCall("answer", time.Second, nil)
	m.ModelCall("answer", time.Second, &session.ModelError{Kind: session.ModelRateLimited})
	m.ModelCall("embed", time.Second, context.Canceled)
	require.Equal(t, 2.0, testutil.ToFloat64(m.messages[0]))
	require.Equal(t, 1.0, testutil.ToFloat64(m.messages[4]))
	require.Equal(t, 1.0, testutil.ToFloat64(m.scriptErr.WithLabelValues("apply.lua")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.attempts.WithLabelValues("zendesk", "retry")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.webhooks.WithLabelValues("done")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.dead.WithLabelValues("webhook")))
	require.Equal(t, 0.0, testutil.ToFloat64(m.dead.WithLabelValues("helpdesk")))
	// The closed sets are all there from the start, at zero but for
	// these three.
	require.Equal(t, 12, testutil.CollectAndCount(m.modelN))
	var sum float64
	for _, call := range []string{"answer", "embed"} {
		for _, o := range []string{"ok", "canceled", "timeout", "rate_limited", "unavailable", "rejected"} {
			sum += testutil.ToFloat64(m.modelN.WithLabelValues(call, o))
		}
	}
	require.Equal(t, 3.0, sum)
	require.Equal(t, 1.0, testutil.ToFloat64(m.modelN.WithLabelValues("answer", "ok")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.modelN.WithLabelValues("answer", "rate_limited")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.modelN.WithLabelValues("embed", "canceled")))
	require.Equal(t, 8, testutil.CollectAndCount(m.attempts))
	require.NoError(t, testutil.GatherAndCompare(m.reg, strings.NewReader(`
# HELP baton_redis_script_duration_seconds Redis script calls and their latency (including any wait for a shared round trip), by script.
# TYPE baton_redis_script_duration_seconds histogram
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="5e-05"} 0
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.0001"} 0
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.0002"} 0
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.0003"} 0
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.0005"} 0
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.00075"} 0
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.001"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.0015"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.002"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.0025"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.003"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.005"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.0075"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.01"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.025"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.05"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.1"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.25"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="0.5"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="1"} 3
baton_redis_script_duration_seconds_bucket{script="apply.lua",le="+Inf"} 3
baton_redis_script_duration_seconds_sum{script="apply.lua"} 0.003
baton_redis_script_duration_seconds_count{script="apply.lua"} 3
`), "baton_redis_script_duration_seconds"))
}

// TestHotPathAllocatesNothing: what the per-message path calls allocates
// nothing once a script's series is bound.
func TestHotPathAllocatesNothing(t *testing.T) {
	m := New(Options{})
	m.ScriptCall("append.lua", time.Millisecond, nil)
	hook := m.RedisHook()
	process := hook.ProcessHook(func(context.Context, redis.Cmder) error { return nil })
	pipeline := hook.ProcessPipelineHook(func(context.Context, []redis.Cmder) error { return nil })
	ctx := context.Background()
	cmd := redis.NewCmd(ctx, "evalsha", "abc", 0)
	cmds := []redis.Cmder{cmd}
	wrote := m.SocketWriteWait("visitor")
	for name, f := range map[string]func(){
		"round trip": func() { _ = process(ctx, cmd) },
		"pipeline":   func() { _ = pipeline(ctx, cmds) },
		"message":    func() { m.Message(session.RoleVisitor) },
		"script":     func() { m.ScriptCall("append.lua", time.Millisecond, nil) },
		"batch":      func() { m.Batch(8) },
		"batch wait": func() { m.BatchWait(300 * time.Microsecond) },
		"write wait": func() { wrote(50 * time.Microsecond) },
		"assign":     func() { m.Assigned(false, time.Second) },
	} {
		require.Zero(t, testing.AllocsPerRun(1000, f), name)
	}
}

// TestMetricNamesLint: promlint finds nothing to say about the names,
// units and help texts.
func TestMetricNamesLint(t *testing.T) {
	m := New(Options{MaxMerchants: 1})
	m.WatchState(&fakeState{snap: merchants(3)})
	m.WatchSockets(fakeSockets{}, "visitor")
	m.ScriptCall("apply.lua", time.Millisecond, nil)
	m.Handoff(session.MethodInbox, session.HandoffQueued, session.ReasonUnsure)
	m.OutboxAttempt(session.MethodZendesk, session.AttemptDone)
	m.WebhookDelivery(session.AttemptDone)
	m.ModelCall("answer", time.Second, nil)
	problems, err := testutil.GatherAndLint(m.reg)
	require.NoError(t, err)
	var own []string
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "baton_") {
			own = append(own, p.Metric+": "+p.Text)
		}
	}
	require.Empty(t, own)
}

// TestRedisHook: every round trip is timed, pipelines as one; a missing
// key is no error, a refused command is.
func TestRedisHook(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	m := New(Options{})
	rdb.AddHook(m.RedisHook())
	ctx := context.Background()
	count := func(kind string) uint64 {
		for _, f := range must(m.Gatherer().Gather()) {
			if f.GetName() != "baton_redis_roundtrip_duration_seconds" {
				continue
			}
			for _, mt := range f.GetMetric() {
				if label(mt, "kind") == kind {
					return mt.GetHistogram().GetSampleCount()
				}
			}
		}
		return 0
	}
	// A connection's set-up (HELLO and the client's name) is a pipeline of
	// its own, and the pool may open another connection meanwhile: the
	// counts are at least what the test sent.
	require.NoError(t, rdb.Ping(ctx).Err())
	cmds, pipes := count("command"), count("pipeline")

	require.NoError(t, rdb.Set(ctx, prefix+"k", "v", time.Minute).Err())
	require.ErrorIs(t, rdb.Get(ctx, prefix+"missing").Err(), redis.Nil)
	pipe := rdb.Pipeline()
	pipe.Get(ctx, prefix+"k")
	pipe.Get(ctx, prefix+"missing")
	_, err := pipe.Exec(ctx)
	require.ErrorIs(t, err, redis.Nil)
	require.Error(t, rdb.Do(ctx, "NOSUCHCOMMAND").Err())

	require.GreaterOrEqual(t, count("command"), cmds+3) // set, get, the refused one (and whatever the test client adds)
	require.GreaterOrEqual(t, count("pipeline"), pipes+1)
	// Only the refused command failed: not the connection's set-up, which
	// this Redis may refuse in part (CLIENT SETINFO before 7.2).
	require.Equal(t, 1.0, testutil.ToFloat64(m.rtErr.WithLabelValues("command")))
	require.Equal(t, 0.0, testutil.ToFloat64(m.rtErr.WithLabelValues("pipeline")))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
