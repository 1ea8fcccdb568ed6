package prom

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// RedisHook times every round trip a Redis client makes (single commands,
// and pipelines as one), scripts included, and counts those that fail.
// Subscriptions are not round trips and are not seen. Add it to the
// client before it is used.
func (m *Metrics) RedisHook() redis.Hook {
	return redisHook{
		cmdDur: m.rtDur.WithLabelValues("command"), pipeDur: m.rtDur.WithLabelValues("pipeline"),
		cmdErr: m.rtErr.WithLabelValues("command"), pipeErr: m.rtErr.WithLabelValues("pipeline"),
	}
}

type redisHook struct {
	cmdDur, pipeDur prometheus.Observer
	cmdErr, pipeErr prometheus.Counter
}

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.cmdDur.Observe(time.Since(start).Seconds())
		if failed(err) && !setup(cmd) {
			h.cmdErr.Inc()
		}
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.pipeDur.Observe(time.Since(start).Seconds())
		if failed(err) && (len(cmds) == 0 || !setup(cmds[0])) {
			h.pipeErr.Inc()
		}
		return err
	}
}

// setup: a command go-redis sends on a new connection (HELLO, CLIENT
// SETINFO, CLIENT MAINT_NOTIFICATIONS), which an older Redis refuses
// without harm; Baton itself sends neither.
func setup(cmd redis.Cmder) bool {
	n := cmd.Name()
	return n == "client" || n == "hello"
}

// failed: Redis or the connection failed. A missing key (redis.Nil) is an
// answer, a caller that went away is not Redis's failure, and a script
// that is not cached yet is loaded at once (go-redis's Run).
func failed(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	return !redis.HasErrorPrefix(err, "NOSCRIPT")
}
