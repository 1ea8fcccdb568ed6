package session_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/webhook"
	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/assistant"
	"github.com/batonchat/baton/session/sessiontest"
)

// receiver is a merchant's endpoint: it records every POST and answers as
// steer says (200 by default). Posts are counted per webhook-id.
type receiver struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	posts []post
	steer func(n int, p post) (status int, delay time.Duration)
	got   chan post
}

type post struct {
	header http.Header
	body   []byte
	at     time.Time
}

func (p post) id() string { return p.header.Get("webhook-id") }

func (p post) event(t *testing.T) map[string]any {
	var ev map[string]any
	require.NoError(t, json.Unmarshal(p.body, &ev), "%s", p.body)
	return ev
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, got: make(chan post, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		p := post{header: req.Header.Clone(), body: body, at: time.Now()}
		r.mu.Lock()
		n := len(r.posts)
		r.posts = append(r.posts, p)
		steer := r.steer
		r.mu.Unlock()
		status, delay := 200, time.Duration(0)
		if steer != nil {
			status, delay = steer(n, p)
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("answer " + http.StatusText(status)))
		r.got <- p
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) all() []post {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]post(nil), r.posts...)
}

// byType waits until a post of each type has been answered, and returns
// them by type.
func (r *receiver) waitTypes(types ...string) map[string]post {
	r.t.Helper()
	out := map[string]post{}
	deadline := time.After(10 * time.Second)
	for len(out) < len(types) {
		select {
		case p := <-r.got:
			out[p.event(r.t)["type"].(string)] = p
		case <-deadline:
			r.t.Fatalf("got %d of the types %v: %v", len(out), types, out)
		}
	}
	return out
}

// openGuard lets deliveries go anywhere: the address policy is tested
// where it lives; these tests are about delivering.
type openGuard struct{}

func (openGuard) CheckURL(context.Context, string) error { return nil }
func (openGuard) Transport() http.RoundTripper {
	return &http.Transport{MaxIdleConnsPerHost: 16}
}

func fastHooks() session.WebhookOptions {
	return session.WebhookOptions{Sender: webhook.New(openGuard{}), Workers: 4, Poll: 10 * time.Millisecond,
		Timeout: 300 * time.Millisecond, LeaseMargin: 100 * time.Millisecond,
		Schedule: []time.Duration{30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond}}
}

func hookNode(t *testing.T, rdb redis.UniversalClient, prefix string, o session.WebhookOptions) *session.Service {
	t.Helper()
	svc := session.New(session.Options{Redis: rdb, Prefix: prefix, Assistant: assistant.New(), Webhooks: o, BcryptCost: 4})
	ctx, cancel := context.WithCancel(context.Background())
	svc.Run(ctx)
	t.Cleanup(func() { cancel(); svc.Close() })
	return svc
}

// hookShop makes a merchant with one endpoint at url for events, and
// returns it with the endpoint's secret.
func hookShop(t *testing.T, svc *session.Service, url string, events ...string) (*session.Merchant, session.WebhookEndpoint) {
	t.Helper()
	ctx := context.Background()
	m, err := svc.CreateMerchant(ctx, "Hook Shop", nil, "")
	require.NoError(t, err)
	if len(events) == 0 {
		events = session.WebhookEvents()
	}
	eps, err := svc.SetWebhooks(ctx, m.ID, []session.WebhookEndpointInput{{URL: url, Events: events}})
	require.NoError(t, err)
	require.Len(t, eps, 1)
	require.Regexp(t, `^whsec_`, eps[0].Secret, "the creating answer shows the secret")
	m, err = svc.Merchant(ctx, m.ID)
	require.NoError(t, err)
	return m, eps[0]
}

// verify checks p's signature with the Standard Webhooks reference
// library under secret.
func verify(t *testing.T, secret string, p post) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(p.body, p.header), "signature of %s: %v", p.id(), p.header)
}

