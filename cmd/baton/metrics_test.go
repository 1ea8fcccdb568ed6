package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/helpdesk/helpdesktest"
	"github.com/batonchat/baton/gateway/model/modeltest"
	"github.com/batonchat/baton/gateway/prom"
	"github.com/batonchat/baton/session/sessiontest"
)

// TestMetricsAfterConversation runs a scripted conversation (a visitor who
// is answered, asks for a person, is queued, claimed, talked to and closed,
// and one who declines the offer) and checks what /metrics then says.
// With BATON_METRICS_SCRAPE set, the last scrape is written there, for
// .ci/promcheck to run promtool on.
func TestMetricsAfterConversation(t *testing.T) {
	m := prom.New(prom.Options{MaxMerchants: 50, CacheFor: time.Nanosecond})
	rdb, prefix := sessiontest.Redis(t)
	rdb.AddHook(m.RedisHook()) // as serve does
	e := newEnvOn(t, rdb, prefix, func(c *appConfig) { c.Metrics = m })
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	url := srv.URL + "/metrics"

	s := e.shop("Metrics Shop")
	code, _ := e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(t, 200, code)
	agentToken := e.addAgent(s, "mia@metrics.example", "Mia")
	console := e.console(agentToken)
	console.Expect("queue")

	v := e.visitor(s.m.WidgetKey)
	convID := hello(v)["conversation_id"].(string)
	say(v, "c1", "how long does shipping take?")
	v.ExpectMessage("assistant")
	handoff(v, "visitor@example.com")
	sent := 5 // hello, message, handoff_request, handoff_reply, email

	d := e.visitor(s.m.WidgetKey)
	declinerID := hello(d)["conversation_id"].(string)
	d.Send(map[string]any{"type": "handoff_request"})
	d.Expect("handoff_offer")
	d.Send(map[string]any{"type": "handoff_reply", "accept": false})
	d.ExpectMessage("assistant")
	sent += 3

	// Queued: the merchant's queue holds one conversation.
	fams := scrape(t, url)
	require.Equal(t, 1.0, value(t, fams, "baton_queue_length", "merchant", s.m.ID))
	require.GreaterOrEqual(t, value(t, fams, "baton_queue_oldest_wait_seconds", "merchant", s.m.ID), 0.0)
	require.Equal(t, 0.0, value(t, fams, "baton_queue_length", "merchant", "other"))
	require.Equal(t, 2.0, value(t, fams, "baton_sockets_open", "kind", "visitor"))
	require.Equal(t, 1.0, value(t, fams, "baton_sockets_open", "kind", "console"))

	code, body := e.do("POST", "/v1/agent/conversations/"+convID+"/claim", agentToken, nil)
	require.Equal(t, 200, code, "%v", body)
	v.Expect("agent_joined")
	console.Send(map[string]any{"type": "message", "conversation_id": convID, "client_id": "a1", "text": "Hi, Mia here."})
	v.ExpectMessage("agent")
	v.Send(map[string]any{"type": "message", "client_id": "c2", "text": "Thanks Mia"})
	echoOf(v, "c2")
	sent++
	code, _ = e.do("POST", "/v1/agent/conversations/"+convID+"/close", agentToken, nil)
	require.Equal(t, 200, code)
	v.Expect("closed")

	// Every stored entry is counted once, by role: the two transcripts.
	want := map[string]float64{}
	for _, id := range []string{convID, declinerID} {
		for _, msg := range e.transcript(agentToken, id) {
			want[msg["role"].(string)]++
		}
	}
	require.Positive(t, want["system"])
	var expected strings.Builder
	expected.WriteString("# HELP baton_messages_total Transcript entries stored, by author role.\n# TYPE baton_messages_total counter\n")
	for _, role := range []string{"agent", "assistant", "other", "system", "visitor"} {
		expected.WriteString(`baton_messages_total{role="` + role + `"} ` + model.SampleValue(want[role]).String() + "\n")
	}
	require.NoError(t, testutil.ScrapeAndCompare(url, strings.NewReader(expected.String()), "baton_messages_total"))

	require.NoError(t, testutil.ScrapeAndCompare(url, strings.NewReader(`
# HELP baton_handoffs_total Handoffs by the merchant's method, how they ended (offered, message, declined, queued, ticketed) and why.
# TYPE baton_handoffs_total counter
baton_handoffs_total{method="inbox",outcome="declined",reason="visitor_asked"} 1
baton_handoffs_total{method="inbox",outcome="offered",reason="visitor_asked"} 2
baton_handoffs_total{method="inbox",outcome="queued",reason="visitor_asked"} 1
`), "baton_handoffs_total"))

	fams = scrape(t, url)
	require.Equal(t, 0.0, value(t, fams, "baton_queue_length", "merchant", s.m.ID), "claimed: the queue is empty")
	require.Equal(t, 0.0, value(t, fams, "baton_queue_oldest_wait_seconds", "merchant", s.m.ID))
	require.EqualValues(t, 1, histogramCount(t, fams, "baton_assignment_wait_seconds", "how", "manual"))
	require.EqualValues(t, 0, histogramCount(t, fams, "baton_assignment_wait_seconds", "how", "auto"))
	// apply.lua carries the handoff's steps, append.lua every message to
	// or from a person (through the batcher); none failed.
	require.Positive(t, histogramCount(t, fams, "baton_redis_script_duration_seconds", "script", "apply.lua"))
	require.Positive(t, histogramCount(t, fams, "baton_redis_script_duration_seconds", "script", "append.lua"))
	require.Positive(t, histogramCount(t, fams, "baton_redis_batch_size"))
	// One wait per script, so at least one per round trip.
	require.GreaterOrEqual(t, histogramCount(t, fams, "baton_redis_batch_wait_seconds"), histogramCount(t, fams, "baton_redis_batch_size"))
	for _, mt := range fams["baton_redis_script_errors_total"].GetMetric() {
		require.Zero(t, mt.GetCounter().GetValue(), "%v", mt.GetLabel())
	}
	require.Positive(t, histogramCount(t, fams, "baton_redis_roundtrip_duration_seconds", "kind", "command"))
	require.Positive(t, histogramCount(t, fams, "baton_redis_roundtrip_duration_seconds", "kind", "pipeline"))
	require.Equal(t, 0.0, value(t, fams, "baton_redis_errors_total", "kind", "command"))
	require.Equal(t, 0.0, value(t, fams, "baton_redis_errors_total", "kind", "pipeline"))
	// Frames: in is exactly what the visitors sent; out at least what
	// they have read.
	require.Equal(t, float64(sent), value(t, fams, "baton_socket_frames_total", "kind", "visitor", "direction", "in"))
	read := len(v.Snapshot())
	require.GreaterOrEqual(t, value(t, fams, "baton_socket_frames_total", "kind", "visitor", "direction", "out"), float64(read))
	require.Positive(t, value(t, fams, "baton_socket_frames_total", "kind", "console", "direction", "in"))
	// A write wait per write that carried frames: some, never more than
	// the frames written.
	for _, kind := range []string{"visitor", "console"} {
		n := histogramCount(t, fams, "baton_socket_write_wait_seconds", "kind", kind)
		require.Positive(t, n, kind)
		require.LessOrEqual(t, float64(n), value(t, fams, "baton_socket_frames_total", "kind", kind, "direction", "out"), kind)
	}
	for _, o := range []string{"helpdesk", "webhook"} {
		require.Equal(t, 0.0, value(t, fams, "baton_outbox_depth", "outbox", o))
		require.Equal(t, 0.0, value(t, fams, "baton_dead_letters_held", "outbox", o))
		require.Equal(t, 0.0, value(t, fams, "baton_dead_letters_total", "outbox", o))
	}
	require.Contains(t, fams, "go_goroutines")
	require.Contains(t, fams, "process_resident_memory_bytes")

	// Sockets that close are no longer counted.
	require.NoError(t, v.Conn.Close())
	require.NoError(t, d.Conn.Close())
	require.Eventually(t, func() bool {
		return value(t, scrape(t, url), "baton_sockets_open", "kind", "visitor") == 0
	}, 5*time.Second, 20*time.Millisecond)

	if path := os.Getenv("BATON_METRICS_SCRAPE"); path != "" {
		res, err := http.Get(url)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, raw, 0o644))
	}
}

