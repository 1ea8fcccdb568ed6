package agentconsole_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type badRequest struct {
	name string
	body any // string bodies are sent as is
	want int
	code string // "" accepts any code
}

// refuseAll sends each body with method to path and checks the status and
// the error body. The cases run in parallel; the call returns when all are
// done.
func refuseAll(t *testing.T, e *env, token, method, path string, cases []badRequest) {
	t.Helper()
	t.Run(method+" "+path, func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				e := e.withT(t)
				code, raw := e.doRaw(method, path, token, tc.body, nil)
				require.Equal(t, tc.want, code, "%s %s %s: %s", method, path, tc.name, raw)
				got := requireAPIError(t, raw)
				if tc.code != "" {
					require.Equal(t, tc.code, got, "%s", raw)
				}
			})
		}
	})
}

func hours(zone string, weekly map[string]any, exceptions ...map[string]any) map[string]any {
	if exceptions == nil {
		exceptions = []map[string]any{}
	}
	return map[string]any{"timezone": zone, "weekly": weekly, "exceptions": exceptions}
}

func monday(open, close string) map[string]any {
	return map[string]any{"mon": []map[string]string{{"open": open, "close": close}}}
}

// TestAdminOfficeHoursValidation: bad office hours are 400 with an error
// code and change nothing; good ones are kept and read back.
func TestAdminOfficeHoursValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Hours Validation Shop")
	valid := map[string]any{
		"timezone": "Europe/Amsterdam",
		"weekly": map[string]any{
			"mon": []map[string]string{{"open": "09:00", "close": "17:30"}},
			"sat": []map[string]string{{"open": "13:00", "close": "24:00"}, {"open": "10:00", "close": "12:00"}},
		},
		"exceptions": []map[string]any{
			{"date": "2026-12-25", "closed": true},
			{"date": "2026-12-24", "hours": []map[string]string{{"open": "09:00", "close": "13:00"}}},
		},
	}
	code, body := e.do("PUT", "/v1/admin/office-hours", s.adminToken, valid)
	require.Equal(t, 200, code, "%v", body)
	want := map[string]any{
		"timezone": "Europe/Amsterdam",
		"weekly": map[string]any{
			"mon": []any{map[string]any{"open": "09:00", "close": "17:30"}},
			"sat": []any{map[string]any{"open": "10:00", "close": "12:00"}, map[string]any{"open": "13:00", "close": "24:00"}},
		},
	}
	checkHours := func(got map[string]any) {
		t.Helper()
		require.Equal(t, want["timezone"], got["timezone"])
		// Days left out of "weekly" are closed: they must not come back
		// as open (a past bug merged the stored week into AlwaysOpen()).
		require.Equal(t, want["weekly"], got["weekly"])
		ex := got["exceptions"].([]any)
		require.Len(t, ex, 2, "%v", got)
		dates := map[string]map[string]any{}
		for _, x := range ex {
			m := x.(map[string]any)
			dates[m["date"].(string)] = m
		}
		require.Equal(t, true, dates["2026-12-25"]["closed"])
		require.Equal(t, []any{map[string]any{"open": "09:00", "close": "13:00"}}, dates["2026-12-24"]["hours"])
	}
	// The PUT answers with what it kept.
	checkHours(body)

	const c = "invalid_office_hours"
	refuseAll(t, e, s.adminToken, "PUT", "/v1/admin/office-hours", []badRequest{
		{name: "unknown zone", body: hours("Mars/Olympus_Mons", monday("09:00", "17:00")), want: 400, code: c},
		{name: "zone in other case", body: hours("europe/amsterdam", monday("09:00", "17:00")), want: 400, code: c},
		{name: "zone with a path", body: hours("../../../etc/passwd", monday("09:00", "17:00")), want: 400, code: c},
		{name: "zone Local", body: hours("Local", monday("09:00", "17:00")), want: 400, code: c},
		{name: "no zone", body: hours("", monday("09:00", "17:00")), want: 400, code: c},
		{name: "zone not a string", body: `{"timezone":1,"weekly":{}}`, want: 400},
		{name: "close before open", body: hours("UTC", monday("17:00", "09:00")), want: 400, code: c},
		{name: "close equals open", body: hours("UTC", monday("09:00", "09:00")), want: 400, code: c},
		{name: "open 24:00", body: hours("UTC", monday("24:00", "24:00")), want: 400, code: c},
		{name: "hour 25", body: hours("UTC", monday("09:00", "25:00")), want: 400, code: c},
		{name: "minute 60", body: hours("UTC", monday("09:60", "17:00")), want: 400, code: c},
		{name: "one-digit hour", body: hours("UTC", monday("9:00", "17:00")), want: 400, code: c},
		{name: "seconds", body: hours("UTC", monday("09:00:00", "17:00:00")), want: 400, code: c},
		{name: "no colon", body: hours("UTC", monday("0900", "1700")), want: 400, code: c},
		{name: "letters", body: hours("UTC", monday("ab:cd", "17:00")), want: 400, code: c},
		{name: "12-hour clock", body: hours("UTC", monday("9am", "5pm")), want: 400, code: c},
		{name: "empty times", body: hours("UTC", monday("", "")), want: 400, code: c},
		{name: "plus sign hour", body: hours("UTC", monday("+9:00", "17:00")), want: 400, code: c},
		{name: "minus zero hour", body: hours("UTC", monday("-0:30", "17:00")), want: 400, code: c},
		{name: "plus sign minute", body: hours("UTC", monday("09:+5", "17:00")), want: 400, code: c},
		{name: "overlapping intervals", body: hours("UTC", map[string]any{"mon": []map[string]string{
			{"open": "09:00", "close": "13:00"}, {"open": "12:00", "close": "17:00"}}}), want: 400, code: c},
		{name: "unknown weekday", body: hours("UTC", map[string]any{"monday": []map[string]string{{"open": "09:00", "close": "17:00"}}}), want: 400, code: c},
		{name: "weekday upper case", body: hours("UTC", map[string]any{"MON": []map[string]string{{"open": "09:00", "close": "17:00"}}}), want: 400, code: c},
		{name: "weekly an array", body: `{"timezone":"UTC","weekly":[]}`, want: 400},
		{name: "interval not an object", body: `{"timezone":"UTC","weekly":{"mon":["09:00-17:00"]}}`, want: 400},
		{name: "exception date impossible", body: hours("UTC", monday("09:00", "17:00"), map[string]any{"date": "2026-02-30", "closed": true}), want: 400, code: c},
		{name: "exception date short", body: hours("UTC", monday("09:00", "17:00"), map[string]any{"date": "26-12-25", "closed": true}), want: 400, code: c},
		{name: "exception date with time", body: hours("UTC", monday("09:00", "17:00"), map[string]any{"date": "2026-12-25T00:00:00Z", "closed": true}), want: 400, code: c},
		{name: "exception closed with hours", body: hours("UTC", monday("09:00", "17:00"), map[string]any{"date": "2026-12-25", "closed": true,
			"hours": []map[string]string{{"open": "09:00", "close": "13:00"}}}), want: 400, code: c},
		{name: "exception neither closed nor hours", body: hours("UTC", monday("09:00", "17:00"), map[string]any{"date": "2026-12-25"}), want: 400, code: c},
		{name: "exception hours close before open", body: hours("UTC", monday("09:00", "17:00"), map[string]any{"date": "2026-12-25",
			"hours": []map[string]string{{"open": "13:00", "close": "09:00"}}}), want: 400, code: c},
		{name: "exception twice", body: hours("UTC", monday("09:00", "17:00"), map[string]any{"date": "2026-12-25", "closed": true},
			map[string]any{"date": "2026-12-25", "closed": true}), want: 400, code: c},
		{name: "not JSON", body: "timezone=UTC", want: 400},
		{name: "JSON array", body: `[]`, want: 400},
		{name: "JSON null", body: `null`, want: 400},
		{name: "empty object", body: `{}`, want: 400},
		{name: "empty body", body: ``, want: 400},
		{name: "two JSON values", body: `{"timezone":"UTC","weekly":{}} {"timezone":"UTC"}`, want: 400},
	})
	// Refused PUTs changed nothing, and a GET reads back what was kept.
	code, got := e.do("GET", "/v1/admin/office-hours", s.adminToken, nil)
	require.Equal(t, 200, code)
	checkHours(got)
}

