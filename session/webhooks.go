package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhooks tell a merchant's own systems what happens in their
// conversations, signed as the Standard Webhooks specification says
// (webhook-id, webhook-timestamp, webhook-signature "v1,BASE64" of an
// HMAC-SHA256 with a whsec_ secret). The endpoints live in the merchant's
// configuration, so every node has them cached with the rest of it and an
// event costs no read; deliveries go through a jobQueue like tickets (see
// webhook_delivery.go).

// The events an endpoint may subscribe to.
const (
	HookStarted  = "conversation.started"
	HookHandoff  = "conversation.handoff"
	HookAssigned = "conversation.assigned"
	HookClosed   = "conversation.closed"
	HookTicketed = "conversation.ticketed"
	HookCSAT     = "csat.submitted"
)

// WebhookEvents lists every event, in the contract's order.
func WebhookEvents() []string {
	return []string{HookStarted, HookHandoff, HookAssigned, HookClosed, HookTicketed, HookCSAT}
}

// Limits on a merchant's endpoints.
const (
	maxWebhookEndpoints = 10
	maxWebhookURL       = 2048
	// webhookSecretGrace is how long a replaced secret still signs, beside
	// the new one, so a receiver can switch without missing a delivery.
	webhookSecretGrace = 24 * time.Hour
)

// WebhookEndpoint is one endpoint as admins see it. Secret is set in the
// answer that created or replaced it, and in the first listing after that:
// the contract has GET show it once, on creation, and a client may read it
// from either.
type WebhookEndpoint struct {
	ID                  string   `json:"id"`
	URL                 string   `json:"url"`
	Events              []string `json:"events"`
	Secret              string   `json:"secret,omitempty"`
	PreviousSecretUntil Time     `json:"previous_secret_until"` // while the replaced secret still signs
	CreatedAt           Time     `json:"created_at"`
}

// webhookEndpoint is an endpoint as stored; its secrets are stored sealed
// (seal.go), for this merchant and endpoint only, and opened as the
// merchant is loaded.
type webhookEndpoint struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"`
	Events     []string `json:"events"`
	Sealed     string   `json:"sealed"`
	PrevSealed string   `json:"prev_sealed,omitempty"`
	PrevUntil  int64    `json:"prev_until,omitempty"` // ms
	Created    int64    `json:"created"`
	Unseen     bool     `json:"unseen,omitempty"` // its secret is not listed yet (see WebhookEndpoint)

	Secret   string `json:"-"`
	Previous string `json:"-"`
}

func webhookPlace(merchantID, endpointID string) string {
	return "webhook|" + merchantID + "|" + endpointID
}

// openWebhooks opens the endpoints' secrets. One that no longer opens (a
// key Baton no longer has) stays empty: its deliveries fail, saying so,
// until an admin gives it a new secret.
func (s *Service) openWebhooks(m *Merchant) {
	for i := range m.webhooks {
		ep := &m.webhooks[i]
		place := webhookPlace(m.ID, ep.ID)
		if b, ok := s.hdauth.seal.open(ep.Sealed, place); ok {
			ep.Secret = string(b)
		}
		if b, ok := s.hdauth.seal.open(ep.PrevSealed, place); ok && ep.PrevSealed != "" {
			ep.Previous = string(b)
		}
	}
}

func (e *webhookEndpoint) wants(event string) bool { return slices.Contains(e.Events, event) }

// secrets are what a delivery at now is signed with: the current secret
// and, during its grace period, the one it replaced.
func (e *webhookEndpoint) secrets(now time.Time) []string {
	if e.Previous != "" && now.UnixMilli() < e.PrevUntil {
		return []string{e.Secret, e.Previous}
	}
	return []string{e.Secret}
}

func (e *webhookEndpoint) view(now time.Time) WebhookEndpoint {
	v := WebhookEndpoint{ID: e.ID, URL: e.URL, Events: append([]string{}, e.Events...),
		CreatedAt: Time{Time: time.UnixMilli(e.Created).UTC()}}
	if e.Previous != "" && now.UnixMilli() < e.PrevUntil {
		v.PreviousSecretUntil = Time{Time: time.UnixMilli(e.PrevUntil).UTC()}
	}
	return v
}

// webhooksFromConfig reads the endpoints stored in a merchant's
// configuration.
func webhooksFromConfig(m map[string]string) ([]webhookEndpoint, int64, error) {
	ver, _ := strconv.ParseInt(m[cWebhooksVer], 10, 64)
	if m[cWebhooks] == "" {
		return nil, ver, nil
	}
	var eps []webhookEndpoint
	if err := json.Unmarshal([]byte(m[cWebhooks]), &eps); err != nil {
		return nil, ver, err
	}
	return eps, ver, nil
}

// The merchant configuration's fields for webhooks.
const (
	cWebhooks    = "webhooks"
	cWebhooksVer = "webhooks_v"
)

