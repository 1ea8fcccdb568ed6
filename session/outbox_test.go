package session_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/assistant"
	"github.com/batonchat/baton/session/sessiontest"
)

// fakeDesk is a helpdesk in memory with Zendesk's guarantees: a repeated
// idempotency key returns the ticket it made, and tickets can be found by
// external id. steer decides what each call does.
type fakeDesk struct {
	mu      sync.Mutex
	byKey   map[string]string
	byExt   map[string][]string
	calls   []deskCall
	next    int
	steer   func(n int, r session.TicketRequest) deskFault
	created chan string
}

type deskCall struct {
	at  time.Time
	req session.TicketRequest
}

// deskFault is what one call does.
type deskFault struct {
	err        *session.TicketError // fail with this (before making anything)
	afterMake  func()               // make the ticket, then call this
	failAfter  *session.TicketError // make the ticket, then fail with this
	retryAfter time.Duration
}

func newDesk() *fakeDesk {
	return &fakeDesk{byKey: map[string]string{}, byExt: map[string][]string{}, created: make(chan string, 1000)}
}

func (d *fakeDesk) SendTicket(ctx context.Context, r session.TicketRequest) (session.TicketResult, error) {
	d.mu.Lock()
	n := len(d.calls)
	d.calls = append(d.calls, deskCall{at: time.Now(), req: r})
	var f deskFault
	if d.steer != nil {
		f = d.steer(n, r)
	}
	if id, ok := d.byKey[r.IdempotencyKey]; ok {
		d.mu.Unlock()
		return session.TicketResult{ID: id, Existing: true}, nil
	}
	if r.MayExist && r.KeySince.IsZero() {
		if ids := d.byExt[r.ExternalID]; len(ids) > 0 {
			d.mu.Unlock()
			return session.TicketResult{ID: ids[0], Existing: true}, nil
		}
	}
	if f.err != nil {
		d.mu.Unlock()
		return session.TicketResult{}, f.err
	}
	d.next++
	id := fmt.Sprint(d.next)
	d.byKey[r.IdempotencyKey] = id
	d.byExt[r.ExternalID] = append(d.byExt[r.ExternalID], id)
	d.mu.Unlock()
	d.created <- id
	if f.afterMake != nil {
		f.afterMake()
	}
	if f.failAfter != nil {
		return session.TicketResult{}, f.failAfter
	}
	return session.TicketResult{ID: id, URL: "https://desk.example/t/" + id}, nil
}

func (d *fakeDesk) callsFor(ext string) []deskCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []deskCall
	for _, c := range d.calls {
		if c.req.ExternalID == ext {
			out = append(out, c)
		}
	}
	return out
}

func (d *fakeDesk) tickets(ext string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.byExt[ext]...)
}

// fastOutbox keeps the tests in milliseconds.
func fastOutbox() session.OutboxOptions {
	return session.OutboxOptions{Workers: 2, Poll: 10 * time.Millisecond, CallTimeout: 300 * time.Millisecond,
		LeaseMargin: 100 * time.Millisecond, ClaimIdle: 450 * time.Millisecond,
		RetryBase: 20 * time.Millisecond, RetryMax: 160 * time.Millisecond, MaxAttempts: 8, StopGrace: 50 * time.Millisecond}
}

// node is one running Service on a shared Redis prefix.
func node(t *testing.T, rdb redis.UniversalClient, prefix string, desk session.TicketSender, o session.OutboxOptions) *session.Service {
	t.Helper()
	svc := session.New(session.Options{Redis: rdb, Prefix: prefix, Assistant: assistant.New(), Tickets: desk, Outbox: o, BcryptCost: 4})
	ctx, cancel := context.WithCancel(context.Background())
	svc.Run(ctx)
	t.Cleanup(func() { cancel(); svc.Close() })
	return svc
}

