package helpdesk_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/helpdesk"
	"github.com/batonchat/baton/gateway/helpdesk/helpdesktest"
	"github.com/batonchat/baton/session"
)

func ams(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	require.NoError(t, err)
	return loc
}

// request is a handoff as the outbox would send it.
func request(t *testing.T, provider session.HandoffMethod, acc session.HelpdeskAccount, conv string) session.TicketRequest {
	at := time.Date(2026, 3, 5, 13, 3, 7, 0, time.UTC)
	return session.TicketRequest{
		Provider: provider, Account: acc, ConversationID: conv, ExternalID: "baton-" + conv,
		IdempotencyKey: "baton-h_" + conv + "-0",
		Visitor:        session.TicketVisitor{Email: "vera@example.com", ProfileID: "cust-42", Page: "https://shop.example/p?a=1&b=<2>"},
		Reason:         "visitor_asked", Summary: "The visitor asked: «Where is my order?».", HandedOffAt: at, Location: ams(t), Words: session.TicketWordsFor("en"),
		Transcript: []session.Message{
			{Seq: 1, Role: session.RoleVisitor, Text: "Hi <script>alert(1)</script> & more\nsecond line", TS: session.Time{Time: at.Add(-2 * time.Minute)}},
			{Seq: 2, Role: session.RoleAssistant, Text: "I'm not sure.", TS: session.Time{Time: at.Add(-time.Minute)}},
			{Seq: 3, Role: session.RoleAgent, Author: "Anna", Text: "Anna here", TS: session.Time{Time: at.Add(-30 * time.Second)}},
			{Seq: 4, Role: session.RoleSystem, Text: "Someone will reply by email.", TS: session.Time{Time: at}},
		},
	}
}

// testBases lets clients reach the fakes, which listen on 127.0.0.1.
var testBases = []string{"http://127.0.0.1"}

func client(timeout time.Duration) *helpdesk.Client {
	return must(helpdesk.New(helpdesk.Options{Timeout: timeout, AllowedBaseURLs: testBases}))
}

func must(c *helpdesk.Client, err error) *helpdesk.Client {
	if err != nil {
		panic(err)
	}
	return c
}

// verify checks an account and keeps only the verdict.
func verify(ctx context.Context, c *helpdesk.Client, method session.HandoffMethod, acc session.HelpdeskAccount) error {
	_, err := c.Verify(ctx, method, acc)
	return err
}

func TestVerifyZendesk(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	c := client(2 * time.Second)
	ctx := context.Background()
	require.NoError(t, verify(ctx, c, session.MethodZendesk, z.Account()))
	z.Role = "agent"
	require.NoError(t, verify(ctx, c, session.MethodZendesk, z.Account()))

	z.Role = "end-user"
	err := verify(ctx, c, session.MethodZendesk, z.Account())
	e := session.ErrorOf(err)
	require.Equal(t, session.KindRefused, e.Kind)
	require.Equal(t, "integration_unverified", e.Code)
	require.Contains(t, e.Message, "end-user")

	z.Role = "admin"
	bad := z.Account()
	bad.Secret = "wrong"
	e = session.ErrorOf(verify(ctx, c, session.MethodZendesk, bad))
	require.Equal(t, session.KindRefused, e.Kind)
	require.Contains(t, e.Message, "Couldn't authenticate you")

	gone := z.Account()
	gone.BaseURL = "http://127.0.0.1:1"
	e = session.ErrorOf(verify(ctx, c, session.MethodZendesk, gone))
	require.Equal(t, session.KindRefused, e.Kind)
	require.Equal(t, "helpdesk_unreachable", e.Code)
}

// TestVerifyZendeskAnonymous: Zendesk answers a caller it does not know
// with an anonymous user and 200; that must not pass.
func TestVerifyZendeskAnonymous(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	res, err := http.Get(z.URL() + "/api/v2/users/me.json")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	// A proxy that strips credentials is the same thing as no credentials.
	strip := must(helpdesk.New(helpdesk.Options{Timeout: time.Second, AllowedBaseURLs: testBases, Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Del("Authorization")
		return http.DefaultTransport.RoundTrip(r)
	})}))
	e := session.ErrorOf(verify(context.Background(), strip, session.MethodZendesk, z.Account()))
	require.Equal(t, "integration_unverified", e.Code)
	require.Contains(t, e.Message, "anonymous")
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestVerifyGorgias(t *testing.T) {
	g := helpdesktest.NewGorgias(t, "owner@shop.example", "gg-key-123")
	c := client(2 * time.Second)
	require.NoError(t, verify(context.Background(), c, session.MethodGorgias, g.Account()))
	bad := g.Account()
	bad.Email = "other@shop.example"
	e := session.ErrorOf(verify(context.Background(), c, session.MethodGorgias, bad))
	require.Equal(t, session.KindRefused, e.Kind)
	require.Contains(t, e.Message, "Authentication required")
}