// URLChecker says whether Baton may send to a URL: the adapter that sends
// knows the operator's allow-list and what the name resolves to.
type URLChecker interface {
	CheckURL(ctx context.Context, raw string) error
}

// Webhooks lists the merchant's endpoints, secrets left out but for those
// not listed since they were made: their first listing shows them, once.
func (s *Service) Webhooks(ctx context.Context, merchantID string) ([]WebhookEndpoint, error) {
	// Read fresh, not from the cache: a listing on another node just after
	// the PUT must see the secret it is to show.
	return s.changeWebhooks(ctx, merchantID, func(m *Merchant, now time.Time) ([]WebhookEndpoint, []webhookEndpoint, bool, error) {
		out := make([]WebhookEndpoint, 0, len(m.webhooks))
		next := append([]webhookEndpoint(nil), m.webhooks...)
		unseen := false
		for i := range next {
			out = append(out, next[i].view(now))
			if next[i].Unseen {
				out[i].Secret, next[i].Unseen, unseen = next[i].Secret, false, true
			}
		}
		return out, next, unseen, nil
	})
}

// changeWebhooks runs change on a fresh read of the merchant and, when it
// asks to write, stores the endpoints it returns if nobody changed them
// since the read (compare-and-set on their version), else reads again.
func (s *Service) changeWebhooks(ctx context.Context, merchantID string,
	change func(m *Merchant, now time.Time) (out []WebhookEndpoint, next []webhookEndpoint, write bool, err error)) ([]WebhookEndpoint, error) {
	for try := range 10 {
		if try > 0 {
			time.Sleep(time.Duration(try) * time.Millisecond)
		}
		m, err := s.loadMerchant(ctx, merchantID)
		if err != nil {
			return nil, err
		}
		out, next, write, err := change(m, s.now())
		if err != nil || !write {
			return out, err
		}
		b, _ := json.Marshal(next)
		r, err := s.configScript.run(ctx, s.rdb, &configArgs{Cfg: s.keys.merchantConfig(merchantID), Field: cWebhooks,
			Value: string(b), VersionField: cWebhooksVer, Expect: itoa(m.webhooksVer), Control: s.keys.control(), Merchant: merchantID})
		if err != nil {
			return nil, err
		}
		s.cfg.invalidate(merchantID)
		if r.Code != "stale" {
			return out, nil
		}
	}
	return nil, newErr(KindConflict, "busy", "the webhooks are changing; try again")
}

// WebhookEndpointInput is one endpoint of a PUT: without ID it is new;
// with a Secret it gets that secret (a new one is made for a new endpoint
// without), the one it replaces signing beside it for a day.
type WebhookEndpointInput struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Secret string   `json:"secret"`
}

// SetWebhooks replaces the merchant's endpoints with in: listed ids are
// updated, new ones created, the rest removed (their pending deliveries
// are dropped). The answer shows the secret of each endpoint that got one.
func (s *Service) SetWebhooks(ctx context.Context, merchantID string, in []WebhookEndpointInput) ([]WebhookEndpoint, error) {
	if len(in) > maxWebhookEndpoints {
		return nil, newErr(KindInvalid, "too_many_endpoints", "at most %d endpoints", maxWebhookEndpoints)
	}
	for i, e := range in {
		if err := validWebhookInput(e); err != nil {
			return nil, err
		}
		if s.hooks == nil {
			return nil, newErr(KindUnavailable, "unavailable", "webhooks are not available on this server")
		}
		if err := s.hooks.send.CheckURL(ctx, e.URL); err != nil {
			return nil, &Error{Kind: KindRefused, Code: "url_not_allowed",
				Message: "endpoint " + itoa(int64(i)) + ": " + err.Error()}
		}
	}
	return s.changeWebhooks(ctx, merchantID, func(m *Merchant, now time.Time) ([]WebhookEndpoint, []webhookEndpoint, bool, error) {
		old := map[string]*webhookEndpoint{}
		for i := range m.webhooks {
			old[m.webhooks[i].ID] = &m.webhooks[i]
		}
		next := make([]webhookEndpoint, 0, len(in))
		shown := map[string]string{}
		for _, e := range in {
			ep := webhookEndpoint{ID: e.ID, URL: e.URL, Events: dedupe(e.Events), Secret: e.Secret, Created: now.UnixMilli()}
			if e.ID == "" {
				ep.ID = newID("we", 10)
				if ep.Secret == "" {
					ep.Secret = newWebhookSecret()
				}
				shown[ep.ID] = ep.Secret
				ep.Unseen = true
			} else {
				was, ok := old[e.ID]
				if !ok {
					return nil, nil, false, newErr(KindNotFound, "not_found", "no endpoint %s", e.ID)
				}
				ep.Created, ep.Previous, ep.PrevUntil, ep.Unseen = was.Created, was.Previous, was.PrevUntil, was.Unseen
				switch {
				case e.Secret == "" || e.Secret == was.Secret:
					ep.Secret = was.Secret
				default: // a new secret: the old one signs beside it for a while
					ep.Previous, ep.PrevUntil = was.Secret, now.Add(webhookSecretGrace).UnixMilli()
					shown[ep.ID] = ep.Secret
					ep.Unseen = true
				}
			}
			next = append(next, ep)
		}
		for i := range next {
			ep := &next[i]
			ep.Sealed = s.hdauth.seal.seal([]byte(ep.Secret), webhookPlace(merchantID, ep.ID))
			ep.PrevSealed = ""
			if ep.Previous != "" {
				ep.PrevSealed = s.hdauth.seal.seal([]byte(ep.Previous), webhookPlace(merchantID, ep.ID))
			}
		}
		out := make([]WebhookEndpoint, len(next))
		for i := range next {
			out[i] = next[i].view(now)
			out[i].Secret = shown[next[i].ID]
		}
		return out, next, true, nil
	})
}