// TestMetricsHelpdeskDeadLetter: a ticket the helpdesk refuses for good is
// counted as a handoff, a dead attempt and a dead letter, held until the
// admin retries it; the retry is a done attempt.
func TestMetricsHelpdeskDeadLetter(t *testing.T) {
	m := prom.New(prom.Options{MaxMerchants: 50, CacheFor: time.Nanosecond})
	e := newEnv(t, fastHelpdesk, func(c *appConfig) { c.Metrics = m })
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	url := srv.URL + "/metrics"
	g := helpdesktest.NewGorgias(t, "owner@gg.example", "gg-secret-key-4567")
	s := e.shop("Dead Letter Shop")
	code, body := e.connect(s, "gorgias", map[string]any{"domain": "ggshop", "email": "owner@gg.example", "api_key": "gg-secret-key-4567", "base_url": g.URL()})
	require.Equal(t, 200, code, "%v", body)
	code, _ = e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"handoff": map[string]any{"method": "gorgias"}})
	require.Equal(t, 200, code)
	code, _ = e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(t, 200, code)
	var refuse atomic.Bool
	refuse.Store(true)
	g.SetPlan(func(string, int) helpdesktest.Fault {
		if refuse.Load() {
			return helpdesktest.Fault{Status: 400, Body: `{"error":{"msg":"Customer is blocked"}}`}
		}
		return helpdesktest.Fault{}
	})
	convID := e.ticketed(s.m.WidgetKey, "gina@example.com", "I want to talk to a human please")

	require.Eventually(t, func() bool {
		return value(t, scrape(t, url), "baton_dead_letters_held", "outbox", "helpdesk") == 1
	}, 10*time.Second, 20*time.Millisecond)
	fams := scrape(t, url)
	require.Equal(t, 1.0, value(t, fams, "baton_dead_letters_total", "outbox", "helpdesk"))
	require.Equal(t, 1.0, value(t, fams, "baton_outbox_attempts_total", "provider", "gorgias", "outcome", "dead"))
	require.Equal(t, 0.0, value(t, fams, "baton_outbox_attempts_total", "provider", "gorgias", "outcome", "done"))
	require.Equal(t, 1.0, value(t, fams, "baton_handoffs_total", "method", "gorgias", "outcome", "offered", "reason", "visitor_asked"))
	require.Equal(t, 1.0, value(t, fams, "baton_handoffs_total", "method", "gorgias", "outcome", "ticketed", "reason", "visitor_asked"))
	require.Equal(t, 0.0, value(t, fams, "baton_outbox_depth", "outbox", "helpdesk"), "a dead letter is settled")

	refuse.Store(false)
	code, body = e.do("POST", "/v1/admin/handoffs/"+convID+"/retry", s.adminToken, nil)
	require.Equal(t, 200, code, "%v", body)
	require.Eventually(t, func() bool {
		fams := scrape(t, url)
		return value(t, fams, "baton_outbox_attempts_total", "provider", "gorgias", "outcome", "done") == 1 &&
			value(t, fams, "baton_dead_letters_held", "outbox", "helpdesk") == 0
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, 1.0, value(t, scrape(t, url), "baton_dead_letters_total", "outbox", "helpdesk"), "a counter: the retry takes nothing back")
}