// ownClient is a Redis client of its own on the test backend, so one node
// can lose Redis while the others keep it.
func ownClient(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(sessiontest.Shared(t).URL)
	require.NoError(t, err)
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func helpdeskShop(t *testing.T, svc *session.Service, method session.HandoffMethod) *session.Merchant {
	t.Helper()
	ctx := context.Background()
	m, err := svc.CreateMerchant(ctx, "Desk Shop", nil, "")
	require.NoError(t, err)
	_, err = svc.SetIntegration(ctx, m.ID, method, &session.HelpdeskAccount{Site: "deskshop", Email: "owner@desk.example", Secret: "secret-token-123456"})
	require.NoError(t, err)
	_, err = svc.UpdateSettings(ctx, m.ID, 0, func(set *session.Settings) { set.Handoff.Method = method })
	require.NoError(t, err)
	m, err = svc.Merchant(ctx, m.ID)
	require.NoError(t, err)
	return m
}

// handOff runs a signed-in visitor through the offer and returns the
// conversation id.
func handOff(t *testing.T, svc *session.Service, m *session.Merchant, email string) string {
	t.Helper()
	ctx := context.Background()
	c, _, err := svc.StartConversation(ctx, m, session.VisitorInfo{Email: email, ProfileID: "p-" + email, Authenticated: true,
		Locale: "en", Page: "https://shop.example/cart"})
	require.NoError(t, err)
	turn := c.Turn()
	require.NoError(t, svc.VisitorMessage(ctx, turn, "c1", "Where is <b>my</b> order & why?"))
	require.NoError(t, svc.RequestHandoff(ctx, turn))
	turn.Status = session.StatusHandoffOffered
	require.NoError(t, svc.ReplyToOffer(ctx, turn, true))
	return c.ID
}

func ticketOf(t *testing.T, svc *session.Service, m *session.Merchant, convID string) *session.Ticket {
	t.Helper()
	c, _, err := svc.Conversation(context.Background(), m.ID, convID)
	require.NoError(t, err)
	return c.Ticket
}

func waitTicket(t *testing.T, svc *session.Service, m *session.Merchant, convID, state string) *session.Ticket {
	t.Helper()
	var tk *session.Ticket
	require.Eventually(t, func() bool {
		tk = ticketOf(t, svc, m, convID)
		return tk != nil && tk.State == state
	}, 10*time.Second, 10*time.Millisecond, "ticket of %s never %s: %+v", convID, state, tk)
	return tk
}

func TestHelpdeskHandoffMakesOneTicket(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	desk := newDesk()
	svc := node(t, rdb, prefix, desk, fastOutbox())
	m := helpdeskShop(t, svc, session.MethodZendesk)
	convID := handOff(t, svc, m, "ann@example.com")

	// The step that ends the chat: ticketed, the visitor told, a pending
	// ticket on the conversation.
	c, entries, err := svc.Conversation(context.Background(), m.ID, convID)
	require.NoError(t, err)
	require.Equal(t, session.StatusTicketed, c.Status)
	last, err := entries[len(entries)-1].Decode()
	require.NoError(t, err)
	require.Equal(t, session.RoleSystem, last.Role)
	require.Contains(t, last.Text, "reply by email to ann@example.com")
	require.NotNil(t, c.Ticket)

	tk := waitTicket(t, svc, m, convID, session.TicketCreated)
	require.Equal(t, "zendesk", tk.Provider)
	require.NotEmpty(t, tk.ID)
	require.Equal(t, "https://desk.example/t/"+tk.ID, tk.URL)
	require.Equal(t, 1, tk.Attempts)

	calls := desk.callsFor("baton-" + convID)
	require.Len(t, calls, 1)
	r := calls[0].req
	require.Equal(t, session.MethodZendesk, r.Provider)
	require.Equal(t, "owner@desk.example", r.Account.Email)
	require.Equal(t, "ann@example.com", r.Visitor.Email)
	require.Equal(t, "p-ann@example.com", r.Visitor.ProfileID)
	require.Equal(t, "https://shop.example/cart", r.Visitor.Page)
	require.Equal(t, session.ReasonUnsure, r.Reason) // the assistant could not answer the question
	require.Contains(t, r.Summary, "Where is <b>my</b> order & why?", "the summary quotes the question")
	require.False(t, r.MayExist)
	require.NotEmpty(t, r.IdempotencyKey)
	require.Len(t, r.Transcript, len(entries))
	require.Equal(t, "Where is <b>my</b> order & why?", r.Transcript[0].Text)

	hs, err := svc.HelpdeskHandoffs(context.Background(), m.ID, session.TicketCreated)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.Equal(t, convID, hs[0].ID)
	require.Equal(t, tk.ID, hs[0].Ticket.ID)
}

func TestHelpdeskRetriesWithBackoffAndRetryAfter(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	desk := newDesk()
	const wait = 300 * time.Millisecond
	desk.steer = func(n int, r session.TicketRequest) deskFault {
		switch n {
		case 0, 1:
			return deskFault{err: &session.TicketError{Status: 500, MayExist: true, Reason: "500"}}
		case 2:
			return deskFault{err: &session.TicketError{Status: 429, RetryAfter: wait, Reason: "429"}}
		}
		return deskFault{}
	}
	o := fastOutbox()
	svc := node(t, rdb, prefix, desk, o)
	m := helpdeskShop(t, svc, session.MethodZendesk)
	convID := handOff(t, svc, m, "bo@example.com")
	tk := waitTicket(t, svc, m, convID, session.TicketCreated)
	require.Equal(t, 4, tk.Attempts)

	calls := desk.callsFor("baton-" + convID)
	require.Len(t, calls, 4)
	// Equal jitter: the n-th retry waits at least half of base·2^(n-1).
	for i := 1; i < 3; i++ {
		gap := calls[i].at.Sub(calls[i-1].at)
		require.GreaterOrEqual(t, gap, o.RetryBase<<(i-1)/2, "retry %d came after %v", i, gap)
	}
	require.GreaterOrEqual(t, calls[3].at.Sub(calls[2].at), wait, "retried before Retry-After")
	// After a 500 the ticket may exist: the same key goes again.
	require.True(t, calls[1].req.MayExist)
	require.Equal(t, calls[0].req.IdempotencyKey, calls[3].req.IdempotencyKey)
	require.Len(t, desk.tickets("baton-"+convID), 1)
}

func TestHelpdeskDeadLetterAndAdminRetry(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	desk := newDesk()
	var mu sync.Mutex
	refuse := true
	desk.steer = func(n int, r session.TicketRequest) deskFault {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return deskFault{err: &session.TicketError{Permanent: true, Status: 422, Reason: "zendesk answered 422: Requester email is invalid"}}
		}
		return deskFault{}
	}
	svc := node(t, rdb, prefix, desk, fastOutbox())
	m := helpdeskShop(t, svc, session.MethodZendesk)
	other := helpdeskShop(t, svc, session.MethodZendesk)
	convID := handOff(t, svc, m, "cy@example.com")
	tk := waitTicket(t, svc, m, convID, session.TicketFailed)
	require.Contains(t, tk.Error, "Requester email is invalid")
	require.Len(t, desk.callsFor("baton-"+convID), 1, "a permanent failure is not retried by itself")

	ctx := context.Background()
	failed, err := svc.HelpdeskHandoffs(ctx, m.ID, session.TicketFailed)
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, convID, failed[0].ID)
	require.Contains(t, failed[0].Error, "Requester email is invalid")
	// Another merchant sees none of it, and cannot retry it.
	theirs, err := svc.HelpdeskHandoffs(ctx, other.ID, session.TicketFailed)
	require.NoError(t, err)
	require.Empty(t, theirs)
	_, err = svc.RetryHandoff(ctx, other.ID, convID)
	require.Equal(t, session.KindNotFound, session.ErrorOf(err).Kind)

	mu.Lock()
	refuse = false
	mu.Unlock()
	h, err := svc.RetryHandoff(ctx, m.ID, convID)
	require.NoError(t, err)
	require.Equal(t, session.TicketPending, h.State)
	tk = waitTicket(t, svc, m, convID, session.TicketCreated)
	calls := desk.callsFor("baton-" + convID)
	require.Len(t, calls, 2)
	require.NotEqual(t, calls[0].req.IdempotencyKey, calls[1].req.IdempotencyKey, "a retried dead letter gets a new key")
	failed, err = svc.HelpdeskHandoffs(ctx, m.ID, session.TicketFailed)
	require.NoError(t, err)
	require.Empty(t, failed)

	_, err = svc.RetryHandoff(ctx, m.ID, convID)
	require.Equal(t, "not_failed", session.ErrorOf(err).Code)
	require.Equal(t, tk.ID, ticketOf(t, svc, m, convID).ID)
}