// TestAdminSettingsValidation: refused settings are 400 (bad input) or 422
// (a helpdesk that is not connected) and change nothing.
func TestAdminSettingsValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Settings Validation Shop")
	good := map[string]any{
		"handoff":       map[string]any{"method": "inbox"},
		"auto_response": "We will be with you soon.", "away_message": "We are away.",
		"allowed_origins": []string{"https://shop.example"}, "locale": "en",
	}
	code, body := e.do("PUT", "/v1/admin/settings", s.adminToken, good)
	require.Equal(t, 200, code, "%v", body)
	_, before := e.do("GET", "/v1/admin/settings", s.adminToken, nil)

	origins := func(o ...string) map[string]any { return map[string]any{"allowed_origins": o} }
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("https://shop%d.example", i)
	}
	refuseAll(t, e, s.adminToken, "PUT", "/v1/admin/settings", []badRequest{
		{name: "zendesk not connected", body: map[string]any{"handoff": map[string]any{"method": "zendesk"}}, want: 422},
		{name: "gorgias not connected", body: map[string]any{"handoff": map[string]any{"method": "gorgias"}}, want: 422},
		{name: "message without a message", body: map[string]any{"handoff": map[string]any{"method": "message"}}, want: 400},
		{name: "message with an empty message", body: map[string]any{"handoff": map[string]any{"method": "message", "message": ""}}, want: 400},
		{name: "message with a blank message", body: map[string]any{"handoff": map[string]any{"method": "message", "message": "  \n "}}, want: 400},
		{name: "unknown method", body: map[string]any{"handoff": map[string]any{"method": "carrier-pigeon"}}, want: 400},
		{name: "method in other case", body: map[string]any{"handoff": map[string]any{"method": "INBOX"}}, want: 400},
		{name: "empty method", body: map[string]any{"handoff": map[string]any{"method": ""}}, want: 400},
		{name: "method a number", body: `{"handoff":{"method":1}}`, want: 400},
		{name: "origin not a URL", body: origins("not a url"), want: 400},
		{name: "origin with a path", body: origins("https://shop.example/shop"), want: 400},
		{name: "origin with a query", body: origins("https://shop.example?x=1"), want: 400},
		{name: "origin with credentials", body: origins("https://user:pw@shop.example"), want: 400},
		{name: "origin wildcard", body: origins("*"), want: 400},
		{name: "origin ftp", body: origins("ftp://shop.example"), want: 400},
		{name: "origin javascript", body: origins("javascript:alert(1)"), want: 400},
		{name: "origin without host", body: origins("https://"), want: 400},
		{name: "origin bare host", body: origins("shop.example"), want: 400},
		{name: "origin null", body: origins("null"), want: 400},
		{name: "51 origins", body: origins(many...), want: 400},
		{name: "origins not a list", body: `{"allowed_origins":"https://shop.example"}`, want: 400},
		{name: "unknown locale", body: map[string]any{"locale": "xx"}, want: 400},
		{name: "auto_response over 4000", body: map[string]any{"auto_response": repeat("a", 4001)}, want: 400},
		{name: "away_message over 4000", body: map[string]any{"away_message": repeat("a", 4001)}, want: 400},
		{name: "handoff message over 4000", body: map[string]any{"handoff": map[string]any{"method": "message", "message": repeat("m", 4001)}}, want: 400},
		{name: "not JSON", body: "handoff=inbox", want: 400},
		{name: "JSON array", body: `[]`, want: 400},
		{name: "truncated JSON", body: `{"handoff":{"method":"inbox"`, want: 400},
		{name: "empty body", body: ``, want: 400},
	})
	_, after := e.do("GET", "/v1/admin/settings", s.adminToken, nil)
	require.Equal(t, before, after, "refused settings changed something")

	// The custom message method with its message is fine and reads back.
	code, body = e.do("PUT", "/v1/admin/settings", s.adminToken, map[string]any{
		"handoff": map[string]any{"method": "message", "message": "Mail us: https://shop.example/contact"}})
	require.Equal(t, 200, code, "%v", body)
	code, body = e.do("GET", "/v1/admin/settings", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "message", body["handoff"].(map[string]any)["method"])
	require.Equal(t, "Mail us: https://shop.example/contact", body["handoff"].(map[string]any)["message"])
	require.Equal(t, "We are away.", body["away_message"], "a partial PUT keeps the other fields")
	require.Equal(t, []any{"https://shop.example"}, body["allowed_origins"])
}

