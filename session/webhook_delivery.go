package session

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Webhook deliveries work like the helpdesk outbox (see outbox.go): an
// event makes one record per subscribed endpoint, in the merchant's slot,
// and a stream entry saying "look at this delivery"; a worker on any node
// takes a lease on the record (a compare-and-set), posts, and records how
// it went; a failure is retried on a schedule (the first three retries
// within 30 seconds, the last more than a day after the event), each
// attempt with the same webhook-id, until it becomes a dead letter that an
// admin may retry. Once a record says delivered it is never sent again; a
// node that dies mid-attempt leaves its lease to run out, and the next
// worker sends again with the same webhook-id, which receivers use to drop
// what they already have (Standard Webhooks, "idempotency").

//go:embed scripts/whcas.lua
var whcasSource string

// WebhookRequest is one attempt at a delivery.
type WebhookRequest struct {
	URL string
	// ID is webhook-id: the event's, the same on every attempt and for
	// every endpoint.
	ID string
	// Timestamp is webhook-timestamp: this attempt's.
	Timestamp time.Time
	Body      []byte
	// Secrets are the whsec_ secrets to sign with, one signature each (two
	// while a replaced secret is in its grace period).
	Secrets []string
}

// WebhookResult is what an endpoint answered.
type WebhookResult struct {
	Status int    // its HTTP status, 0 when none came
	Body   string // the start of its answer, for admins
}

// WebhookSender posts deliveries; it knows where Baton may post to.
type WebhookSender interface {
	URLChecker
	SendWebhook(ctx context.Context, r WebhookRequest) (WebhookResult, error)
}

// WebhookOptions tune deliveries. Zero values take the defaults.
type WebhookOptions struct {
	Sender WebhookSender
	// Workers is how many attempts one node makes at once (8).
	Workers int
	// Poll is how often due retries are moved and idle entries claimed (1s).
	Poll time.Duration
	// Timeout bounds one attempt (10s).
	Timeout time.Duration
	// Schedule is the wait before each retry; a delivery that fails once
	// more after the last is a dead letter. Each wait is jittered by up to
	// a tenth. The default retries after 2s, 5s, 15s, 1m, 5m, 30m, 1h, 2h,
	// 4h, 8h, 8h and 8h: 12 retries over 32 hours.
	Schedule []time.Duration
	// PerEndpoint is how many attempts to one endpoint a node makes at
	// once (2): a slow endpoint holds that many workers, never all.
	PerEndpoint int
	// LeaseMargin is how much longer than an attempt its lease lasts (5s);
	// a stream entry is claimed from a silent node after Timeout plus
	// twice this.
	LeaseMargin time.Duration
}

func defaultWebhookSchedule() []time.Duration {
	return []time.Duration{2 * time.Second, 5 * time.Second, 15 * time.Second, time.Minute, 5 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour, 8 * time.Hour}
}

func (o WebhookOptions) withDefaults() WebhookOptions {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if len(o.Schedule) == 0 {
		o.Schedule = defaultWebhookSchedule()
	}
	if o.PerEndpoint <= 0 {
		o.PerEndpoint = 2
	}
	if o.LeaseMargin <= 0 {
		o.LeaseMargin = 5 * time.Second
	}
	return o
}