// TestMetricsModelCalls: the model's answers are counted by outcome, a
// rate-limited one as such (the built-in assistant then answers).
func TestMetricsModelCalls(t *testing.T) {
	m := prom.New(prom.Options{CacheFor: time.Nanosecond})
	fake := modeltest.New(t, modeltest.Options{APIKey: "sk-test-0123456789abcdef"})
	e := newEnv(t, func(c *appConfig) {
		c.Metrics = m
		c.Model = modelConfig{BaseURL: fake.URL(), Name: fake.Model(), APIKey: "sk-test-0123456789abcdef", Timeout: 10 * time.Second}
	})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	url := srv.URL + "/metrics"
	s := e.shop("Model Metrics Shop")
	code, body := e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(t, 200, code, "%v", body)
	code, body = e.do("PUT", "/v1/admin/assistant", s.adminToken, map[string]any{"mode": "model"})
	require.Equal(t, 200, code, "%v", body)

	fake.Enqueue(modeltest.Reply{Content: []string{"Orders ship the same day."}})
	fake.Enqueue(modeltest.Reply{Status: 429, RetryAfter: "1"})
	v := e.visitor(s.m.WidgetKey)
	hello(v)
	say(v, "q1", "How long does shipping take?")
	v.ExpectMessage("assistant")
	say(v, "q2", "How long does shipping take to Belgium?")
	v.ExpectMessage("assistant")

	require.Eventually(t, func() bool {
		fams := scrape(t, url)
		return value(t, fams, "baton_model_calls_total", "call", "answer", "outcome", "ok") == 1 &&
			value(t, fams, "baton_model_calls_total", "call", "answer", "outcome", "rate_limited") == 1
	}, 5*time.Second, 20*time.Millisecond)
	require.EqualValues(t, 2, histogramCount(t, scrape(t, url), "baton_model_call_duration_seconds", "call", "answer"))
}

