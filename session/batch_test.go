package session

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBatcherLingersOnlyAtSustainedRates(t *testing.T) {
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		calls  []time.Duration // arrival offsets from start
		shared bool            // a round trip in the window carried several calls
		want   time.Duration
	}{
		{"nothing yet", nil, true, 0},
		{"a burst of a handoff's scripts", burst(0, 8, 50*time.Microsecond), true, 0},
		{"a burst then the next window", append(burst(0, 8, 50*time.Microsecond), 150*time.Millisecond), true, 0},
		{"1,000 per second", append(burst(0, 100, time.Millisecond), 100*time.Millisecond), true, 0},
		{"5,000 per second: a core to spare, no linger", append(burst(0, 500, 200*time.Microsecond), 100*time.Millisecond), true, 0},
		{"10,000 per second", append(burst(0, 1000, 100*time.Microsecond), 100*time.Millisecond), true, 800 * time.Microsecond},
		{"10,000 per second from one caller alone", append(burst(0, 1000, 100*time.Microsecond), 100*time.Millisecond), false, 0},
		{"10,000 per second, then a quiet spell", append(burst(0, 1000, 100*time.Microsecond), 100*time.Millisecond, 400*time.Millisecond), true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &batcher{window: start, paired: tt.shared, maxLinger: DefaultLinger}
			for _, at := range tt.calls {
				b.countCall(start.Add(at))
			}
			require.Equal(t, min(tt.want, DefaultLinger), b.linger())
			b.maxLinger = 200 * time.Microsecond
			require.Equal(t, min(tt.want, b.maxLinger), b.linger(), "a shorter bound is kept")
			b.maxLinger = 0
			require.Zero(t, b.linger(), "lingering switched off")
			b.maxLinger = DefaultLinger
			b.queue = make([]*batchCall, lingerBatch)
			require.Zero(t, b.linger(), "a batch's worth already waits")
		})
	}
}

// burst is n arrival offsets from at, every gap apart.
func burst(at time.Duration, n int, gap time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = at + time.Duration(i)*gap
	}
	return out
}