// Lifetimes of delivery records; each write renews its record's.
const (
	webhookPendingTTL   = 3 * 24 * time.Hour // beyond the schedule's end
	webhookDeliveredTTL = 7 * 24 * time.Hour
	webhookFailedTTL    = 30 * 24 * time.Hour // dead letters, for admins to retry
	maxWebhookRecent    = 1000
	webhookBusyDelay    = 250 * time.Millisecond // an endpoint at its limit on this node
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// delivery is one event's delivery to one endpoint, as stored.
type delivery struct {
	ID         string `json:"id"`  // event id "." endpoint id
	Msg        string `json:"msg"` // webhook-id
	Type       string `json:"type"`
	Endpoint   string `json:"endpoint"`
	URL        string `json:"url"` // where the last attempt went
	Body       string `json:"body"`
	State      string `json:"state"`
	Attempts   int    `json:"attempts"` // since it was made or retried by an admin
	Total      int    `json:"total"`
	NextAt     int64  `json:"next_at"`
	Lease      string `json:"lease,omitempty"`
	LeaseUntil int64  `json:"lease_until,omitempty"`
	Inflight   bool   `json:"inflight,omitempty"`
	LastStatus int    `json:"last_status,omitempty"`
	LastError  string `json:"last_error,omitempty"`
	Created    int64  `json:"created"`
	Updated    int64  `json:"updated"`
	Delivered  int64  `json:"delivered,omitempty"`
}

// WebhookDelivery is a delivery as admins see it.
type WebhookDelivery struct {
	ID            string `json:"id"`
	WebhookID     string `json:"webhook_id"`
	Type          string `json:"type"`
	EndpointID    string `json:"endpoint_id"`
	URL           string `json:"url"`
	State         string `json:"state"`
	Attempts      int    `json:"attempts"`
	LastStatus    int    `json:"last_status,omitempty"`
	LastError     string `json:"last_error,omitempty"`
	NextAttemptAt Time   `json:"next_attempt_at"`
	CreatedAt     Time   `json:"created_at"`
	DeliveredAt   Time   `json:"delivered_at"`
}

func (d *delivery) view() WebhookDelivery {
	v := WebhookDelivery{ID: d.ID, WebhookID: d.Msg, Type: d.Type, EndpointID: d.Endpoint, URL: d.URL, State: d.State,
		Attempts: d.Total, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: msTimeOf(d.Created),
		DeliveredAt: msTimeOf(d.Delivered)}
	if d.State == DeliveryPending {
		v.NextAttemptAt = msTimeOf(max(d.NextAt, d.LeaseUntil))
	}
	return v
}

func msTimeOf(ms int64) Time {
	if ms == 0 {
		return Time{}
	}
	return Time{Time: time.UnixMilli(ms).UTC()}
}

// whcasArgs and whcasReply are whcas.lua's layout.
type whcasArgs struct {
	Rec    string `lua:"rec,key"`
	Failed string `lua:"failed,key"`
	Expect string `lua:"expect"`
	Record string `lua:"record"`
	State  string `lua:"state"`
	ID     string `lua:"id"`
	Now    int64  `lua:"now"`
	TTL    int64  `lua:"ttl"`
}

type whcasReply struct {
	Code    string `lua:"code"`
	Version string `lua:"version"`
}

// hooks delivers webhooks; nil on a Service without a WebhookSender.
type hooks struct {
	svc  *Service
	send WebhookSender
	opts WebhookOptions

	mu       sync.Mutex
	inflight map[string]int // attempts under way on this node, per endpoint
}

func newHooks(s *Service, o WebhookOptions) *hooks {
	return &hooks{svc: s, send: o.Sender, opts: o.withDefaults(), inflight: map[string]int{}}
}

func (h *hooks) run(ctx context.Context) {
	q := &jobQueue{svc: h.svc, name: "webhooks", stream: h.svc.keys.webhookStream(), due: h.svc.keys.webhookDue(),
		workers: h.opts.Workers, poll: h.opts.Poll, claimIdle: h.opts.Timeout + 2*h.opts.LeaseMargin, process: h.entry}
	q.run(ctx)
}

// hookEvent is one event to deliver, made by a step.
type hookEvent struct {
	merchant string
	typ      string
	data     any
}

// writeHooks records ev's deliveries, one per endpoint that wants it, on
// pipe (the caller's round trip): the records, the merchant's index of
// recent deliveries, and the stream entries that wake a worker.
func (s *Service) writeHooks(ctx context.Context, pipe redis.Pipeliner, m *Merchant, ev hookEvent) int {
	var eps []*webhookEndpoint
	for i := range m.webhooks {
		if m.webhooks[i].wants(ev.typ) {
			eps = append(eps, &m.webhooks[i])
		}
	}
	if len(eps) == 0 {
		return 0
	}
	now := s.now()
	msg := newID("msg", 12)
	body, _ := json.Marshal(struct {
		Type      string `json:"type"`
		Timestamp Time   `json:"timestamp"`
		Data      any    `json:"data"`
	}{ev.typ, Time{Time: now}, ev.data})
	for _, ep := range eps {
		d := delivery{ID: msg + "." + ep.ID, Msg: msg, Type: ev.typ, Endpoint: ep.ID, URL: ep.URL, Body: string(body),
			State: DeliveryPending, Created: now.UnixMilli(), Updated: now.UnixMilli()}
		rec, _ := json.Marshal(d)
		key := s.keys.webhookDelivery(m.ID, d.ID)
		pipe.HSet(ctx, key, "r", rec, "v", 1)
		pipe.PExpire(ctx, key, webhookPendingTTL)
		pipe.ZAdd(ctx, s.keys.webhookRecent(m.ID), zmember(float64(now.UnixMilli()), d.ID))
		pipe.ZRemRangeByRank(ctx, s.keys.webhookRecent(m.ID), 0, -maxWebhookRecent-1)
		pipe.PExpire(ctx, s.keys.webhookRecent(m.ID), webhookFailedTTL)
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.webhookStream(), Values: []string{"c", m.ID, "h", d.ID}})
	}
	return len(eps)
}

