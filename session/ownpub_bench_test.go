//go:build unix

package session

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/batonchat/baton/session/sessiontest"
	"github.com/redis/go-redis/v9"
)

// signalWatcher tells when an entry arrives.
type signalWatcher struct{ got chan int64 }

func (w *signalWatcher) Entry(_ string, e RawEntry) { w.got <- e.Seq }
func (w *signalWatcher) State(string, State)        {}
func (w *signalWatcher) Typing(string, Role, bool)  {}
func (w *signalWatcher) Gone(string)                {}

// BenchmarkOwnPublicationReceived is what a node spends on a publication it
// has already delivered locally (its own message, coming back from Redis):
// the pub/sub read, the envelope's parse and the seq check that drops it.
// Redis publishes them from one script, so they arrive many to a read and
// the process's CPU (user and system, cpu-µs/op) is the receiving alone: the
// floor of what a node that never received its own publications would save.
// A lone publication, as in a relay, also costs its own wakeup and read;
// that part is not separable here (a client of the same process publishing
// one at a time costs more than the receiving, and more on an idle box).
func BenchmarkOwnPublicationReceived(b *testing.B) {
	rdb, prefix := sessiontest.Redis(b)
	s := New(Options{Redis: rdb, Prefix: prefix, Assistant: fixedAssistant{}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	m, err := s.CreateMerchant(ctx, "Bench", nil, "")
	if err != nil {
		b.Fatal(err)
	}
	c, _, err := s.StartConversation(ctx, m, VisitorInfo{})
	if err != nil {
		b.Fatal(err)
	}
	turn := stored(b, s, c)
	const delivered = 1 << 40 // everything published below is "already delivered"
	w := &signalWatcher{got: make(chan int64, 1)}
	f := s.hub.WatchConversation(ctx, turn.ConversationID, delivered, w)
	defer f.Stop()
	watched := s.keys.convChannel(turn.ConversationID)
	old := "e1 " + fmt.Sprintf(benchEntry, 1)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// received waits until everything published so far on the watched
	// channel has been read: the one new entry comes after it.
	next := int64(delivered)
	received := func() {
		next++
		if err := rdb.Publish(ctx, watched, fmt.Sprintf("e%d ", next)+fmt.Sprintf(benchEntry, next)).Err(); err != nil {
			b.Fatal(err)
		}
		select {
		case <-w.got:
		case <-time.After(30 * time.Second):
			b.Fatal("the new entry never came")
		}
	}
	script := `for i = 1, tonumber(ARGV[1]) do redis.call('PUBLISH', KEYS[1], ARGV[2]) end`
	// Live entries reach the watcher once the feed's first fill is done.
	for filling := true; filling; time.Sleep(time.Millisecond) {
		f.mu.Lock()
		filling = f.filling
		f.mu.Unlock()
	}
	received()
	b.ResetTimer()
	before := cpu()
	for left := b.N; left > 0; left -= 1000 {
		if err := rdb.Eval(ctx, script, []string{watched}, min(left, 1000), old).Err(); err != nil && !errors.Is(err, redis.Nil) {
			b.Fatal(err)
		}
	}
	received()
	b.StopTimer()
	b.ReportMetric(float64((cpu()-before).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
}
