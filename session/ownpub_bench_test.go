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
// cpu-µs/op is the process's CPU (user and system) per publication:
//   - burst: Redis publishes them from one script, so they arrive many to
//     a read and the node's CPU is the receiving alone;
//   - one by one: a client of the same process publishes each and waits for
//     the reply, so each comes alone, as in a relay at a few thousand
//     messages a second; "unwatched" is the same publishing to a channel
//     the node does not watch, so the difference between the two is what
//     receiving costs.
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
	entry := `{"seq":%d,"id":"m_abcdefghijklmnop","client_id":"5f0c2d6e","role":"visitor","text":"Hi there, a question about my order","ts":"2026-11-25T09:30:00.120Z"}`
	old := "e1 " + fmt.Sprintf(entry, 1)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// received waits until everything published so far on the watched
	// channel has been read: the one new entry comes after it.
	next := int64(delivered)
	received := func(b *testing.B) {
		next++
		if err := rdb.Publish(ctx, watched, fmt.Sprintf("e%d ", next)+fmt.Sprintf(entry, next)).Err(); err != nil {
			b.Fatal(err)
		}
		select {
		case <-w.got:
		case <-time.After(30 * time.Second):
			b.Fatal("the new entry never came")
		}
	}
	run := func(name string, publish func(b *testing.B, n int)) {
		b.Run(name, func(b *testing.B) {
			received(b)
			before := cpu()
			publish(b, b.N)
			received(b)
			b.ReportMetric(float64((cpu()-before).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
		})
	}
	script := `for i = 1, tonumber(ARGV[1]) do redis.call('PUBLISH', KEYS[1], ARGV[2]) end`
	run("burst", func(b *testing.B, n int) {
		for left := n; left > 0; left -= 1000 {
			if err := rdb.Eval(ctx, script, []string{watched}, min(left, 1000), old).Err(); err != nil && !errors.Is(err, redis.Nil) {
				b.Fatal(err)
			}
		}
	})
	oneByOne := func(ch string) func(b *testing.B, n int) {
		return func(b *testing.B, n int) {
			for range n {
				if err := rdb.Publish(ctx, ch, old).Err(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	run("one by one", oneByOne(watched))
	run("one by one, unwatched", oneByOne(prefix+"nobody"))
}