// emit delivers an event that no step's round trip carries (a rating, a
// ticket made): a round trip of its own, only when an endpoint wants it.
func (s *Service) emit(ctx context.Context, merchantID, typ string, data any) {
	m, err := s.Merchant(ctx, merchantID)
	if err != nil {
		return
	}
	pipe := s.rdb.Pipeline()
	if s.writeHooks(ctx, pipe, m, hookEvent{merchant: merchantID, typ: typ, data: data}) == 0 {
		return
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.WarnContext(ctx, "recording a webhook event", "merchant", merchantID, "type", typ, "err", err)
	}
}

func (h *hooks) entry(ctx context.Context, consumer string, m redis.XMessage) (bool, error) {
	mid, _ := m.Values["c"].(string)
	did, _ := m.Values["h"].(string)
	return h.process(ctx, consumer, mid, did)
}

var errDeliveryConflict = errors.New("delivery changed meanwhile")

func (s *Service) readDelivery(ctx context.Context, mid, did string) (*delivery, string, error) {
	vals, err := s.rdb.HMGet(ctx, s.keys.webhookDelivery(mid, did), "r", "v").Result()
	if err != nil {
		return nil, "", err
	}
	rec, _ := vals[0].(string)
	ver, _ := vals[1].(string)
	if rec == "" {
		return nil, "", nil
	}
	var d delivery
	if err := json.Unmarshal([]byte(rec), &d); err != nil {
		return nil, "", err
	}
	return &d, ver, nil
}

// casDelivery stores d if its record is still at version ver.
func (s *Service) casDelivery(ctx context.Context, mid, ver string, d *delivery) (string, error) {
	ttl := webhookPendingTTL
	switch d.State {
	case DeliveryDelivered:
		ttl = webhookDeliveredTTL
	case DeliveryFailed:
		ttl = webhookFailedTTL
	}
	rec, _ := json.Marshal(d)
	r, err := s.whcasScript.run(ctx, s.rdb, &whcasArgs{Rec: s.keys.webhookDelivery(mid, d.ID), Failed: s.keys.webhookFailed(mid),
		Expect: ver, Record: string(rec), State: d.State, ID: d.ID, Now: s.now().UnixMilli(), TTL: ttl.Milliseconds()})
	if err != nil {
		return "", err
	}
	switch r.Code {
	case "nf":
		return "", ErrNotFound
	case "conflict":
		return "", errDeliveryConflict
	}
	return r.Version, nil
}

func (h *hooks) scheduleAt(ctx context.Context, mid, did string, at int64) error {
	rctx, cancel := detached(ctx, 5*time.Second)
	defer cancel()
	return h.svc.rdb.ZAdd(rctx, h.svc.keys.webhookDue(), zmember(float64(at), mid+"|"+did)).Err()
}

// acquire takes one of the endpoint's attempt slots on this node.
func (h *hooks) acquire(endpoint string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inflight[endpoint] >= h.opts.PerEndpoint {
		return false
	}
	h.inflight[endpoint]++
	return true
}

func (h *hooks) release(endpoint string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inflight[endpoint]--; h.inflight[endpoint] <= 0 {
		delete(h.inflight, endpoint)
	}
}

