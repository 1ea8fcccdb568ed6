package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	awayText = "We are out fishing right now."
	autoText = "Everyone is on the phone; we will get back to you."
)

// closedShop makes a merchant with the given office hours and its own
// away message and auto-response.
func closedShop(t *testing.T, e *env, name string, hoursBody map[string]any) shop {
	t.Helper()
	s := e.shop(name)
	code, body := e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{"away_message": awayText, "auto_response": autoText})
	require.Equal(t, 200, code, "%v", body)
	if hoursBody != nil {
		code, body = e.do("PUT", "/v1/admin/office-hours", s.adminToken, hoursBody)
		require.Equal(t, 200, code, "%v", body)
	}
	return s
}

var weekdayKeys = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} // as time.Weekday

func clock(h int) string {
	if h == 24 {
		return "24:00"
	}
	return fmt.Sprintf("%02d:00", h)
}

// requireAwayMessage checks the system message of a closed shop: the
// merchant's away message and the next opening, in the merchant's zone.
func requireAwayMessage(t *testing.T, sys map[string]any, next time.Time) {
	t.Helper()
	text, _ := sys["text"].(string)
	require.Contains(t, text, awayText, "the away message is not in %q", text)
	require.NotContains(t, text, autoText)
	require.NotContains(t, text, "Someone will join")
	require.Contains(t, text, next.Format("15:04"), "the next opening's local time is not in %q", text)
	require.Contains(t, text, next.Weekday().String(), "the next opening's day is not in %q", text)
	require.Contains(t, text, fmt.Sprint(next.Day()), "the next opening's date is not in %q", text)
}

func requireOffice(t *testing.T, w map[string]any, open bool, next time.Time) {
	t.Helper()
	office, ok := w["office"].(map[string]any)
	require.True(t, ok, "welcome without office: %v", w)
	require.Equal(t, open, office["open"], "welcome office %v", office)
	if !open {
		require.Equal(t, next.UTC().Format("2006-01-02T15:04:05.000Z"), office["next_open"], "welcome office %v", office)
	}
}

// TestOfficeHoursClosedNow: outside office hours a handoff is queued and
// the visitor gets the merchant's away message with the next opening time
// in the merchant's zone; the welcome says the office is closed and when it
// opens.
func TestOfficeHoursClosedNow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)

	// Every day open for one hour starting 3 hours from now (Tokyo time):
	// closed now whatever the day, open later today or tomorrow.
	now := time.Now().In(tokyo)
	start := (now.Hour() + 3) % 24
	week := map[string]any{}
	for _, d := range weekdayKeys {
		week[d] = []map[string]string{{"open": clock(start), "close": clock(start + 1)}}
	}
	next := time.Date(now.Year(), now.Month(), now.Day(), start, 0, 0, 0, tokyo)
	if !next.After(now) {
		next = time.Date(now.Year(), now.Month(), now.Day()+1, start, 0, 0, 0, tokyo)
	}

	y, m, d := now.Date()
	tomorrow := time.Date(y, m, d+1, 0, 0, 0, 0, tokyo)
	cases := []struct {
		name  string
		hours map[string]any
		next  time.Time
	}{
		{"every day, later", hours("Asia/Tokyo", week), next},
		{"open all week but closed today by an exception", hours("Asia/Tokyo", alwaysOpenWeek(),
			map[string]any{"date": now.Format("2006-01-02"), "closed": true}), tomorrow},
		{"closed today, other hours tomorrow by exceptions", hours("Asia/Tokyo", alwaysOpenWeek(),
			map[string]any{"date": now.Format("2006-01-02"), "closed": true},
			map[string]any{"date": tomorrow.Format("2006-01-02"), "hours": []map[string]string{{"open": "13:00", "close": "14:00"}}}),
			tomorrow.Add(13 * time.Hour)},
		{"open only on the weekday after tomorrow", hours("Asia/Tokyo", map[string]any{
			weekdayKeys[now.AddDate(0, 0, 2).Weekday()]: []map[string]string{{"open": "10:00", "close": "11:00"}}}),
			time.Date(y, m, d+2, 10, 0, 0, 0, tokyo)},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			s := closedShop(t, e, fmt.Sprintf("Closed %d", i), tc.hours)
			agent := e.addAgent(s, fmt.Sprintf("ann%d@closed.example", i), "Ann")
			console := e.console(agent) // an available agent changes nothing when closed
			console.Expect("queue")

			_, oh := e.do("GET", "/v1/admin/office-hours", s.adminToken, nil)
			require.Equal(t, false, oh["now"].(map[string]any)["open"], "the office is open now: %v", oh)

			v := e.visitor(s.m.WidgetKey)
			w := hello(v)
			requireOffice(t, w, false, tc.next)
			convID := w["conversation_id"].(string)
			sys := handoff(v, "late@example.com")
			requireAwayMessage(t, sys, tc.next.In(tokyo))

			// It waits in the queue for a person all the same.
			_, body := e.do("GET", "/v1/agent/conversations/"+convID, agent, nil)
			require.Equal(t, "queued", body["conversation"].(map[string]any)["status"])
			console.Next("queue with the conversation", func(f map[string]any) bool {
				return f["type"] == "queue" && strings.Contains(mustJSON(t, f), convID)
			})
		})
	}
}