// TestAdminKnowledgeValidation: knowledge over the limits or malformed is
// 400 and changes nothing.
func TestAdminKnowledgeValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Knowledge Validation Shop")
	code, body := e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(t, 200, code, "%v", body)
	_, before := e.do("GET", "/v1/admin/knowledge", s.adminToken, nil)
	require.Len(t, before["entries"], 2)

	entry := func(q, a string) map[string]any {
		return map[string]any{"entries": []map[string]string{{"question": q, "answer": a}}}
	}
	tooMany := make([]map[string]string, 2001)
	for i := range tooMany {
		tooMany[i] = map[string]string{"question": fmt.Sprintf("Question %d?", i), "answer": "Answer."}
	}
	refuseAll(t, e, s.adminToken, "PUT", "/v1/admin/knowledge", []badRequest{
		{name: "2001 entries", body: map[string]any{"entries": tooMany}, want: 400},
		{name: "question over 1000", body: entry(repeat("q", 1001), "a"), want: 400},
		{name: "answer over 4000", body: entry("q?", repeat("a", 4001)), want: 400},
		{name: "answer over 4000 emoji", body: entry("q?", repeat("😀", 4001)), want: 400},
		{name: "empty question", body: entry("", "a"), want: 400},
		{name: "blank answer", body: entry("q?", "   "), want: 400},
		{name: "duplicate ids", body: map[string]any{"entries": []map[string]string{
			{"id": "k1", "question": "a?", "answer": "a"}, {"id": "k1", "question": "b?", "answer": "b"}}}, want: 400},
		{name: "id with braces", body: map[string]any{"entries": []map[string]string{{"id": "{m:x}", "question": "a?", "answer": "a"}}}, want: 400},
		{name: "no entries field", body: `{}`, want: 400},
		{name: "entries null", body: `{"entries":null}`, want: 400},
		{name: "entries an object", body: `{"entries":{"question":"q","answer":"a"}}`, want: 400},
		{name: "entry a string", body: `{"entries":["q? a."]}`, want: 400},
		{name: "not JSON", body: "entries", want: 400},
	})
	_, after := e.do("GET", "/v1/admin/knowledge", s.adminToken, nil)
	require.Equal(t, before["entries"], after["entries"], "refused knowledge changed something")
}