// process looks at a delivery and, when it is due and free, makes an
// attempt. It reports whether the stream entry is done with.
func (h *hooks) process(ctx context.Context, consumer, mid, did string) (bool, error) {
	if !validID(mid) || !validID(did) {
		return true, nil
	}
	s := h.svc
	for range 5 {
		d, ver, err := s.readDelivery(ctx, mid, did)
		if err != nil {
			return false, err
		}
		if d == nil || d.State != DeliveryPending {
			return true, nil // expired, or already settled: never sent twice
		}
		now := s.now()
		if d.NextAt > now.UnixMilli() {
			return true, h.scheduleAt(ctx, mid, did, d.NextAt)
		}
		if d.Lease != "" && d.LeaseUntil > now.UnixMilli() {
			// Another worker is on it; look again when its lease runs out,
			// in case it dies.
			return true, h.scheduleAt(ctx, mid, did, d.LeaseUntil+1)
		}
		m, err := s.Merchant(ctx, mid)
		if errors.Is(err, ErrNotFound) || ErrorOf(err).Code == "not_found" {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		ep := m.webhook(d.Endpoint)
		if ep == nil {
			// The endpoint was removed: nothing to deliver to.
			next := *d
			next.State, next.LastError, next.Lease, next.Inflight, next.Updated = DeliveryFailed, "the endpoint was removed", "", false, now.UnixMilli()
			if _, err := s.casDelivery(ctx, mid, ver, &next); errors.Is(err, errDeliveryConflict) {
				continue
			}
			return true, nil
		}
		if !h.acquire(ep.ID) {
			return true, h.scheduleAt(ctx, mid, did, now.Add(webhookBusyDelay).UnixMilli())
		}
		next := *d
		next.Lease, next.LeaseUntil, next.Inflight = consumer, now.Add(h.opts.Timeout+h.opts.LeaseMargin).UnixMilli(), true
		next.Attempts++
		next.Total++
		next.URL = ep.URL
		next.Updated = now.UnixMilli()
		nv, err := s.casDelivery(ctx, mid, ver, &next)
		if err != nil {
			h.release(ep.ID)
			switch {
			case errors.Is(err, errDeliveryConflict):
				continue
			case errors.Is(err, ErrNotFound):
				return true, nil
			}
			return false, err
		}
		ok, err := h.attempt(ctx, mid, ep, &next, nv)
		h.release(ep.ID)
		return ok, err
	}
	return false, nil // a busy record; the entry will be claimed again
}

// attempt posts under the lease just taken and records how it went.
func (h *hooks) attempt(ctx context.Context, mid string, ep *webhookEndpoint, d *delivery, ver string) (bool, error) {
	s := h.svc
	now := s.now()
	actx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	res, err := h.send.SendWebhook(actx, WebhookRequest{URL: ep.URL, ID: d.Msg, Timestamp: now, Body: []byte(d.Body),
		Secrets: ep.secrets(now)})
	cancel()
	// What happened is recorded even while the node stops.
	rctx, rcancel := detached(ctx, 5*time.Second)
	defer rcancel()
	after := s.now()
	next := *d
	next.Lease, next.LeaseUntil, next.Inflight, next.Updated = "", 0, false, after.UnixMilli()
	next.LastStatus = res.Status
	switch {
	case err == nil && res.Status >= 200 && res.Status < 300:
		next.State, next.Delivered, next.LastError = DeliveryDelivered, after.UnixMilli(), ""
	default:
		next.LastError = deliveryError(res, err)
		if next.Attempts > len(h.opts.Schedule) {
			next.State = DeliveryFailed
		} else {
			next.NextAt = after.Add(jitter(h.opts.Schedule[next.Attempts-1])).UnixMilli()
		}
	}
	if _, err := s.casDelivery(rctx, mid, ver, &next); err != nil {
		if errors.Is(err, errDeliveryConflict) || errors.Is(err, ErrNotFound) {
			return true, nil // an admin acted on it meanwhile; theirs stands
		}
		return false, err
	}
	switch next.State {
	case DeliveryDelivered:
		s.obs.WebhookDelivery(AttemptDone)
	case DeliveryPending:
		s.obs.WebhookDelivery(AttemptRetry)
		return true, h.scheduleAt(rctx, mid, d.ID, next.NextAt)
	case DeliveryFailed:
		s.obs.WebhookDelivery(AttemptDead)
		s.obs.DeadLetter(OutboxWebhook)
		s.log.WarnContext(ctx, "webhook delivery failed for good; an admin may retry it", "merchant", mid, "delivery", d.ID,
			"type", d.Type, "attempts", next.Total, "reason", next.LastError)
	}
	return true, nil
}

// jitter spreads retries of many deliveries that failed at once, by up to
// a tenth of the wait, never beyond it: the schedule's bounds hold.
func jitter(d time.Duration) time.Duration {
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}

func deliveryError(res WebhookResult, err error) string {
	var msg string
	if err != nil {
		msg = err.Error()
	} else {
		msg = fmt.Sprintf("HTTP %d", res.Status)
		if b := strings.TrimSpace(res.Body); b != "" {
			msg += ": " + b
		}
	}
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// WebhookDeliveries lists the merchant's recent deliveries, newest first;
// with state "failed", its dead letters.
func (s *Service) WebhookDeliveries(ctx context.Context, merchantID, state string, limit int) ([]WebhookDelivery, error) {
	key := s.keys.webhookRecent(merchantID)
	switch state {
	case "":
	case DeliveryFailed:
		key = s.keys.webhookFailed(merchantID)
	default:
		return nil, newErr(KindInvalid, "invalid_state", "state is failed, or leave it out")
	}
	if limit <= 0 || limit > 200 {
		limit = 200
	}
	ids, err := s.rdb.ZRevRange(ctx, key, 0, int64(limit)-1).Result()
	if err != nil {
		return nil, err
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, s.keys.webhookDelivery(merchantID, id), "r")
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
	}
	out := make([]WebhookDelivery, 0, len(ids))
	for _, c := range cmds {
		var d delivery
		if c.Err() != nil || json.Unmarshal([]byte(c.Val()), &d) != nil {
			continue // expired meanwhile
		}
		if state != "" && d.State != state {
			continue
		}
		out = append(out, d.view())
	}
	return out, nil
}

// RetryWebhookDelivery sends a dead letter again, on a fresh schedule, with
// the same webhook-id.
func (s *Service) RetryWebhookDelivery(ctx context.Context, merchantID, deliveryID string) (*WebhookDelivery, error) {
	if !validID(deliveryID) {
		return nil, ErrNotFound
	}
	for range 5 {
		d, ver, err := s.readDelivery(ctx, merchantID, deliveryID)
		if err != nil {
			return nil, err
		}
		if d == nil {
			return nil, ErrNotFound
		}
		if d.State != DeliveryFailed {
			return nil, newErr(KindConflict, "not_failed", "only a failed delivery can be retried; this one is %s", d.State)
		}
		next := *d
		next.State, next.Attempts, next.NextAt, next.Updated = DeliveryPending, 0, 0, s.now().UnixMilli()
		if _, err := s.casDelivery(ctx, merchantID, ver, &next); errors.Is(err, errDeliveryConflict) {
			continue
		} else if err != nil {
			return nil, err
		}
		if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.webhookStream(),
			Values: []string{"c", merchantID, "h", deliveryID}}).Err(); err != nil {
			return nil, err
		}
		v := next.view()
		return &v, nil
	}
	return nil, newErr(KindConflict, "busy", "the delivery is changing; try again")
}

