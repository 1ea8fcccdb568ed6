package main

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistQuantiles(t *testing.T) {
	h := newHist()
	var all []time.Duration
	for i := 0; i < 100000; i++ {
		d := time.Duration(rand.ExpFloat64() * float64(time.Millisecond))
		h.record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		want := all[int(q*float64(len(all)))-1]
		got := h.quantile(q)
		require.InEpsilon(t, float64(want), float64(got), 0.01, "q%v", q)
	}
	require.Equal(t, all[len(all)-1], time.Duration(h.max))
	other := newHist()
	other.record(time.Hour)
	h.merge(other)
	require.Equal(t, time.Hour, h.quantile(1))
}

func TestHistBuckets(t *testing.T) {
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1e6, 1e9, 1 << 39} {
		i := histIndex(v)
		mid := histValue(i)
		require.InEpsilon(t, float64(v)+1, float64(mid)+1, 0.01, "value %d bucket %d", v, i)
	}
}

func TestFrameMarkRoundTrip(t *testing.T) {
	b := appendFrame(nil, 42, 4711, 3, 123456789*time.Nanosecond, 100)
	i := bytes.Index(b, textMark)
	require.Positive(t, i)
	idx, seq, step, due, ok := parseMark(b[i+len(textMark):])
	require.True(t, ok)
	require.Equal(t, []int64{42, 4711, 3, 123456789}, []int64{idx, seq, step, due})

	w := appendFrame(nil, 7, 0, -1, 0, 40)
	i = bytes.Index(w, textMark)
	_, _, step, _, ok = parseMark(w[i+len(textMark):])
	require.True(t, ok)
	require.EqualValues(t, -1, step)
	require.Contains(t, string(w), `"client_id":"w7-0"`)

	_, _, _, _, ok = parseMark([]byte("12|x|"))
	require.False(t, ok)
}

func TestParseSources(t *testing.T) {
	ips, err := parseSources("127.0.0.2-127.0.0.4,127.0.0.9")
	require.NoError(t, err)
	require.Len(t, ips, 4)
	require.Equal(t, "127.0.0.9", ips[3].String())
	ips, err = parseSources("none")
	require.NoError(t, err)
	require.Nil(t, ips)
	_, err = parseSources("127.0.0.5-127.0.0.2")
	require.Error(t, err)
}