func TestHelpdeskGivesUpAfterMaxAttempts(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	desk := newDesk()
	desk.steer = func(int, session.TicketRequest) deskFault {
		return deskFault{err: &session.TicketError{Status: 502, MayExist: true, Reason: "zendesk answered 502"}}
	}
	o := fastOutbox()
	o.MaxAttempts = 3
	svc := node(t, rdb, prefix, desk, o)
	m := helpdeskShop(t, svc, session.MethodZendesk)
	convID := handOff(t, svc, m, "di@example.com")
	tk := waitTicket(t, svc, m, convID, session.TicketFailed)
	require.Equal(t, "gave up after 3 attempts: zendesk answered 502", tk.Error)
	require.Len(t, desk.callsFor("baton-"+convID), 3)

	// An admin's retry after attempts that may have made the ticket looks
	// it up first: the old key is not this generation's.
	desk.mu.Lock()
	desk.steer = nil
	desk.mu.Unlock()
	_, err := svc.RetryHandoff(context.Background(), m.ID, convID)
	require.NoError(t, err)
	waitTicket(t, svc, m, convID, session.TicketCreated)
	calls := desk.callsFor("baton-" + convID)
	require.True(t, calls[3].req.MayExist)
	require.True(t, calls[3].req.KeySince.IsZero())
}

