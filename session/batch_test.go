package session

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session/sessiontest"
)

// TestBatcherGivesEachCallItsOwnReply: however calls are grouped into round
// trips, each gets the reply to its own script, also after Redis lost its
// script cache.
func TestBatcherGivesEachCallItsOwnReply(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	script := redis.NewScript(`return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}`)
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			b := newBatcher(rdb, batched)
			ctx := context.Background()
			var wg sync.WaitGroup
			for g := 0; g < 32; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 50; i++ {
						key := fmt.Sprintf("%sbatch:%v:%d", prefix, batched, g)
						arg := fmt.Sprintf("g%d-%d", g, i)
						v, err := b.run(ctx, script, []string{key}, arg)
						if !sessiontest.Shared(t).Embedded && i == 25 && g == 0 {
							// Mid-run, Redis forgets every script.
							require.NoError(t, rdb.ScriptFlush(ctx).Err())
						}
						require.NoError(t, err)
						require.Equal(t, key, v[0])
						require.Equal(t, arg, v[1])
						require.EqualValues(t, i+1, v[2], "this goroutine's calls run in its order")
					}
				}()
			}
			wg.Wait()
		})
	}
}