// TestOfficeHoursOpen: inside office hours, a handoff with nobody available
// (no console open, the agent away, or the console closed again) sends the
// merchant's auto-response; with an agent available, neither text: the
// visitor is told someone will join.
func TestOfficeHoursOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name  string
		setup func(t *testing.T, e *env, s shop)
		auto  bool
	}{
		{"nobody signed in", func(t *testing.T, e *env, s shop) {
			e.addAgent(s, "idle@open.example", "Idle") // exists, no console
		}, true},
		{"console open, agent away", func(t *testing.T, e *env, s shop) {
			tok := e.addAgent(s, "away@open.example", "Away")
			c := e.console(tok)
			code, body := e.do("PUT", "/v1/agent/presence", tok, map[string]string{"status": "away"})
			require.Equal(t, 200, code, "%v", body)
			c.Expect("queue")
		}, true},
		{"available but console closed", func(t *testing.T, e *env, s shop) {
			tok := e.addAgent(s, "gone@open.example", "Gone")
			c := e.console(tok)
			require.NoError(t, c.Conn.Close())
			require.Eventually(t, func() bool {
				_, body := e.do("GET", "/v1/admin/agents", s.adminToken, nil)
				for _, a := range body["agents"].([]any) {
					if a.(map[string]any)["name"] == "Gone" {
						return a.(map[string]any)["online"] == false
					}
				}
				return false
			}, 5*time.Second, 20*time.Millisecond, "the closed console still counts as online")
		}, true},
		{"agent available", func(t *testing.T, e *env, s shop) {
			tok := e.addAgent(s, "here@open.example", "Here")
			e.console(tok).Expect("queue")
		}, false},
		{"one away, one available", func(t *testing.T, e *env, s shop) {
			away := e.addAgent(s, "a1@open.example", "Away One")
			e.console(away)
			code, _ := e.do("PUT", "/v1/agent/presence", away, map[string]string{"status": "away"})
			require.Equal(t, 200, code)
			e.console(e.addAgent(s, "a2@open.example", "Here Two")).Expect("queue")
		}, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e.withT(t)
			s := closedShop(t, e, fmt.Sprintf("Open %d", i), nil)
			tc.setup(t, e, s)
			v := e.visitor(s.m.WidgetKey)
			w := hello(v)
			requireOffice(t, w, true, time.Time{})
			sys := handoff(v, "open@example.com")
			text := sys["text"].(string)
			require.NotContains(t, text, awayText)
			if tc.auto {
				require.Contains(t, text, autoText, "no auto-response with nobody available")
			} else {
				require.NotContains(t, text, autoText, "auto-response although an agent is available")
				require.Contains(t, text, "Someone will join")
			}
		})
	}
}

func hours(zone string, weekly map[string]any, exceptions ...map[string]any) map[string]any {
	if exceptions == nil {
		exceptions = []map[string]any{}
	}
	return map[string]any{"timezone": zone, "weekly": weekly, "exceptions": exceptions}
}

func alwaysOpenWeek() map[string]any {
	w := map[string]any{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		w[d] = []map[string]string{{"open": "00:00", "close": "24:00"}}
	}
	return w
}