func TestZendeskTicketShape(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	c := client(2 * time.Second)
	r := request(t, session.MethodZendesk, z.Account(), "c_one")
	res, err := c.SendTicket(context.Background(), r)
	require.NoError(t, err)
	require.Empty(t, z.Problems())
	tks := z.TicketsFor("baton-c_one")
	require.Len(t, tks, 1)
	require.Equal(t, res.ID, itoa(tks[0].ID))
	require.Equal(t, z.URL()+"/agent/tickets/"+res.ID, res.URL)
	require.Equal(t, z.URL()+"/api/v2/tickets/"+res.ID+".json", res.APIURL)
	require.False(t, res.Existing)

	tk := tks[0]
	require.Equal(t, "Web chat from vera@example.com", tk.Subject)
	require.Equal(t, "vera@example.com", tk.Email)
	h := tk.HTML
	// Escaped, never markup.
	require.NotContains(t, h, "<script>")
	require.Contains(t, h, "Hi &lt;script&gt;alert(1)&lt;/script&gt; &amp; more<br>\nsecond line")
	require.Contains(t, h, "https://shop.example/p?a=1&amp;b=&lt;2&gt;")
	// The header.
	require.Contains(t, h, "<strong>Email:</strong> vera@example.com")
	require.Contains(t, h, "<strong>Profile ID:</strong> cust-42")
	require.Contains(t, h, "the visitor asked for a person [visitor_asked]", "the reason in words and as its code")
	require.Contains(t, h, "Times are in Europe/Amsterdam and UTC.")
	// Every line: both times, who, what.
	require.Contains(t, h, `<time datetime="2026-03-05T13:01:07.000Z">2026-03-05 14:01:07 CET · 2026-03-05 13:01:07 UTC</time> <strong>Visitor</strong>`)
	require.Contains(t, h, "<strong>Assistant</strong>:<br>\nI&#39;m not sure.")
	require.Contains(t, h, "<strong>Person (Anna)</strong>")
	require.Contains(t, h, "<strong>System</strong>")

	ticket := tk.Body["ticket"].(map[string]any)
	require.Equal(t, "baton-c_one", ticket["external_id"])
	require.Equal(t, []any{"baton", "webchat", "baton_visitor_asked"}, ticket["tags"])
	require.Equal(t, map[string]any{"name": "vera", "email": "vera@example.com"}, ticket["requester"])
	reqs := z.Requests()
	require.Equal(t, "baton-h_c_one-0", reqs[len(reqs)-1].IdempotencyKey)
}

func TestZendeskIdempotentReplay(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	c := client(2 * time.Second)
	r := request(t, session.MethodZendesk, z.Account(), "c_two")
	first, err := c.SendTicket(context.Background(), r)
	require.NoError(t, err)
	r.MayExist, r.KeySince = true, time.Now()
	again, err := c.SendTicket(context.Background(), r)
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID)
	require.True(t, again.Existing)
	require.Len(t, z.TicketsFor("baton-c_two"), 1)
	for _, q := range z.Requests() {
		require.NotEqual(t, http.MethodGet, q.Method, "within the key's life no look-up is needed")
	}

	// A changed body under the same key is Zendesk's 400: the ticket may
	// well exist, and retrying the same request cannot help.
	r.Visitor.Email = "other@example.com"
	_, err = c.SendTicket(context.Background(), r)
	te := ticketError(t, err)
	require.True(t, te.Permanent)
	require.True(t, te.MayExist)
	require.Contains(t, te.Reason, "IdempotentRequestError")
}

// TestZendeskLooksUpPastTheKey: with no usable key (an admin's retry, or a
// key older than Zendesk keeps), the ticket is looked up by external_id.
func TestZendeskLooksUpPastTheKey(t *testing.T) {
	z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
	c := client(2 * time.Second)
	r := request(t, session.MethodZendesk, z.Account(), "c_three")
	first, err := c.SendTicket(context.Background(), r)
	require.NoError(t, err)
	r.IdempotencyKey = "baton-h_c_three-1"
	r.MayExist, r.KeySince = true, time.Time{}
	again, err := c.SendTicket(context.Background(), r)
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID)
	require.True(t, again.Existing)
	require.Len(t, z.TicketsFor("baton-c_three"), 1)
	require.Equal(t, 1, z.Posts("baton-c_three"))

	// And with nothing there, it posts.
	r2 := request(t, session.MethodZendesk, z.Account(), "c_four")
	r2.MayExist = true
	_, err = c.SendTicket(context.Background(), r2)
	require.NoError(t, err)
	require.Len(t, z.TicketsFor("baton-c_four"), 1)
}