// TestMetricsWebhookDeliveries: attempts against an endpoint that fails are
// retries until the schedule runs out and the delivery is a dead letter;
// one that answers 2xx is done.
func TestMetricsWebhookDeliveries(t *testing.T) {
	m := prom.New(prom.Options{CacheFor: time.Nanosecond})
	e := newEnv(t, fastWebhooks, func(c *appConfig) { c.Metrics = m })
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	url := srv.URL + "/metrics"
	s := e.shop("Hook Metrics Shop")
	sink := newHookSink(t)
	sink.mu.Lock()
	sink.status = 500
	sink.mu.Unlock()
	code, body := e.do("PUT", "/v1/admin/webhooks", s.adminToken, map[string]any{"endpoints": []any{
		map[string]any{"url": sink.srv.URL + "/baton", "events": []string{"conversation.started"}}}})
	require.Equal(t, 200, code, "%v", body)

	first := e.visitor(s.m.WidgetKey)
	hello(first)
	say(first, "c1", "hello")
	// While it is retried, the delivery is in the outbox's depth.
	require.Eventually(t, func() bool {
		fams := scrape(t, url)
		return value(t, fams, "baton_webhook_deliveries_total", "outcome", "retry") >= 1 &&
			value(t, fams, "baton_outbox_depth", "outbox", "webhook") == 1
	}, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		return value(t, scrape(t, url), "baton_dead_letters_total", "outbox", "webhook") == 1
	}, 10*time.Second, 20*time.Millisecond)
	fams := scrape(t, url)
	require.Equal(t, 2.0, value(t, fams, "baton_webhook_deliveries_total", "outcome", "retry"), "one retry per step of the schedule")
	require.Equal(t, 1.0, value(t, fams, "baton_webhook_deliveries_total", "outcome", "dead"))
	require.Equal(t, 0.0, value(t, fams, "baton_webhook_deliveries_total", "outcome", "done"))
	require.Equal(t, 1.0, value(t, fams, "baton_dead_letters_held", "outbox", "webhook"))

	sink.mu.Lock()
	sink.status = 200
	sink.mu.Unlock()
	v := e.visitor(s.m.WidgetKey)
	hello(v)
	say(v, "c1", "hello again")
	require.Eventually(t, func() bool {
		return value(t, scrape(t, url), "baton_webhook_deliveries_total", "outcome", "done") == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		return value(t, scrape(t, url), "baton_outbox_depth", "outbox", "webhook") == 0
	}, 5*time.Second, 20*time.Millisecond, "settled: nothing left in the stream or the retries")
}

// TestMetricsOffByDefault: without BATON_METRICS_ADDR there is no listener.
func TestMetricsOffByDefault(t *testing.T) {
	cfg, err := loadConfig(func(string) string { return "" })
	require.NoError(t, err)
	require.Empty(t, cfg.MetricsAddr)
	require.Equal(t, 50, cfg.MetricsMerchants)
	cfg, err = loadConfig(func(k string) string {
		return map[string]string{"BATON_METRICS_ADDR": "127.0.0.1:9090", "BATON_METRICS_MERCHANTS": "7"}[k]
	})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9090", cfg.MetricsAddr)
	require.Equal(t, 7, cfg.MetricsMerchants)
	_, err = loadConfig(func(k string) string {
		return map[string]string{"BATON_METRICS_MERCHANTS": "lots"}[k]
	})
	require.ErrorContains(t, err, "BATON_METRICS_MERCHANTS")
}

// scrape reads /metrics in the text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	require.NoError(t, err)
	return fams
}

// find is the family's metric with exactly the given label pairs.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "no family %s", name)
	for _, mt := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range mt.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := len(got) == len(labels)/2
		for i := 0; match && i+1 < len(labels); i += 2 {
			match = got[labels[i]] == labels[i+1]
		}
		if match {
			return mt
		}
	}
	require.Failf(t, "no such series", "%s%v", name, labels)
	return nil
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	mt := find(t, fams, name, labels...)
	switch {
	case mt.Gauge != nil:
		return mt.GetGauge().GetValue()
	case mt.Counter != nil:
		return mt.GetCounter().GetValue()
	}
	return mt.GetUntyped().GetValue()
}

func histogramCount(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) uint64 {
	t.Helper()
	return find(t, fams, name, labels...).GetHistogram().GetSampleCount()
}