// TestWebhookEventsOfAConversation: a conversation from start to rating
// raises each event once, signed, with the conversation as it then was.
func TestWebhookEventsOfAConversation(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	rc := newReceiver(t)
	svc := hookNode(t, rdb, prefix, fastHooks())
	m, ep := hookShop(t, svc, rc.srv.URL+"/hooks")
	ctx := context.Background()

	listed, err := svc.Webhooks(ctx, m.ID)
	require.NoError(t, err)
	require.Len(t, listed, 1)
	require.Equal(t, ep.Secret, listed[0].Secret, "the first listing after it was made shows the secret")
	require.Equal(t, ep.URL, listed[0].URL)
	listed, err = svc.Webhooks(ctx, m.ID)
	require.NoError(t, err)
	require.Empty(t, listed[0].Secret, "and only the first")

	c, _, err := svc.StartConversation(ctx, m, session.VisitorInfo{Email: "ann@example.com", Authenticated: true, Locale: "en"})
	require.NoError(t, err)
	turn := c.Turn()
	require.NoError(t, svc.VisitorMessage(ctx, turn, "c1", "hello"))
	turn.Status = session.StatusAssistant
	require.NoError(t, svc.RequestHandoff(ctx, turn))
	turn.Status = session.StatusHandoffOffered
	require.NoError(t, svc.ReplyToOffer(ctx, turn, true))
	agent, err := svc.CreateAgent(ctx, m.ID, "dana@hook.example", "Dana", "agent-password", false)
	require.NoError(t, err)
	actor := session.Actor{ID: agent.ID, MerchantID: m.ID, Name: agent.Name}
	_, err = svc.Claim(ctx, actor, c.ID)
	require.NoError(t, err)
	_, _, err = svc.AgentMessage(ctx, actor, c.ID, "a1", "Hi, Dana here")
	require.NoError(t, err)
	_, err = svc.CloseByAgent(ctx, actor, c.ID)
	require.NoError(t, err)
	turn.Status = session.StatusClosed
	require.NoError(t, svc.Rate(ctx, turn, 4, "quick"))

	byType := rc.waitTypes(session.HookStarted, session.HookHandoff, session.HookAssigned, session.HookClosed, session.HookCSAT)
	// The conversation is stored by the visitor's message, before the
	// assistant's reply offers a person.
	want := map[string]string{session.HookStarted: "assistant", session.HookHandoff: "queued",
		session.HookAssigned: "assigned", session.HookClosed: "closed"}
	ids := map[string]bool{}
	for typ, p := range byType {
		verify(t, ep.Secret, p)
		require.Equal(t, "application/json", p.header.Get("Content-Type"))
		require.Regexp(t, `^msg_`, p.id())
		require.False(t, ids[p.id()], "each event has its own webhook-id")
		ids[p.id()] = true
		ev := p.event(t)
		require.Equal(t, typ, ev["type"])
		_, err := time.Parse(time.RFC3339Nano, ev["timestamp"].(string))
		require.NoError(t, err)
		data := ev["data"].(map[string]any)
		if typ == session.HookCSAT {
			require.Equal(t, c.ID, data["conversation_id"])
			require.EqualValues(t, 4, data["score"])
			require.Equal(t, "quick", data["comment"])
			continue
		}
		conv := data["conversation"].(map[string]any)
		require.Equal(t, c.ID, conv["id"], typ)
		require.Equal(t, want[typ], conv["status"], typ)
	}
	require.Equal(t, "Dana", byType[session.HookAssigned].event(t)["data"].(map[string]any)["conversation"].(map[string]any)["agent"].(map[string]any)["name"])
	time.Sleep(100 * time.Millisecond)
	require.Len(t, rc.all(), 5, "one delivery per event: %d posts", len(rc.all()))

	ds, err := svc.WebhookDeliveries(ctx, m.ID, "", 0)
	require.NoError(t, err)
	require.Len(t, ds, 5)
	for _, d := range ds {
		require.Equal(t, session.DeliveryDelivered, d.State)
		require.Equal(t, 1, d.Attempts)
		require.Equal(t, 200, d.LastStatus)
	}
}