// TestHelpdeskWorkerDiesAfterTheTicketIsMade: a node's worker gets the
// helpdesk's answer and loses Redis before recording it. Another node claims
// the entry once the first node's lease has run out, finds the attempt still
// marked in flight, and the helpdesk's idempotency gives back the same
// ticket: one ticket.
func TestHelpdeskWorkerDiesAfterTheTicketIsMade(t *testing.T) {
	_, prefix := sessiontest.Redis(t)
	desk := newDesk()
	doomed := ownClient(t)
	var once sync.Once
	desk.steer = func(n int, r session.TicketRequest) deskFault {
		if n == 0 {
			return deskFault{afterMake: func() { once.Do(func() { _ = doomed.Close() }) }}
		}
		return deskFault{}
	}
	o := fastOutbox()
	// Only the doomed node works at first; the rescuer starts after.
	a := node(t, doomed, prefix, desk, o)
	m := helpdeskShop(t, a, session.MethodZendesk)
	convID := handOff(t, a, m, "ed@example.com")
	select {
	case <-desk.created:
	case <-time.After(5 * time.Second):
		t.Fatal("the first attempt never made a ticket")
	}
	b := node(t, ownClient(t), prefix, desk, o)
	tk := waitTicket(t, b, m, convID, session.TicketCreated)
	calls := desk.callsFor("baton-" + convID)
	require.Len(t, calls, 2)
	require.True(t, calls[1].req.MayExist, "the rescuer must know the ticket may exist")
	require.False(t, calls[1].req.KeySince.IsZero(), "within the key's life the idempotency key suffices")
	require.Equal(t, calls[0].req.IdempotencyKey, calls[1].req.IdempotencyKey)
	require.Equal(t, []string{tk.ID}, desk.tickets("baton-"+convID))
}

// TestHelpdeskNodesShareTheOutbox: several nodes, many handoffs, every
// ticket made once and posted once.
func TestHelpdeskNodesShareTheOutbox(t *testing.T) {
	_, prefix := sessiontest.Redis(t)
	desk := newDesk()
	o := fastOutbox()
	nodes := []*session.Service{node(t, ownClient(t), prefix, desk, o), node(t, ownClient(t), prefix, desk, o), node(t, ownClient(t), prefix, desk, o)}
	m := helpdeskShop(t, nodes[0], session.MethodGorgias)
	const n = 30
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = handOff(t, nodes[i%len(nodes)], m, fmt.Sprintf("v%d@example.com", i))
		}()
	}
	wg.Wait()
	for _, id := range ids {
		waitTicket(t, nodes[0], m, id, session.TicketCreated)
		require.Len(t, desk.callsFor("baton-"+id), 1, "posted more than once")
		require.Len(t, desk.tickets("baton-"+id), 1)
	}
	hs, err := nodes[1].HelpdeskHandoffs(context.Background(), m.ID, "")
	require.NoError(t, err)
	require.Len(t, hs, n)
}

// TestHelpdeskStaleNotificationIsDropped: a node that wrote the stream entry
// and died before the conversation changed leaves a notification for a
// handoff that never happened; the worker drops it without a call.
func TestHelpdeskStaleNotificationIsDropped(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	desk := newDesk()
	svc := node(t, rdb, prefix, desk, fastOutbox())
	m := helpdeskShop(t, svc, session.MethodZendesk)
	ctx := context.Background()
	c, _, err := svc.StartConversation(ctx, m, session.VisitorInfo{Email: "fa@example.com", Authenticated: true})
	require.NoError(t, err)
	require.NoError(t, svc.VisitorMessage(ctx, c.Turn(), "c0", "hello"))
	stream := prefix + "{hd}:s"
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"c", c.ID, "h", "h_ghost"}}).Err())
	require.Eventually(t, func() bool {
		n, err := rdb.XLen(ctx, stream).Result()
		return err == nil && n == 0
	}, 5*time.Second, 10*time.Millisecond, "the stale entry was not dropped")
	desk.mu.Lock()
	defer desk.mu.Unlock()
	require.Empty(t, desk.calls)
	got, _, err := svc.Conversation(ctx, m.ID, c.ID)
	require.NoError(t, err)
	require.Equal(t, session.StatusAssistant, got.Status)
}