// RotateWebhookSecret gives an endpoint a new secret, shown in the answer;
// the old one signs beside it for a day.
func (s *Service) RotateWebhookSecret(ctx context.Context, merchantID, endpointID string) (*WebhookEndpoint, error) {
	m, err := s.loadMerchant(ctx, merchantID) // not Webhooks: that would count as the listing
	if err != nil {
		return nil, err
	}
	in := make([]WebhookEndpointInput, 0, len(m.webhooks))
	found := false
	secret := newWebhookSecret()
	for _, e := range m.webhooks {
		ei := WebhookEndpointInput{ID: e.ID, URL: e.URL, Events: e.Events}
		if e.ID == endpointID {
			ei.Secret, found = secret, true
		}
		in = append(in, ei)
	}
	if !found {
		return nil, newErr(KindNotFound, "not_found", "no endpoint %s", endpointID)
	}
	out, err := s.SetWebhooks(ctx, merchantID, in)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].ID == endpointID {
			return &out[i], nil
		}
	}
	return nil, ErrNotFound
}

func validWebhookInput(e WebhookEndpointInput) error {
	if e.ID != "" && !validID(e.ID) {
		return newErr(KindNotFound, "not_found", "no endpoint %s", e.ID)
	}
	if len(e.URL) > maxWebhookURL {
		return newErr(KindInvalid, "invalid_url", "the url is over %d bytes", maxWebhookURL)
	}
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return newErr(KindInvalid, "invalid_url", "the url must be an absolute http(s) URL without credentials or fragment")
	}
	if len(e.Events) == 0 {
		return newErr(KindInvalid, "invalid_events", "give at least one event: %s", strings.Join(WebhookEvents(), ", "))
	}
	for _, ev := range e.Events {
		if !slices.Contains(WebhookEvents(), ev) {
			return newErr(KindInvalid, "invalid_events", "unknown event %q: the events are %s", ev, strings.Join(WebhookEvents(), ", "))
		}
	}
	if e.Secret != "" && !validWebhookSecret(e.Secret) {
		return newErr(KindInvalid, "invalid_secret", "a secret is whsec_ and the base64 of 24 to 64 random bytes")
	}
	return nil
}

func newWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func validWebhookSecret(s string) bool {
	raw, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	return err == nil && len(b) >= 24 && len(b) <= 64
}

func dedupe(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// stepHooks are the webhook events a step that went through raises: the
// conversation's start (its first step stored it) and its rule's event,
// each with the conversation as it now is. They ride on the step's own
// closing round trip. Nothing is read unless the merchant has endpoints
// (its configuration is cached).
func (s *Service) stepHooks(ctx context.Context, op applyOp, r rule, res *applyResult) (*Merchant, []hookEvent) {
	if op.merchant == "" || (r.hook == "" && !res.created) {
		return nil, nil
	}
	m, err := s.Merchant(ctx, op.merchant)
	if err != nil || len(m.webhooks) == 0 {
		return nil, nil
	}
	c, ok := conversationFromMeta(op.convID, res.meta)
	if !ok {
		return nil, nil
	}
	data := map[string]any{"conversation": c}
	var out []hookEvent
	if res.created {
		out = append(out, hookEvent{merchant: m.ID, typ: HookStarted, data: data})
	}
	if r.hook != "" {
		out = append(out, hookEvent{merchant: m.ID, typ: r.hook, data: data})
	}
	return m, out
}

// emitTicketed raises conversation.ticketed once the helpdesk made the
// ticket, with the conversation and where the ticket is.
func (s *Service) emitTicketed(ctx context.Context, merchantID, convID string) {
	m, err := s.Merchant(ctx, merchantID)
	if err != nil || !slices.ContainsFunc(m.webhooks, func(e webhookEndpoint) bool { return e.wants(HookTicketed) }) {
		return
	}
	c, err := s.conversationOf(ctx, merchantID, convID)
	if err != nil {
		s.log.WarnContext(ctx, "reading a ticketed conversation for its webhook", "conversation", convID, "err", err)
		return
	}
	s.emit(ctx, merchantID, HookTicketed, map[string]any{"conversation": c})
}
