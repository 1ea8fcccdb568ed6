package prom

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/batonchat/baton/session"
)

// Options configure Metrics.
type Options struct {
	// MaxMerchants is how many merchants get their own queue series (those
	// with the longest queues); the others are summed under
	// merchant="other". Zero: all are.
	MaxMerchants int
	// CacheFor is how long a read of Redis state serves scrapes; 5s when
	// zero.
	CacheFor time.Duration
	// ReadTimeout bounds that read; 3s when zero.
	ReadTimeout time.Duration
}

func (o *Options) defaults() {
	o.MaxMerchants = max(0, o.MaxMerchants)
	if o.CacheFor <= 0 {
		o.CacheFor = 5 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 3 * time.Second
	}
}

// Metrics holds a process's metrics. It is a session.Observer.
type Metrics struct {
	reg  *prometheus.Registry
	opts Options

	messages  [5]prometheus.Counter // visitor, assistant, agent, system, other
	handoffs  *prometheus.CounterVec
	assigned  [2]prometheus.Observer // auto, manual
	scriptDur *prometheus.HistogramVec
	scriptErr *prometheus.CounterVec
	batch     prometheus.Histogram
	batchWait prometheus.Histogram
	writeWait *prometheus.HistogramVec
	attempts  *prometheus.CounterVec
	webhooks  *prometheus.CounterVec
	dead      *prometheus.CounterVec
	modelN    *prometheus.CounterVec
	modelDur  *prometheus.HistogramVec
	readErrs  prometheus.Counter
	rtDur     *prometheus.HistogramVec
	rtErr     *prometheus.CounterVec

	mu      sync.RWMutex
	scripts map[string]scriptMetrics // bound on a script's first call
}

type scriptMetrics struct {
	dur prometheus.Observer
	err prometheus.Counter
}

var _ session.Observer = (*Metrics)(nil)