// TestHelpdeskHandoffSurvivesNoWorker: the handoff is durable in Redis; a
// node without a sender hands off, and a node that starts later makes the
// ticket.
func TestHelpdeskHandoffSurvivesNoWorker(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	front := node(t, rdb, prefix, nil, fastOutbox())
	m := helpdeskShop(t, front, session.MethodGorgias)
	convID := handOff(t, front, m, "gi@example.com")
	require.Equal(t, session.TicketPending, ticketOf(t, front, m, convID).State)
	time.Sleep(50 * time.Millisecond)
	desk := newDesk()
	node(t, ownClient(t), prefix, desk, fastOutbox())
	waitTicket(t, front, m, convID, session.TicketCreated)
	require.Len(t, desk.tickets("baton-"+convID), 1)
}

// TestHelpdeskRecoversAWakeUpLostInACrash: a node that marked the
// conversation ticketed and died before waking a worker leaves the recovery
// entry, which comes due Recover later.
func TestHelpdeskRecoversAWakeUpLostInACrash(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	o := fastOutbox()
	o.Recover = 300 * time.Millisecond
	front := node(t, rdb, prefix, nil, o)
	m := helpdeskShop(t, front, session.MethodZendesk)
	convID := handOff(t, front, m, "ho@example.com")
	ctx := context.Background()
	// The crash: the wake-up never reached the stream.
	require.NoError(t, rdb.XTrimMaxLen(ctx, prefix+"{hd}:s", 0).Err())
	desk := newDesk()
	start := time.Now()
	node(t, ownClient(t), prefix, desk, o)
	waitTicket(t, front, m, convID, session.TicketCreated)
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond, "made before the recovery entry was due")
	require.Len(t, desk.tickets("baton-"+convID), 1)
	// Settled: nothing is left in the schedule.
	require.Eventually(t, func() bool { return rdb.ZCard(ctx, prefix+"{hd}:due").Val() == 0 }, 2*time.Second, 10*time.Millisecond)
}

func TestHelpdeskAccountValidation(t *testing.T) {
	for _, tc := range []struct {
		acc session.HelpdeskAccount
		ok  bool
	}{
		{session.HelpdeskAccount{Site: "Shop", Email: "a@b.example", Secret: "t"}, true},
		{session.HelpdeskAccount{Site: "shop", Email: "a@b.example", Secret: "t", BaseURL: "http://127.0.0.1:9/x/"}, true},
		{session.HelpdeskAccount{Site: "", Email: "a@b.example", Secret: "t"}, false},
		{session.HelpdeskAccount{Site: "shop.zendesk.com", Email: "a@b.example", Secret: "t"}, false},
		{session.HelpdeskAccount{Site: "shop", Email: "nope", Secret: "t"}, false},
		{session.HelpdeskAccount{Site: "shop", Email: "a@b.example", Secret: ""}, false},
		{session.HelpdeskAccount{Site: "shop", Email: "a@b.example", Secret: "t", BaseURL: "ftp://x"}, false},
		{session.HelpdeskAccount{Site: "shop", Email: "a@b.example", Secret: "t", BaseURL: "https://u:p@x"}, false},
	} {
		err := tc.acc.Validate(session.MethodZendesk)
		if tc.ok {
			require.NoError(t, err, "%+v", tc.acc)
		} else {
			require.Error(t, err, "%+v", tc.acc)
			var e *session.Error
			require.True(t, errors.As(err, &e))
			require.Equal(t, session.KindInvalid, e.Kind)
		}
	}
	long := session.HelpdeskAccount{Secret: "abcdefghijklmnopWXYZ"}
	require.Equal(t, "********WXYZ", long.MaskedSecret())
	short := session.HelpdeskAccount{Secret: "abc"}
	require.Equal(t, "********", short.MaskedSecret())
}
