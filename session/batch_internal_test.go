package session

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session/sessiontest"
)

// TestBatcherSendsACallQueuedWhileLeadersFoundNothing holds the batcher in
// the interleaving that lost a wake-up: both slots are taken by leaders
// whose calls already went out with another's round trip, a call arrives,
// finds no free slot and leaves itself to them; they find their queue empty
// and give up their slots. Someone must still send that call.
func TestBatcherSendsACallQueuedWhileLeadersFoundNothing(t *testing.T) {
	rdb, _ := sessiontest.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	script := redis.NewScript("return {ARGV[1]}")
	require.NoError(t, script.Load(ctx, rdb).Err())

	b := newBatcher(rdb, true, DefaultLinger, NoObserver{})
	var idled atomic.Int32
	idle := make(chan struct{})
	release := make(chan struct{})
	busy := make(chan struct{}, 1)
	b.step = func(name string) {
		switch name {
		case "idle":
			if idled.Add(1) <= batchSlots {
				idle <- struct{}{}
				<-release
			}
		case "busy":
			select {
			case busy <- struct{}{}:
			default:
			}
		}
	}

	var leaders sync.WaitGroup
	for range batchSlots {
		leaders.Add(1)
		go func() {
			defer leaders.Done()
			b.lead(ctx, script)
		}()
		<-idle // this leader holds a slot and has found nothing to send
	}
	type result struct {
		res []any
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := b.run(ctx, script, nil, "late")
		done <- result{res, err}
	}()
	<-busy // the call is queued and its caller found every slot taken
	close(release)
	leaders.Wait()

	got := <-done
	require.NoError(t, got.err, "the queued call was never sent")
	require.Equal(t, []any{"late"}, got.res)
}