// TestWebhookRetriesKeepTheID: 500s and a timeout are retried on the
// schedule, every attempt with the same webhook-id and a fresh signature,
// until the endpoint takes it; then never again.
func TestWebhookRetriesKeepTheID(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	rc := newReceiver(t)
	rc.steer = func(n int, p post) (int, time.Duration) {
		switch n {
		case 0, 1:
			return 500, 0
		case 2:
			return 200, time.Second // past the 300 ms timeout: no answer
		}
		return 204, 0
	}
	o := fastHooks()
	svc := hookNode(t, rdb, prefix, o)
	m, ep := hookShop(t, svc, rc.srv.URL, session.HookStarted)
	c, _, err := svc.StartConversation(context.Background(), m, session.VisitorInfo{Locale: "en"})
	require.NoError(t, err)
	require.NoError(t, svc.VisitorMessage(context.Background(), c.Turn(), "c1", "hello"))

	require.Eventually(t, func() bool {
		ds, _ := svc.WebhookDeliveries(context.Background(), m.ID, "", 0)
		return len(ds) == 1 && ds[0].State == session.DeliveryDelivered
	}, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	posts := rc.all()
	require.Len(t, posts, 4, "two 500s, a timeout, a 204")
	for i, p := range posts {
		require.Equal(t, posts[0].id(), p.id(), "attempt %d", i)
		require.Equal(t, string(posts[0].body), string(p.body), "the same event every time")
		verify(t, ep.Secret, p)
	}
	for i := 1; i < len(posts); i++ {
		require.GreaterOrEqual(t, posts[i].at.Sub(posts[i-1].at), 25*time.Millisecond, "retry %d waited for its time", i)
	}
	ds, _ := svc.WebhookDeliveries(context.Background(), m.ID, "", 0)
	require.Equal(t, 4, ds[0].Attempts)
	require.Equal(t, 204, ds[0].LastStatus)
}

// TestWebhookDeadLetterAndRetry: a delivery that fails past the schedule
// is a dead letter, listed for admins; their retry sends it again with the
// same webhook-id.
func TestWebhookDeadLetterAndRetry(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	rc := newReceiver(t)
	var mu sync.Mutex
	down := true
	rc.steer = func(int, post) (int, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return 503, 0
		}
		return 200, 0
	}
	svc := hookNode(t, rdb, prefix, fastHooks())
	m, _ := hookShop(t, svc, rc.srv.URL, session.HookStarted)
	ctx := context.Background()
	c, _, err := svc.StartConversation(ctx, m, session.VisitorInfo{Locale: "en"})
	require.NoError(t, err)
	require.NoError(t, svc.VisitorMessage(ctx, c.Turn(), "c1", "hello"))

	var dead []session.WebhookDelivery
	require.Eventually(t, func() bool {
		dead, _ = svc.WebhookDeliveries(ctx, m.ID, session.DeliveryFailed, 0)
		return len(dead) == 1
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 5, dead[0].Attempts, "the first try and four retries")
	require.Contains(t, dead[0].LastError, "HTTP 503")
	require.Len(t, rc.all(), 5)

	_, err = svc.RetryWebhookDelivery(ctx, m.ID, "msg_nope.we_nope")
	require.ErrorIs(t, err, session.ErrNotFound)
	other, err := svc.CreateMerchant(ctx, "Other Hook Shop", nil, "")
	require.NoError(t, err)
	_, err = svc.RetryWebhookDelivery(ctx, other.ID, dead[0].ID)
	require.ErrorIs(t, err, session.ErrNotFound, "another merchant's delivery is not found")

	mu.Lock()
	down = false
	mu.Unlock()
	d, err := svc.RetryWebhookDelivery(ctx, m.ID, dead[0].ID)
	require.NoError(t, err)
	require.Equal(t, session.DeliveryPending, d.State)
	require.Eventually(t, func() bool { return len(rc.all()) == 6 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, rc.all()[0].id(), rc.all()[5].id(), "the retry carries the same webhook-id")
	require.Eventually(t, func() bool {
		ds, _ := svc.WebhookDeliveries(ctx, m.ID, session.DeliveryFailed, 0)
		return len(ds) == 0
	}, 5*time.Second, 10*time.Millisecond, "no longer a dead letter")
	_, err = svc.RetryWebhookDelivery(ctx, m.ID, dead[0].ID)
	require.Equal(t, "not_failed", session.ErrorOf(err).Code)
}

// TestWebhookNodeDiesAfterSending: a node that loses Redis right after the
// endpoint took a delivery cannot record it; another node sends it again
// once the lease is over, with the same webhook-id (receivers drop what
// they have), and then it is recorded and never sent a third time. A
// delivery recorded as made is never sent again, whoever looks at it.
func TestWebhookNodeDiesAfterSending(t *testing.T) {
	_, prefix := sessiontest.Redis(t)
	rc := newReceiver(t)
	doomed := ownClient(t)
	rc.steer = func(n int, _ post) (int, time.Duration) {
		if n == 0 {
			_ = doomed.Close()
		}
		return 200, 0
	}
	o := fastHooks()
	a := hookNode(t, doomed, prefix, o)
	m, _ := hookShop(t, a, rc.srv.URL, session.HookStarted)
	ctx := context.Background()
	c, _, err := a.StartConversation(ctx, m, session.VisitorInfo{Locale: "en"})
	require.NoError(t, err)
	require.NoError(t, a.VisitorMessage(ctx, c.Turn(), "c1", "hello"))
	select {
	case <-rc.got:
	case <-time.After(5 * time.Second):
		t.Fatal("the first node never posted")
	}
	rescuer := ownClient(t)
	b := hookNode(t, rescuer, prefix, o)
	require.Eventually(t, func() bool {
		ds, _ := b.WebhookDeliveries(ctx, m.ID, "", 0)
		return len(ds) == 1 && ds[0].State == session.DeliveryDelivered
	}, 10*time.Second, 10*time.Millisecond)
	posts := rc.all()
	require.Len(t, posts, 2)
	require.Equal(t, posts[0].id(), posts[1].id())

	// A stream entry for the delivered record, as a node that recorded it
	// and died before acknowledging would leave for others to claim.
	ds, _ := b.WebhookDeliveries(ctx, m.ID, "", 0)
	require.NoError(t, rescuer.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "{wh}:s", Values: []string{"c", m.ID, "h", ds[0].ID}}).Err())
	time.Sleep(300 * time.Millisecond)
	require.Len(t, rc.all(), 2, "a delivered record is never sent again")
}

