package session

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The pauser's precision is measured (BenchmarkPause), not asserted: on a
// loaded machine any wait can overshoot. What must hold anywhere is that
// it waits at least as long as asked, that nothing asked waits forever, and
// that more waiters than its free list holds all come back.
func TestPauserWaitsAtLeastAsLongAsAsked(t *testing.T) {
	p := newPauser()
	tests := []struct {
		name string
		d    time.Duration
	}{
		{"nothing", 0},
		{"less than nothing", -time.Millisecond},
		{"a tenth of a millisecond", 100 * time.Microsecond},
		{"half a millisecond", 500 * time.Microsecond},
		{"two milliseconds", 2 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 3 { // the second and third reuse a timer
				start := time.Now()
				p.pause(tt.d)
				took := time.Since(start)
				require.GreaterOrEqual(t, took, tt.d)
				require.Less(t, took, tt.d+5*time.Second, "a pause came back only at the guard")
			}
		})
	}
}

func TestPauserServesMoreWaitersThanItKeeps(t *testing.T) {
	p := newPauser()
	const waiters = 4 * batchSlots
	var wg sync.WaitGroup
	took := make([]time.Duration, waiters)
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			p.pause(300 * time.Microsecond)
			took[i] = time.Since(start)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a concurrent pause never came back")
	}
	for i, d := range took {
		require.GreaterOrEqual(t, d, 300*time.Microsecond, "waiter %d", i)
	}
}

// BenchmarkPause reports how far past the asked-for time a pause ends, for
// the pauser and for time.Sleep, on an otherwise idle process.
func BenchmarkPause(b *testing.B) {
	for _, d := range []time.Duration{100 * time.Microsecond, 500 * time.Microsecond} {
		for _, w := range []struct {
			name string
			p    pauser
		}{{"pauser", newPauser()}, {"sleep", sleeper{}}} {
			b.Run(w.name+"/"+d.String(), func(b *testing.B) {
				over := make([]time.Duration, 0, b.N)
				for b.Loop() {
					start := time.Now()
					w.p.pause(d)
					over = append(over, time.Since(start)-d)
				}
				sort.Slice(over, func(i, j int) bool { return over[i] < over[j] })
				b.ReportMetric(float64(over[len(over)/2].Microseconds()), "over-p50-µs")
				b.ReportMetric(float64(over[len(over)*99/100].Microseconds()), "over-p99-µs")
			})
		}
	}
}
