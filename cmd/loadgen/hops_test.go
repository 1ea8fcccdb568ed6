package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHopDeltasAndQuantiles(t *testing.T) {
	upper := []float64{0.0001, 0.0005, 0.001, math.Inf(1)}
	before := map[string]map[string]histSnap{"baton-a": {
		"batch_wait": {upper: upper, cum: []uint64{10, 10, 10, 10}, count: 10, sum: 0.0005},
	}}
	// 100 more: 50 under 0.1 ms, 40 in 0.1–0.5 ms, 10 in 0.5–1 ms.
	after := map[string]map[string]histSnap{"baton-a": {
		"batch_wait":    {upper: upper, cum: []uint64{60, 100, 110, 110}, count: 110, sum: 0.0005 + 0.02},
		"write_visitor": {upper: upper, cum: []uint64{1, 1, 1, 1}, count: 1, sum: 0.00005}, // no before: left out
	}}
	got := hopDeltas(before, after)
	require.Len(t, got, 1)
	require.Len(t, got["baton-a"], 1)
	f := got["baton-a"]["batch_wait"]
	tests := []struct {
		name      string
		got, want float64
	}{
		{"count", float64(f.Count), 100},
		{"mean ms", f.MeanMS, 0.2},
		{"p50 ms: the 50th of 50 under 0.1 ms", f.P50MS, 0.1},
		{"p99 ms: the 9th of 10 between 0.5 and 1 ms", f.P99MS, 0.95},
	}
	for _, tt := range tests {
		require.InDelta(t, tt.want, tt.got, 1e-9, tt.name)
	}
	require.Empty(t, hopDeltas(after, after), "nothing happened between two equal scrapes")
	restarted := map[string]map[string]histSnap{"baton-a": {
		"batch_wait": {upper: upper, cum: []uint64{5, 120, 130, 130}, count: 130, sum: 0.03},
	}}
	require.Empty(t, hopDeltas(after, restarted), "a bucket that went down: the node restarted, nothing to say")
	over := histSnap{upper: upper, cum: []uint64{0, 0, 0, 5}, count: 5}
	require.Equal(t, 0.001, over.quantile(0.99), "past the last finite bound: that bound")
}