// TestSlowEndpointDoesNotDelayOthers: an endpoint that takes its time
// holds at most PerEndpoint workers; another merchant's endpoint gets its
// deliveries meanwhile.
func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	slow, fast := newReceiver(t), newReceiver(t)
	slow.steer = func(int, post) (int, time.Duration) { return 200, 250 * time.Millisecond }
	o := fastHooks()
	o.Timeout = 2 * time.Second
	svc := hookNode(t, rdb, prefix, o)
	ctx := context.Background()
	ms, _ := hookShop(t, svc, slow.srv.URL, session.HookStarted)
	mf, _ := hookShop(t, svc, fast.srv.URL, session.HookStarted)
	const n = 12
	for i := range n {
		for _, m := range []*session.Merchant{ms, mf} {
			c, _, err := svc.StartConversation(ctx, m, session.VisitorInfo{Locale: "en"})
			require.NoError(t, err)
			require.NoError(t, svc.VisitorMessage(ctx, c.Turn(), cidOf(i), "hello"))
		}
	}
	require.Eventually(t, func() bool { return len(fast.all()) == n }, 10*time.Second, 5*time.Millisecond)
	slowDone := len(slow.all())
	// The slow endpoint, two at a time at 250 ms each, needs 1.5 s for its
	// twelve; the fast one's came while it was at most halfway.
	require.LessOrEqual(t, slowDone, n/2+2, "fast deliveries waited behind slow ones: slow had %d when fast had all", slowDone)
	require.Eventually(t, func() bool { return len(slow.all()) == n }, 10*time.Second, 10*time.Millisecond)
}

