package prom

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/sessiontest"
)

// BenchmarkVisitorMessage is a visitor's message stored and counted, as
// the socket's path does it (one append.lua round trip through the
// batcher, to the test's Redis), without metrics and with them (the
// Observer and the Redis hook): the difference is what metrics cost a
// message.
func BenchmarkVisitorMessage(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run("metrics="+map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			rdb, prefix := sessiontest.Redis(b)
			opts := session.Options{Redis: rdb, Prefix: prefix}
			if on {
				m := New(Options{})
				opts.Observer = m
				rdb.AddHook(m.RedisHook())
			}
			s := session.New(opts)
			ctx := context.Background()
			mer, err := s.CreateMerchant(ctx, "Bench", nil, "")
			if err != nil {
				b.Fatal(err)
			}
			var turn session.Turn
			fresh := func() {
				c, _, err := s.StartConversation(ctx, mer, session.VisitorInfo{})
				if err != nil {
					b.Fatal(err)
				}
				turn = c.Turn()
				if err := s.RequestHandoff(ctx, turn); err != nil {
					b.Fatal(err)
				}
				turn = turn.Stored()
				turn.Status, turn.Engaged = session.StatusQueued, true
			}
			fresh()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i%4000 == 3999 {
					fresh() // stay under the transcript's bound
				}
				if err := s.VisitorMessage(ctx, turn, "c"+strconv.Itoa(i), "hello there"); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkObserver is the Observer's share of a message alone: the entry
// counted and its script's call timed.
func BenchmarkObserver(b *testing.B) {
	m := New(Options{})
	b.ReportAllocs()
	for b.Loop() {
		m.Message(session.RoleVisitor)
		m.ScriptCall("append.lua", time.Millisecond, nil)
		m.Batch(1)
	}
}
