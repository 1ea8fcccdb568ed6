package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// A hop is one of a node's own latency histograms, read from its /metrics
// (BATON_METRICS_ADDR, --metrics-a/-b) before and after a step: where a
// message's time goes inside the node, beside the end-to-end figure the
// generator measures. Means add up; the rest of the end-to-end time is
// outside the nodes' timers (the kernel, the wake-up of the goroutine that
// reads a socket, Redis's own queue, the generator).
type hop struct {
	name, family, label, value string
}

func hops() []hop {
	return []hop{
		{"batch_wait", "baton_redis_batch_wait_seconds", "", ""},
		{"roundtrip_single", "baton_redis_roundtrip_duration_seconds", "kind", "command"},
		{"roundtrip_pipeline", "baton_redis_roundtrip_duration_seconds", "kind", "pipeline"},
		{"append_script", "baton_redis_script_duration_seconds", "script", "append.lua"},
		{"write_visitor", "baton_socket_write_wait_seconds", "kind", "visitor"},
		{"write_console", "baton_socket_write_wait_seconds", "kind", "console"},
	}
}

// hopFig is one hop over one step.
type hopFig struct {
	Count  uint64  `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"` // interpolated within the histogram's bucket
}

// histSnap is a cumulative Prometheus histogram.
type histSnap struct {
	upper []float64
	cum   []uint64
	count uint64
	sum   float64
}

// scrapeHops reads every hop of every node; a node that cannot be read is
// left out (and its hops are missing from the step).
func scrapeHops(ctx context.Context, nodes map[string]string) map[string]map[string]histSnap {
	out := map[string]map[string]histSnap{}
	for node, u := range nodes {
		fams, err := scrapeMetrics(ctx, u)
		if err != nil {
			continue
		}
		m := map[string]histSnap{}
		for _, h := range hops() {
			if s, ok := findHist(fams[h.family], h.label, h.value); ok {
				m[h.name] = s
			}
		}
		out[node] = m
	}
	return out
}

func scrapeMetrics(ctx context.Context, base string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", base, res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(res.Body)
}

func findHist(f *dto.MetricFamily, label, value string) (histSnap, bool) {
	if f == nil {
		return histSnap{}, false
	}
	for _, m := range f.GetMetric() {
		if label != "" && !hasLabel(m, label, value) {
			continue
		}
		h := m.GetHistogram()
		if h == nil {
			continue
		}
		s := histSnap{count: h.GetSampleCount(), sum: h.GetSampleSum()}
		for _, b := range h.GetBucket() {
			s.upper = append(s.upper, b.GetUpperBound())
			s.cum = append(s.cum, b.GetCumulativeCount())
		}
		return s, true
	}
	return histSnap{}, false
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}

// hopDeltas is each hop over the step: after − before.
func hopDeltas(before, after map[string]map[string]histSnap) map[string]map[string]hopFig {
	out := map[string]map[string]hopFig{}
	for node, am := range after {
		bm := before[node]
		figs := map[string]hopFig{}
		for name, a := range am {
			b, ok := bm[name]
			if !ok || !sameBounds(a, b) || a.count <= b.count || fewer(a.cum, b.cum) {
				continue // a node that restarted mid-step has nothing to subtract
			}
			d := histSnap{upper: a.upper, cum: make([]uint64, len(a.cum)), count: a.count - b.count, sum: a.sum - b.sum}
			for i := range a.cum {
				d.cum[i] = a.cum[i] - b.cum[i]
			}
			figs[name] = hopFig{Count: d.count, MeanMS: 1000 * d.sum / float64(d.count),
				P50MS: 1000 * d.quantile(0.5), P99MS: 1000 * d.quantile(0.99)}
		}
		if len(figs) > 0 {
			out[node] = figs
		}
	}
	return out
}

// quantile interpolates linearly within the bucket holding q, as
// Prometheus's histogram_quantile does; past the last finite bound it is
// that bound.
func (s histSnap) quantile(q float64) float64 {
	if s.count == 0 {
		return 0
	}
	rank := q * float64(s.count)
	i := sort.Search(len(s.cum), func(i int) bool { return float64(s.cum[i]) >= rank })
	if i == len(s.cum) {
		return s.upper[len(s.upper)-1]
	}
	lo, below := 0.0, uint64(0)
	if i > 0 {
		lo, below = s.upper[i-1], s.cum[i-1]
	}
	hi := s.upper[i]
	if math.IsInf(hi, 1) {
		return lo
	}
	in := s.cum[i] - below
	if in == 0 {
		return hi
	}
	return lo + (hi-lo)*(rank-float64(below))/float64(in)
}

// hopsText is one line per node: each hop's mean, p50 and p99.
func hopsText(h map[string]map[string]hopFig) []string {
	var lines []string
	for _, node := range sortedKeys(h) {
		var parts []string
		for _, hp := range hops() {
			if f, ok := h[node][hp.name]; ok {
				parts = append(parts, fmt.Sprintf("%s %.3f/%.3f/%.2f (%d)", hp.name, f.MeanMS, f.P50MS, f.P99MS, f.Count))
			}
		}
		lines = append(lines, node+": "+strings.Join(parts, ", "))
	}
	return lines
}

func sameBounds(a, b histSnap) bool {
	if len(a.upper) != len(b.upper) || len(a.cum) != len(b.cum) {
		return false
	}
	for i := range a.upper {
		if a.upper[i] != b.upper[i] {
			return false
		}
	}
	return true
}

// fewer reports whether any cumulative count went down.
func fewer(after, before []uint64) bool {
	for i := range after {
		if after[i] < before[i] {
			return true
		}
	}
	return false
}