func cidOf(i int) string { return "c" + string(rune('a'+i)) }

// TestWebhookSecretRotation: after a new secret, deliveries carry two
// signatures for the grace period, so a receiver still on the old secret
// and one already on the new both verify.
func TestWebhookSecretRotation(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	rc := newReceiver(t)
	svc := hookNode(t, rdb, prefix, fastHooks())
	m, ep := hookShop(t, svc, rc.srv.URL, session.HookStarted)
	ctx := context.Background()
	rotated, err := svc.RotateWebhookSecret(ctx, m.ID, ep.ID)
	require.NoError(t, err)
	require.NotEqual(t, ep.Secret, rotated.Secret)
	require.Regexp(t, `^whsec_`, rotated.Secret)
	require.False(t, rotated.PreviousSecretUntil.IsZero(), "the old secret signs for a while")
	for i, want := range []string{rotated.Secret, ""} {
		listed, err := svc.Webhooks(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, want, listed[0].Secret, "listing %d after the rotation: a new secret is listed once", i+1)
	}
	m, err = svc.Merchant(ctx, m.ID)
	require.NoError(t, err)
	c, _, err := svc.StartConversation(ctx, m, session.VisitorInfo{Locale: "en"})
	require.NoError(t, err)
	require.NoError(t, svc.VisitorMessage(ctx, c.Turn(), "c1", "hello"))
	p := rc.waitTypes(session.HookStarted)[session.HookStarted]
	require.Len(t, splitSigs(p.header.Get("webhook-signature")), 2)
	verify(t, ep.Secret, p)
	verify(t, rotated.Secret, p)
	wrong, err := standardwebhooks.NewWebhook("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	require.Error(t, wrong.Verify(p.body, p.header), "a third secret does not verify: the check can fail")
}

func splitSigs(h string) []string {
	var out []string
	for _, s := range splitSpace(h) {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func splitSpace(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// TestWebhookSettingsRefuseBadInput: what a PUT must not accept.
func TestWebhookSettingsRefuseBadInput(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	svc := hookNode(t, rdb, prefix, fastHooks())
	ctx := context.Background()
	m, err := svc.CreateMerchant(ctx, "Bad Hook Shop", nil, "")
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		in   session.WebhookEndpointInput
		code string
	}{
		{"no events", session.WebhookEndpointInput{URL: "https://hooks.example/a"}, "invalid_events"},
		{"an unknown event", session.WebhookEndpointInput{URL: "https://hooks.example/a", Events: []string{"conversation.exploded"}}, "invalid_events"},
		{"not http", session.WebhookEndpointInput{URL: "ftp://hooks.example/a", Events: []string{session.HookClosed}}, "invalid_url"},
		{"credentials in the url", session.WebhookEndpointInput{URL: "https://u:p@hooks.example/a", Events: []string{session.HookClosed}}, "invalid_url"},
		{"relative", session.WebhookEndpointInput{URL: "/hooks", Events: []string{session.HookClosed}}, "invalid_url"},
		{"a secret not in the format", session.WebhookEndpointInput{URL: "https://hooks.example/a", Events: []string{session.HookClosed}, Secret: "hunter2"}, "invalid_secret"},
		{"a short secret", session.WebhookEndpointInput{URL: "https://hooks.example/a", Events: []string{session.HookClosed}, Secret: "whsec_c2hvcnQ="}, "invalid_secret"},
		{"an unknown id", session.WebhookEndpointInput{ID: "we_nope", URL: "https://hooks.example/a", Events: []string{session.HookClosed}}, "not_found"},
	} {
		_, err := svc.SetWebhooks(ctx, m.ID, []session.WebhookEndpointInput{tc.in})
		require.Equal(t, tc.code, session.ErrorOf(err).Code, tc.name)
	}
	eps, err := svc.Webhooks(ctx, m.ID)
	require.NoError(t, err)
	require.Empty(t, eps, "nothing was stored")

	// A merchant's own secret is kept and never shown back but the once.
	own := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwOwCyx0/5Xpk="
	eps, err = svc.SetWebhooks(ctx, m.ID, []session.WebhookEndpointInput{{URL: "https://hooks.example/a", Events: []string{session.HookClosed, session.HookClosed}, Secret: own}})
	require.NoError(t, err)
	require.Equal(t, own, eps[0].Secret)
	require.Equal(t, []string{session.HookClosed}, eps[0].Events)
	stored, err := rdb.HGet(ctx, prefix+"{m:"+m.ID+"}:cfg", "webhooks").Result()
	require.NoError(t, err)
	require.Contains(t, stored, eps[0].ID)
	require.NotContains(t, stored, own[len("whsec_"):], "secrets are sealed at rest")
	// Editing the url keeps the secret; leaving the endpoint out removes it.
	eps, err = svc.SetWebhooks(ctx, m.ID, []session.WebhookEndpointInput{{ID: eps[0].ID, URL: "https://hooks.example/b", Events: []string{session.HookStarted}}})
	require.NoError(t, err)
	require.Empty(t, eps[0].Secret)
	require.Equal(t, "https://hooks.example/b", eps[0].URL)
	eps, err = svc.SetWebhooks(ctx, m.ID, nil)
	require.NoError(t, err)
	require.Empty(t, eps)
}

// TestWebhookTicketed: a helpdesk handoff raises conversation.handoff at
// once and conversation.ticketed when the ticket is made, with where it is.
func TestWebhookTicketed(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	rc := newReceiver(t)
	desk := newDesk()
	svc := session.New(session.Options{Redis: rdb, Prefix: prefix, Assistant: assistant.New(), Tickets: desk, Outbox: fastOutbox(),
		Webhooks: fastHooks(), BcryptCost: 4})
	ctx, cancel := context.WithCancel(context.Background())
	svc.Run(ctx)
	t.Cleanup(func() { cancel(); svc.Close() })
	m := helpdeskShop(t, svc, session.MethodZendesk)
	eps, err := svc.SetWebhooks(ctx, m.ID, []session.WebhookEndpointInput{{URL: rc.srv.URL, Events: []string{session.HookHandoff, session.HookTicketed}}})
	require.NoError(t, err)
	convID := handOff(t, svc, m, "tia@example.com")
	tk := waitTicket(t, svc, m, convID, session.TicketCreated)
	byType := rc.waitTypes(session.HookHandoff, session.HookTicketed)
	for _, p := range byType {
		verify(t, eps[0].Secret, p)
	}
	conv := byType[session.HookTicketed].event(t)["data"].(map[string]any)["conversation"].(map[string]any)
	require.Equal(t, convID, conv["id"])
	require.Equal(t, tk.ID, conv["ticket"].(map[string]any)["id"])
	require.Equal(t, "created", conv["ticket"].(map[string]any)["state"])
	handoff := byType[session.HookHandoff].event(t)["data"].(map[string]any)["conversation"].(map[string]any)
	require.Equal(t, "ticketed", handoff["status"])
	require.Equal(t, "pending", handoff["ticket"].(map[string]any)["state"], "the handoff comes before the ticket")
}