// TestAdminMetricsValidation: bad dates are 400.
func TestAdminMetricsValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Metrics Validation Shop")
	cases := []struct {
		name, query string
	}{
		{"from not a date", "from=yesterday&to=2026-01-01"},
		{"to not a date", "from=2026-01-01&to=soon"},
		{"month 13", "from=2026-13-01&to=2026-13-02"},
		{"February 30", "from=2026-02-30&to=2026-03-01"},
		{"with a time", "from=2026-01-01T00:00:00Z&to=2026-01-02"},
		{"other format", "from=01/01/2026&to=02/01/2026"},
		{"to before from", "from=2026-03-02&to=2026-03-01"},
		{"over a year", "from=2024-01-01&to=2026-01-01"},
		{"huge range", "from=0001-01-01&to=9999-12-31"},
	}
	for _, tc := range cases {
		code, raw := e.doRaw("GET", "/v1/admin/metrics?"+tc.query, s.adminToken, nil, nil)
		require.Equal(t, 400, code, "%s: %s", tc.name, raw)
		requireAPIError(t, raw)
	}
	code, raw := e.doRaw("GET", "/v1/admin/metrics?from=2026-01-01&to=2026-01-01", s.adminToken, nil, nil)
	require.Equal(t, 200, code, "%s", raw)
}

// TestOversizedBodies: a 5 MiB body is refused with 413 on every route that
// reads one.
func TestOversizedBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Big Body Shop")
	agent := e.addAgent(s, "big@body.example", "Big")
	v := e.visitor(s)
	convID := v.id
	v.handoff("v@example.com")
	code, _ := e.do("POST", "/v1/agent/conversations/"+convID+"/claim", agent, nil)
	require.Equal(t, 200, code)
	entries := len(e.transcript(s.adminToken, convID))

	const size = 5 << 20
	field := `{"pad":"` + strings.Repeat("x", size) + `"}`
	cases := []struct{ method, path, token, body string }{
		{"POST", "/v1/auth/login", "", field},
		{"POST", "/v1/auth/login", "", strings.Repeat(" ", size) + `{}`},
		{"PUT", "/v1/admin/settings", s.adminToken, field},
		{"PUT", "/v1/admin/office-hours", s.adminToken, field},
		{"PUT", "/v1/admin/knowledge", s.adminToken, `{"entries":[{"question":"q?","answer":"` + strings.Repeat("a", size) + `"}]}`},
		{"POST", "/v1/admin/agents", s.adminToken, field},
		{"PUT", "/v1/agent/presence", agent, strings.Repeat(" ", size) + `{"status":"away"}`},
		{"POST", "/v1/agent/conversations/" + convID + "/messages", agent, `{"client_id":"c","text":"` + strings.Repeat("x", size) + `"}`},
	}
	for _, tc := range cases {
		code, raw := e.doRaw(tc.method, tc.path, tc.token, tc.body, nil)
		require.Equal(t, 413, code, "%s %s: %.200s", tc.method, tc.path, raw)
		requireAPIError(t, raw)
	}
	require.Len(t, e.transcript(s.adminToken, convID), entries, "an oversized message was stored")
}

func knowledge() map[string]any {
	return map[string]any{"entries": []map[string]string{
		{"question": "How long does shipping take?", "answer": "Shipping takes 2 working days."},
		{"question": "How do I return an item?", "answer": "Returns are free within 30 days."},
	}}
}