// New returns Metrics with the Go runtime's and the process's collectors;
// WatchState and WatchSockets add the gauges read at scrape time.
func New(opts Options) *Metrics {
	opts.defaults()
	// Buckets, in base units: scripts take a fraction of a millisecond to a
	// few (fine enough below one to tell a linger from a round trip), queue
	// waits seconds to an hour, model answers a few seconds.
	scriptBuckets := []float64{.00005, .0001, .0002, .0003, .0005, .00075, .001, .0015, .002, .0025, .003, .005,
		.0075, .01, .025, .05, .1, .25, .5, 1}
	waitBuckets := []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600}
	modelBuckets := []float64{.25, .5, 1, 2, 5, 10, 20, 30, 60}
	batchBuckets := []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}
	m := &Metrics{reg: prometheus.NewRegistry(), opts: opts, scripts: map[string]scriptMetrics{}}
	f := factory{m.reg}
	msgs := f.counterVec("baton_messages_total", "Transcript entries stored, by author role.", "role")
	for i, r := range []string{"visitor", "assistant", "agent", "system", "other"} {
		m.messages[i] = msgs.WithLabelValues(r)
	}
	m.handoffs = f.counterVec("baton_handoffs_total",
		"Handoffs by the merchant's method, how they ended (offered, message, declined, queued, ticketed) and why.",
		"method", "outcome", "reason")
	wait := f.histogramVec("baton_assignment_wait_seconds",
		"How long a conversation waited in the queue before an agent was given it, by how (auto or manual).",
		waitBuckets, "how")
	m.assigned = [2]prometheus.Observer{wait.WithLabelValues("auto"), wait.WithLabelValues("manual")}
	m.scriptDur = f.histogramVec("baton_redis_script_duration_seconds",
		"Redis script calls and their latency (including any wait for a shared round trip), by script.",
		scriptBuckets, "script")
	m.scriptErr = f.counterVec("baton_redis_script_errors_total",
		"Redis script calls that failed (timeouts included, callers that went away not), by script.", "script")
	m.rtDur = f.histogramVec("baton_redis_roundtrip_duration_seconds",
		"Redis round trips (kind: a single command, or a pipeline as one) and their latency; scripts included.",
		scriptBuckets, "kind")
	m.rtErr = f.counterVec("baton_redis_errors_total",
		"Redis round trips that failed (a missing key is an answer, a caller that went away is not counted).", "kind")
	for _, k := range []string{"command", "pipeline"} {
		m.rtDur.WithLabelValues(k)
		m.rtErr.WithLabelValues(k)
	}
	m.batch = f.histogram("baton_redis_batch_size",
		"Scripts per round trip of the per-message batcher; the count is its round trips.", batchBuckets)
	m.batchWait = f.histogram("baton_redis_batch_wait_seconds",
		"How long each per-message script waited in the batcher before the round trip carrying it was sent (its linger included).",
		scriptBuckets)
	m.writeWait = f.histogramVec("baton_socket_write_wait_seconds",
		"How long the oldest frame of each socket write waited to be written, the write's system call included, by kind of socket.",
		scriptBuckets, "kind")
	m.attempts = f.counterVec("baton_outbox_attempts_total",
		"Helpdesk ticket attempts by provider and outcome (done, retry, held, dead).", "provider", "outcome")
	m.webhooks = f.counterVec("baton_webhook_deliveries_total",
		"Webhook delivery attempts by outcome (done, retry, dead).", "outcome")
	m.dead = f.counterVec("baton_dead_letters_total",
		"Outbox entries given up (helpdesk tickets, webhook deliveries) since the process started.", "outbox")
	m.modelN = f.counterVec("baton_model_calls_total",
		"Language model calls by call (answer, embed) and outcome (ok, canceled, timeout, rate_limited, unavailable, rejected).",
		"call", "outcome")
	m.modelDur = f.histogramVec("baton_model_call_duration_seconds",
		"Language model call latency by call (answer, embed).", modelBuckets, "call")
	m.readErrs = f.counter("baton_state_read_errors_total",
		"Scrape-time reads of Redis state (queues, outbox) that failed; those gauges are missing from that scrape.")
	// The closed label sets are present at zero from the start, so that
	// rates and alerts have a series before the first event.
	for _, o := range []string{session.OutboxHelpdesk, session.OutboxWebhook} {
		m.dead.WithLabelValues(o)
	}
	outcomes := []string{session.AttemptDone, session.AttemptRetry, session.AttemptHeld, session.AttemptDead}
	for _, p := range []session.HandoffMethod{session.MethodZendesk, session.MethodGorgias} {
		for _, o := range outcomes {
			m.attempts.WithLabelValues(string(p), o)
		}
	}
	for _, o := range []string{session.AttemptDone, session.AttemptRetry, session.AttemptDead} {
		m.webhooks.WithLabelValues(o)
	}
	for _, call := range []string{"answer", "embed"} {
		m.modelDur.WithLabelValues(call)
		for _, o := range []string{"ok", "canceled", string(session.ModelTimeout), string(session.ModelRateLimited),
			string(session.ModelUnavailable), string(session.ModelRejected)} {
			m.modelN.WithLabelValues(call, o)
		}
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus's exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// One failing collector does not blank the rest.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// Gatherer is the registry, for tests and tools.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Message implements session.Observer.
func (m *Metrics) Message(role session.Role) {
	i := 4
	switch role {
	case session.RoleVisitor:
		i = 0
	case session.RoleAssistant:
		i = 1
	case session.RoleAgent:
		i = 2
	case session.RoleSystem:
		i = 3
	}
	m.messages[i].Inc()
}

// Handoff implements session.Observer. Every label comes from a closed set
// (methods, outcomes and reasons are the core's constants).
func (m *Metrics) Handoff(method session.HandoffMethod, outcome, reason string) {
	m.handoffs.WithLabelValues(string(method), outcome, reason).Inc()
}

// Assigned implements session.Observer.
func (m *Metrics) Assigned(byHand bool, wait time.Duration) {
	i := 0
	if byHand {
		i = 1
	}
	m.assigned[i].Observe(wait.Seconds())
}

// ScriptCall implements session.Observer.
func (m *Metrics) ScriptCall(script string, d time.Duration, err error) {
	m.mu.RLock()
	sm, ok := m.scripts[script]
	m.mu.RUnlock()
	if !ok {
		sm = m.bindScript(script)
	}
	sm.dur.Observe(d.Seconds())
	if err != nil && !errors.Is(err, context.Canceled) {
		sm.err.Inc()
	}
}

func (m *Metrics) bindScript(script string) scriptMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	sm, ok := m.scripts[script]
	if !ok {
		sm = scriptMetrics{dur: m.scriptDur.WithLabelValues(script), err: m.scriptErr.WithLabelValues(script)}
		m.scripts[script] = sm
	}
	return sm
}

// Batch implements session.Observer.
func (m *Metrics) Batch(size int) { m.batch.Observe(float64(size)) }

func (m *Metrics) BatchWait(d time.Duration) { m.batchWait.Observe(d.Seconds()) }

// SocketWriteWait is where the sockets of kind report each write's wait
// (socket.Options.WriteWait).
func (m *Metrics) SocketWriteWait(kind string) func(time.Duration) {
	o := m.writeWait.WithLabelValues(kind)
	return func(d time.Duration) { o.Observe(d.Seconds()) }
}

// OutboxAttempt implements session.Observer.
func (m *Metrics) OutboxAttempt(provider session.HandoffMethod, outcome string) {
	m.attempts.WithLabelValues(string(provider), outcome).Inc()
}

// WebhookDelivery implements session.Observer.
func (m *Metrics) WebhookDelivery(outcome string) { m.webhooks.WithLabelValues(outcome).Inc() }

// DeadLetter implements session.Observer.
func (m *Metrics) DeadLetter(outbox string) { m.dead.WithLabelValues(outbox).Inc() }

// ModelCall implements session.Observer.
func (m *Metrics) ModelCall(call string, d time.Duration, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		outcome = "canceled" // the visitor or the team moved on
	default:
		outcome = string(session.ModelErrorKindOf(err))
	}
	m.modelN.WithLabelValues(call, outcome).Inc()
	m.modelDur.WithLabelValues(call).Observe(d.Seconds())
}

// factory registers what it makes.
type factory struct{ reg prometheus.Registerer }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}
