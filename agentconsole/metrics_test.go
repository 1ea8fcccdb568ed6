package agentconsole_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// TestMetricsCounts: conversations the visitor engaged in count once;
// those that end without a handoff count as resolved_by_assistant, those
// handed to the team as routed_to_team; resolution_rate is their share.
// Dates are the merchant's, inclusive at both ends. (What the visitor's
// socket shows along the way is checked in gateway's TestVisitorCloses.)
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

	closeByVisitor := func(v *visitor) {
		require.NoError(t, v.close())
		if v.turn.Fresh() {
			return // nothing was stored: only the socket shows the end
		}
		conv, _, err := e.svc.Conversation(e.ctx, s.m.ID, v.id)
		require.NoError(t, err)
		require.Equal(t, session.StatusClosed, conv.Status)
		require.Equal(t, "visitor_closed", conv.ClosedReason)
	}

	// 1. Answered, then the visitor closes: resolved.
	v := e.visitor(s)
	v.say("r1", "hello")
	msgs := e.transcript(s.adminToken, v.id)
	require.Equal(t, "assistant", msgs[len(msgs)-1]["role"], "%v", msgs)
	closeByVisitor(v)
	// A second close changes nothing.
	require.Equal(t, "conversation_closed", session.ErrorOf(v.close()).Code)

	// 2. Handed off by message, claimed and closed by the agent: routed.
	v = e.visitor(s)
	id2 := v.id
	v.say("h1", "hello")
	v.handoff("routed@example.com")
	code, _ = e.do("POST", "/v1/agent/conversations/"+id2+"/claim", agent, nil)
	require.Equal(t, 200, code)
	code, _ = e.do("POST", "/v1/agent/conversations/"+id2+"/close", agent, nil)
	require.Equal(t, 200, code)

	// 3. Offered, declined, closed: resolved (no handoff happened).
	v = e.visitor(s)
	require.NoError(t, v.step(func(tn session.Turn) error { return e.svc.RequestHandoff(e.ctx, tn) }))
	require.Equal(t, session.StatusHandoffOffered, v.status())
	require.NoError(t, v.step(func(tn session.Turn) error { return e.svc.ReplyToOffer(e.ctx, tn, false) }))
	require.Equal(t, session.StatusAssistant, v.status())
	closeByVisitor(v)

	// 4. Hello and close, nothing said: not a conversation that counts.
	v = e.visitor(s)
	closeByVisitor(v)

	// 5. Still talking to the assistant: counted, neither outcome yet.
	v = e.visitor(s)
	v.say("o1", "hello")

	// 6. The button, straight to the queue, then the visitor leaves: routed.
	v = e.visitor(s)
	v.handoff("button@example.com")
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
