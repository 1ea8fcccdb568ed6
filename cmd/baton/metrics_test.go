package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMetricsCounts: conversations the visitor engaged in count once;
// those that end without a handoff count as resolved_by_assistant, those
// handed to the team as routed_to_team; resolution_rate is their share.
// Dates are the merchant's, inclusive at both ends.
func TestMetricsCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Metrics Shop")
	agent := e.addAgent(s, "m@metrics.example", "Mia")
	// UTC+14: the merchant's date is never Pago Pago's (UTC-11), and is
	// often not UTC's.
	code, body := e.do("PUT", "/v1/admin/office-hours", s.adminToken, hours("Pacific/Kiritimati", alwaysOpenWeek()))
	require.Equal(t, 200, code, "%v", body)
	kiri, err := time.LoadLocation("Pacific/Kiritimati")
	require.NoError(t, err)
	pago, err := time.LoadLocation("Pacific/Pago_Pago")
	require.NoError(t, err)

	start := func() (*client, string) {
		v := e.visitor(s.m.WidgetKey)
		return v, hello(v)["conversation_id"].(string)
	}
	closeByVisitor := func(v *client) {
		v.send(map[string]any{"type": "close"})
		require.Equal(t, "visitor_closed", v.expect("closed")["reason"])
	}

	// 1. Answered, then the visitor closes: resolved.
	v, _ := start()
	say(v, "r1", "hello")
	v.expectMessage("assistant")
	closeByVisitor(v)
	// A second close changes nothing.
	v.send(map[string]any{"type": "close"})
	v.expectError("conversation_closed")

	// 2. Handed off by message, claimed and closed by the agent: routed.
	v, id2 := start()
	say(v, "h1", "hello")
	handoff(v, "routed@example.com")
	code, _ = e.do("POST", "/v1/agent/conversations/"+id2+"/claim", agent, nil)
	require.Equal(t, 200, code)
	code, _ = e.do("POST", "/v1/agent/conversations/"+id2+"/close", agent, nil)
	require.Equal(t, 200, code)

	// 3. Offered, declined, closed: resolved (no handoff happened).
	v, _ = start()
	v.send(map[string]any{"type": "handoff_request"})
	v.expect("handoff_offer")
	v.send(map[string]any{"type": "handoff_reply", "accept": false})
	require.Equal(t, "assistant", v.expect("status")["status"])
	closeByVisitor(v)

	// 4. Hello and close, nothing said: not a conversation that counts.
	v, _ = start()
	closeByVisitor(v)

	// 5. Still talking to the assistant: counted, neither outcome yet.
	v, _ = start()
	say(v, "o1", "hello")

	// 6. The button, straight to the queue, then the visitor leaves: routed.
	v, _ = start()
	handoff(v, "button@example.com")
	closeByVisitor(v)

	today := time.Now().In(kiri).Format(time.DateOnly)
	metrics := func(query string) map[string]any {
		t.Helper()
		code, body := e.do("GET", "/v1/admin/metrics"+query, s.adminToken, nil)
		require.Equal(t, 200, code, "%s: %v", query, body)
		return body
	}
	want := map[string]float64{"conversations": 5, "resolved_by_assistant": 2, "routed_to_team": 2, "resolution_rate": 0.4}
	got := func(m map[string]any) map[string]float64 {
		out := map[string]float64{}
		for k := range want {
			out[k], _ = m[k].(float64)
		}
		return out
	}
	// Closing updates the counts just after the closed frame: poll.
	var last map[string]any
	require.Eventually(t, func() bool {
		last = metrics("?from=" + today + "&to=" + today)
		return got(last)["resolved_by_assistant"] == 2 && got(last)["routed_to_team"] == 2
	}, 5*time.Second, 20*time.Millisecond, "metrics never settled")
	require.Equal(t, want, got(last), "today in the merchant's zone: %v", last)
	require.Equal(t, "Pacific/Kiritimati", last["timezone"])

	kiriNow := time.Now().In(kiri)
	day := func(offset int) string { return kiriNow.AddDate(0, 0, offset).Format(time.DateOnly) }
	pagoToday := time.Now().In(pago).Format(time.DateOnly)
	require.NotEqual(t, today, pagoToday)
	zero := map[string]float64{"conversations": 0, "resolved_by_assistant": 0, "routed_to_team": 0, "resolution_rate": 0}
	cases := []struct {
		name, query string
		want        map[string]float64
	}{
		{"default range ends today", "", want},
		{"to today, default from", "?to=" + today, want},
		{"from yesterday to today", "?from=" + day(-1) + "&to=" + today, want},
		{"from today to tomorrow", "?from=" + today + "&to=" + day(1), want},
		{"from Pago Pago's today to today: inclusive", "?from=" + pagoToday + "&to=" + today, want},
		{"Pago Pago's today only", "?from=" + pagoToday + "&to=" + pagoToday, zero},
		{"yesterday only", "?from=" + day(-1) + "&to=" + day(-1), zero},
		{"tomorrow only", "?from=" + day(1) + "&to=" + day(1), zero},
		{"a year ago", "?from=" + day(-366) + "&to=" + day(-300), zero},
	}
	for _, tc := range cases {
		m := metrics(tc.query)
		require.Equal(t, tc.want, got(m), "%s (%s): %v", tc.name, tc.query, m)
	}

	// The per-day breakdown puts them on the merchant's date.
	m := metrics("?from=" + day(-1) + "&to=" + day(1))
	days, _ := m["days"].([]any)
	require.Len(t, days, 3, "%v", m)
	for _, d := range days {
		dm := d.(map[string]any)
		n := num(dm["conversations"])
		if dm["date"] == today {
			require.EqualValues(t, 5, n, "%v", dm)
		} else {
			require.EqualValues(t, 0, n, "%v", dm)
		}
	}
}