func TestGorgiasTicketShapeAndLookup(t *testing.T) {
	g := helpdesktest.NewGorgias(t, "owner@shop.example", "gg-key-123")
	c := client(2 * time.Second)
	r := request(t, session.MethodGorgias, g.Account(), "c_five")
	r.Words = session.TicketWordsFor("nl")
	res, err := c.SendTicket(context.Background(), r)
	require.NoError(t, err)
	require.Empty(t, g.Problems())
	tks := g.TicketsFor("baton-c_five")
	require.Len(t, tks, 1)
	require.Equal(t, g.URL()+"/app/ticket/"+res.ID, res.URL)
	tk := tks[0]
	require.Equal(t, "Webchat van vera@example.com", tk.Subject)
	require.Contains(t, tk.HTML, "<strong>Bezoeker</strong>")
	require.Contains(t, tk.Text, "[2026-03-05 14:01:07 CET | 2026-03-05 13:01:07 UTC] Bezoeker: Hi <script>alert(1)</script> & more")
	msg := tk.Body["messages"].([]any)[0].(map[string]any)
	require.Equal(t, "2026-03-05T13:03:07.000Z", msg["created_datetime"])
	require.Equal(t, msg["created_datetime"], msg["sent_datetime"])
	require.Equal(t, map[string]any{"email": "vera@example.com"}, msg["sender"])

	// Gorgias has no idempotency key: a ticket that may exist is looked up.
	r.MayExist = true
	again, err := c.SendTicket(context.Background(), r)
	require.NoError(t, err)
	require.Equal(t, res.ID, again.ID)
	require.True(t, again.Existing)
	require.Len(t, g.TicketsFor("baton-c_five"), 1)
	require.Equal(t, 1, g.Posts("baton-c_five"))
}

func ticketError(t *testing.T, err error) *session.TicketError {
	t.Helper()
	require.Error(t, err)
	te, ok := err.(*session.TicketError)
	require.True(t, ok, "%T: %v", err, err)
	return te
}

// TestTicketFaults: how each kind of failure is reported to the outbox.
func TestTicketFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     helpdesktest.Fault
		permanent bool
		mayExist  bool
		made      int
		wait      time.Duration
	}{
		{"500", helpdesktest.Fault{Status: 500}, false, true, 0, 0},
		{"502 after the ticket was made", helpdesktest.Fault{Status: 502, AfterMake: true}, false, true, 1, 0},
		{"429 with seconds", helpdesktest.Fault{Status: 429, RetryAfterSeconds: 7}, false, false, 0, 7 * time.Second},
		{"503 with a date", helpdesktest.Fault{Status: 503, RetryAfterDate: 3 * time.Second}, false, true, 0, 2 * time.Second},
		{"422", helpdesktest.Fault{Status: 422, Body: `{"error":"RecordInvalid","description":"Record validation errors","details":{"requester":[{"description":"Requester email is invalid"}]}}`}, true, false, 0, 0},
		{"401", helpdesktest.Fault{Status: 401}, true, false, 0, 0},
		{"408", helpdesktest.Fault{Status: 408}, false, false, 0, 0},
		{"409", helpdesktest.Fault{Status: 409}, false, true, 0, 0},
		{"dropped before", helpdesktest.Fault{Drop: true}, false, true, 0, 0},
		{"dropped after", helpdesktest.Fault{Drop: true, AfterMake: true}, false, true, 1, 0},
		{"hang after", helpdesktest.Fault{Hang: time.Second, AfterMake: true}, false, true, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := helpdesktest.NewZendesk(t, "owner@shop.example", "zd-token-123")
			z.SetPlan(func(string, int) helpdesktest.Fault { return tc.fault })
			c := client(200 * time.Millisecond)
			_, err := c.SendTicket(context.Background(), request(t, session.MethodZendesk, z.Account(), "c_f"))
			te := ticketError(t, err)
			require.Equal(t, tc.permanent, te.Permanent, te.Reason)
			require.Equal(t, tc.mayExist, te.MayExist, te.Reason)
			require.Len(t, z.TicketsFor("baton-c_f"), tc.made)
			if tc.wait > 0 {
				require.GreaterOrEqual(t, te.RetryAfter, tc.wait)
				require.LessOrEqual(t, te.RetryAfter, tc.wait+2*time.Second)
			} else {
				require.Zero(t, te.RetryAfter)
			}
			if tc.name == "422" {
				require.Contains(t, te.Reason, "Requester email is invalid")
			}
			if strings.HasPrefix(tc.name, "hang") {
				require.Contains(t, te.Reason, "no answer within 200ms")
			}
		})
	}
}

// TestUnreachableHelpdesk: nothing listening means nothing was sent.
func TestUnreachableHelpdesk(t *testing.T) {
	acc := session.HelpdeskAccount{Site: "x", Email: "a@b.example", Secret: "s", BaseURL: "http://127.0.0.1:1"}
	_, err := client(time.Second).SendTicket(context.Background(), request(t, session.MethodGorgias, acc, "c_u"))
	te := ticketError(t, err)
	require.False(t, te.Permanent)
	require.False(t, te.MayExist)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