// WebhookTest is how a test delivery went.
type WebhookTest struct {
	OK     bool   `json:"ok"`
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	TookMS int64  `json:"took_ms"`
}

// TestWebhook posts a webhook.test event to one endpoint at once, signed
// like every delivery, and says how it went; it is not retried.
func (s *Service) TestWebhook(ctx context.Context, merchantID, endpointID string) (*WebhookTest, error) {
	if s.hooks == nil {
		return nil, newErr(KindUnavailable, "unavailable", "webhooks are not available on this server")
	}
	m, err := s.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	ep := m.webhook(endpointID)
	if ep == nil {
		return nil, newErr(KindNotFound, "not_found", "no endpoint %s", endpointID)
	}
	now, began := s.now(), time.Now()
	body, _ := json.Marshal(map[string]any{"type": "webhook.test", "timestamp": Time{Time: now},
		"data": map[string]any{"endpoint_id": ep.ID, "merchant_id": merchantID}})
	actx, cancel := context.WithTimeout(ctx, s.hooks.opts.Timeout)
	defer cancel()
	res, err := s.hooks.send.SendWebhook(actx, WebhookRequest{URL: ep.URL, ID: newID("msg", 12), Timestamp: now, Body: body,
		Secrets: ep.secrets(now)})
	t := &WebhookTest{Status: res.Status, TookMS: time.Since(began).Milliseconds()}
	t.OK = err == nil && res.Status >= 200 && res.Status < 300
	if !t.OK {
		t.Error = deliveryError(res, err)
	}
	return t, nil
}

// webhook is the merchant's endpoint with id, nil if none.
func (m *Merchant) webhook(id string) *webhookEndpoint {
	for i := range m.webhooks {
		if m.webhooks[i].ID == id {
			return &m.webhooks[i]
		}
	}
	return nil
}
