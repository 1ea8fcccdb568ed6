package helpdesk

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

func TestRetryAfter(t *testing.T) {
	at := time.Date(2026, 3, 5, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-3", 0},
		{"5", 5 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"999999999", maxRetryAfter},
		{at.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{at.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"Thu, 05 Mar 2026 13:00:30 GMT", 30 * time.Second},
		{"soon", 0},
	} {
		require.Equal(t, tc.want, retryAfter(tc.v, at), "Retry-After %q", tc.v)
	}
}

// TestRenderKeepsUnderTheLimit: a long transcript loses its earliest lines,
// says so, and keeps the latest.
func TestRenderKeepsUnderTheLimit(t *testing.T) {
	r := session.TicketRequest{ConversationID: "c_long", Words: session.TicketWordsFor("en"),
		Visitor: session.TicketVisitor{Email: "l@example.com"}}
	at := time.Date(2026, 3, 5, 13, 0, 0, 0, time.UTC)
	for i := range 200 {
		r.Transcript = append(r.Transcript, session.Message{Seq: int64(i + 1), Role: session.RoleVisitor,
			Text: strings.Repeat("x", 999) + "|" + string(rune('a'+i%26)), TS: session.Time{Time: at.Add(time.Duration(i) * time.Second)}})
	}
	c := render(r)
	require.LessOrEqual(t, len(c.HTML), maxHTML)
	require.Contains(t, c.HTML, "earlier lines are not shown here")
	require.Contains(t, c.HTML, at.Add(199*time.Second).Format("15:04:05"))
	require.NotContains(t, c.HTML, `datetime="2026-03-05T13:00:00.000Z"`)
	require.Contains(t, c.Text, "earlier lines are not shown here")
}
