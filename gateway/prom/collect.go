package prom

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/batonchat/baton/gateway/socket"
	"github.com/batonchat/baton/session"
)

// State is what the Redis gauges are read from (session.Service).
type State interface {
	OpsSnapshot(ctx context.Context) (*session.OpsSnapshot, error)
}

// Sockets is what the socket gauges are read from (socket.Registry).
type Sockets interface {
	Tallies() []socket.Tally
}

// WatchState adds the queue, outbox and dead-letter gauges, read from st
// when scraped.
func (m *Metrics) WatchState(st State) {
	m.reg.MustRegister(&stateCollector{m: m, st: st, now: time.Now,
		queueLen: prometheus.NewDesc("baton_queue_length",
			`Conversations waiting in a merchant's inbox queue; merchants beyond the configured count are summed under merchant="other".`,
			[]string{"merchant"}, nil),
		queueWait: prometheus.NewDesc("baton_queue_oldest_wait_seconds",
			`How long the longest-waiting conversation of a merchant's queue has waited; for merchant="other", the longest among them.`,
			[]string{"merchant"}, nil),
		depth: prometheus.NewDesc("baton_outbox_depth",
			"Entries an outbox (helpdesk, webhook) has still to settle.", []string{"outbox"}, nil),
		deadHeld: prometheus.NewDesc("baton_dead_letters_held",
			"Dead letters an outbox holds until an admin retries them.", []string{"outbox"}, nil),
	})
}

// WatchSockets adds the socket gauges and frame counters, read from s when
// scraped; kinds are reported (at zero) before their first socket.
func (m *Metrics) WatchSockets(s Sockets, kinds ...string) {
	m.reg.MustRegister(&socketCollector{s: s, kinds: kinds,
		open: prometheus.NewDesc("baton_sockets_open",
			"WebSockets open on this process, by kind (visitor, console).", []string{"kind"}, nil),
		frames: prometheus.NewDesc("baton_socket_frames_total",
			"WebSocket data frames read (in) and written (out) by this process, by kind.", []string{"kind", "direction"}, nil),
	})
}

// otherMerchants is the merchant label of the queues beyond MaxMerchants.
const otherMerchants = "other"

// stateCollector reads Redis state at scrape time, at most once per
// CacheFor: several Prometheus servers, or one scraping often, cost one
// read.
type stateCollector struct {
	m   *Metrics
	st  State
	now func() time.Time

	queueLen, queueWait, depth, deadHeld *prometheus.Desc

	mu   sync.Mutex
	at   time.Time
	snap *session.OpsSnapshot
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.queueLen
	ch <- c.queueWait
	ch <- c.depth
	ch <- c.deadHeld
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.read()
	if snap == nil {
		return
	}
	for _, q := range boundQueues(snap.Queues, c.m.opts.MaxMerchants) {
		ch <- prometheus.MustNewConstMetric(c.queueLen, prometheus.GaugeValue, float64(q.Length), q.MerchantID)
		ch <- prometheus.MustNewConstMetric(c.queueWait, prometheus.GaugeValue, q.OldestWait.Seconds(), q.MerchantID)
	}
	for _, o := range []string{session.OutboxHelpdesk, session.OutboxWebhook} {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(snap.Depth[o]), o)
		ch <- prometheus.MustNewConstMetric(c.deadHeld, prometheus.GaugeValue, float64(snap.DeadLetters[o]), o)
	}
}

// read returns the cached snapshot, or a fresh one once it is stale; nil
// when Redis cannot be read (counted, and the gauges are left out rather
// than reported as zero).
func (c *stateCollector) read() *session.OpsSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.snap != nil && now.Sub(c.at) < c.m.opts.CacheFor {
		return c.snap
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.m.opts.ReadTimeout)
	defer cancel()
	snap, err := c.st.OpsSnapshot(ctx)
	if err != nil {
		c.m.readErrs.Inc()
		c.snap = nil
		return nil
	}
	c.snap, c.at = snap, now
	return snap
}

// boundQueues keeps the max merchants with the longest queues (then the
// longest waits, then by id, so the choice is stable) and sums the rest
// under "other", which is always present.
func boundQueues(qs []session.QueueGauge, n int) []session.QueueGauge {
	qs = slices.Clone(qs)
	slices.SortFunc(qs, func(a, b session.QueueGauge) int {
		return cmp.Or(cmp.Compare(b.Length, a.Length), cmp.Compare(b.OldestWait, a.OldestWait), cmp.Compare(a.MerchantID, b.MerchantID))
	})
	other := session.QueueGauge{MerchantID: otherMerchants}
	if len(qs) > n {
		for _, q := range qs[n:] {
			other.Length += q.Length
			other.OldestWait = max(other.OldestWait, q.OldestWait)
		}
		qs = qs[:n]
	}
	return append(qs, other)
}

// socketCollector reads the registry's tallies at scrape time.
type socketCollector struct {
	s            Sockets
	kinds        []string
	open, frames *prometheus.Desc
}

func (c *socketCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.frames
}

func (c *socketCollector) Collect(ch chan<- prometheus.Metric) {
	ts := c.s.Tallies()
	for _, k := range c.kinds {
		if !slices.ContainsFunc(ts, func(t socket.Tally) bool { return t.Kind == k }) {
			ts = append(ts, socket.Tally{Kind: k})
		}
	}
	for _, t := range ts {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(t.Open), t.Kind)
		ch <- prometheus.MustNewConstMetric(c.frames, prometheus.CounterValue, float64(t.In), t.Kind, "in")
		ch <- prometheus.MustNewConstMetric(c.frames, prometheus.CounterValue, float64(t.Out), t.Kind, "out")
	}
}
