package session

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Merchant is a shop using Baton, with everything its conversations need.
// Values handed out are shared snapshots: never modify one.
type Merchant struct {
	ID             string
	Name           string
	WidgetKey      string
	IdentitySecret string
	// PreviousIdentitySecret still verifies visitors' identities until
	// PreviousSecretUntil, while a shop moves to the new one.
	PreviousIdentitySecret string
	PreviousSecretUntil    time.Time
	Settings               Settings
	Hours                  OfficeHours
	Schedule               *Schedule
	Knowledge              *KnowledgeSet
	Assistant              AssistantSettings
	Routing                Routing
	Integrations           Integrations
	CreatedAt              time.Time

	webhooks    []webhookEndpoint
	webhooksVer int64
}

// KnowledgeSet is a merchant's knowledge at one version. Assistants may cache
// what they derive from it by pointer or by (merchant, version).
type KnowledgeSet struct {
	MerchantID string
	Version    int64
	Entries    []KnowledgeEntry
}

// Integrations holds the helpdesks a merchant has connected.
type Integrations struct {
	Zendesk *HelpdeskAccount `json:"zendesk,omitempty"`
	Gorgias *HelpdeskAccount `json:"gorgias,omitempty"`
}

// HelpdeskAccount is a verified helpdesk connection. Its secret never
// leaves the server and is sealed at rest (see seal.go); so are the OAuth
// tokens, which live in a record of their own (helpdesk_auth.go).
type HelpdeskAccount struct {
	Site string `json:"site"` // Zendesk subdomain or Gorgias domain
	// Auth is how Baton signs in: "" with an API token (Zendesk) or key
	// (Gorgias) and Email; AuthClientCredentials or AuthCode with an OAuth
	// client (Zendesk only) and bearer tokens.
	Auth  string `json:"auth,omitempty"`
	Email string `json:"email"` // for OAuth, the user the token acts as
	// ClientID is the OAuth client's identifier.
	ClientID string `json:"client_id,omitempty"`
	// Secret is the API token or key, or the OAuth client's secret ("" for
	// a public client or the operator's own). In memory only: it is stored
	// sealed.
	Secret     string `json:"-"`
	BaseURL    string `json:"base_url,omitempty"`
	VerifiedAt Time   `json:"verified_at"`

	// Stored, not shown: the sealed secret and what the mask shows of it.
	SealedSecret string `json:"secret_sealed,omitempty"`
	SecretHint   string `json:"secret_hint,omitempty"`
	// LegacySecret is a secret stored in clear before secrets were sealed;
	// it is sealed when the integration is next written.
	LegacySecret string `json:"secret,omitempty"`

	// Token is the first token pair of an OAuth connection, stored with
	// the account by SetIntegration. AccessToken is the bearer token of
	// one ticket attempt. Neither is part of the account's record.
	Token       *OAuthToken `json:"-"`
	AccessToken string      `json:"-"`
	// Unreadable: the stored secret could not be opened (BATON_SECRET
	// changed without BATON_SECRET_PREVIOUS): the integration needs
	// reconnecting.
	Unreadable bool `json:"-"`
}

// Connected reports whether the method's helpdesk (if it needs one) is
// connected.
func (in Integrations) Connected(m HandoffMethod) bool {
	switch m {
	case MethodZendesk:
		return in.Zendesk != nil
	case MethodGorgias:
		return in.Gorgias != nil
	}
	return true
}

// Merchant config hash fields.
const (
	cName         = "name"
	cWidgetKey    = "wk"
	cSecret       = "secret"
	cSecretPrev   = "secret_prev"
	cSecretUntil  = "secret_prev_until"
	cSettings     = "settings"
	cSettingsVer  = "settings_v"
	cHours        = "hours"
	cKnowledge    = "knowledge"
	cKnowledgeVer = "kver"
	cAssistant    = "assistant"
	cRouting      = "routing"
	// cIntegrationPrefix + method: one field per helpdesk, so connecting
	// one never overwrites another.
	cIntegrationPrefix = "int_"
	cCreated           = "created"
)

func merchantFromConfig(id string, m map[string]string) (*Merchant, error) {
	if m[cName] == "" && m[cWidgetKey] == "" {
		return nil, &Error{Kind: KindNotFound, Code: "not_found", Message: "no such merchant"}
	}
	mer := &Merchant{ID: id, Name: m[cName], WidgetKey: m[cWidgetKey], IdentitySecret: m[cSecret],
		Settings: DefaultSettings(), Hours: AlwaysOpen()}
	if until := msTime(m[cSecretUntil]); !until.IsZero() && m[cSecretPrev] != "" {
		mer.PreviousIdentitySecret, mer.PreviousSecretUntil = m[cSecretPrev], until.Time
	}
	if v := m[cSettings]; v != "" {
		if err := json.Unmarshal([]byte(v), &mer.Settings); err != nil {
			return nil, err
		}
	}
	mer.Settings.Version, _ = strconv.ParseInt(m[cSettingsVer], 10, 64)
	if mer.Settings.AllowedOrigins == nil {
		mer.Settings.AllowedOrigins = []string{}
	}
	if v := m[cHours]; v != "" {
		// Into a fresh value: decoding into AlwaysOpen() would merge the
		// stored week into the always-open one and reopen closed days.
		var h OfficeHours
		if err := json.Unmarshal([]byte(v), &h); err != nil {
			return nil, err
		}
		mer.Hours = h.Normalize()
	}
	sched, err := mer.Hours.Compile()
	if err != nil {
		// Stored hours were valid when written; a zone removed from tzdata
		// since must not take the merchant down.
		sched, _ = AlwaysOpen().Compile()
	}
	mer.Schedule = sched
	ks := &KnowledgeSet{MerchantID: id, Entries: []KnowledgeEntry{}}
	ks.Version, _ = strconv.ParseInt(m[cKnowledgeVer], 10, 64)
	if v := m[cKnowledge]; v != "" {
		if err := json.Unmarshal([]byte(v), &ks.Entries); err != nil {
			return nil, err
		}
	}
	mer.Knowledge = ks
	mer.Routing = DefaultRouting()
	if v := m[cRouting]; v != "" {
		if err := json.Unmarshal([]byte(v), &mer.Routing); err != nil {
			return nil, err
		}
	}
	mer.Assistant = AssistantSettings{Mode: ModeBuiltin}
	if v := m[cAssistant]; v != "" {
		if err := json.Unmarshal([]byte(v), &mer.Assistant); err != nil {
			return nil, err
		}
	}
	for method, dst := range map[HandoffMethod]**HelpdeskAccount{MethodZendesk: &mer.Integrations.Zendesk, MethodGorgias: &mer.Integrations.Gorgias} {
		if v := m[cIntegrationPrefix+string(method)]; v != "" {
			var acc HelpdeskAccount
			if err := json.Unmarshal([]byte(v), &acc); err != nil {
				return nil, err
			}
			*dst = &acc
		}
	}
	if ms, err := strconv.ParseInt(m[cCreated], 10, 64); err == nil {
		mer.CreatedAt = time.UnixMilli(ms).UTC()
	}
	if mer.webhooks, mer.webhooksVer, err = webhooksFromConfig(m); err != nil {
		return nil, err
	}
	return mer, nil
}

// configCache keeps merchants in memory. Admin writes publish an
// invalidation on the control channel; the TTL bounds staleness should one be
// missed while the subscription was down. A read that began before an
// invalidation is not kept: it may have read what was just replaced.
type configCache struct {
	ttl   time.Duration
	mu    sync.Mutex
	byID  map[string]cachedMerchant
	byKey map[string]cachedKey
	gen   map[string]uint64 // bumped by each invalidation of a merchant
	epoch uint64            // bumped by invalidateAll
}

type cachedMerchant struct {
	m  *Merchant
	at time.Time
}

type cachedKey struct {
	id string
	at time.Time
}

func newConfigCache(ttl time.Duration) *configCache {
	return &configCache{ttl: ttl, byID: map[string]cachedMerchant{}, byKey: map[string]cachedKey{}, gen: map[string]uint64{}}
}

func (c *configCache) invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byID, id)
	c.gen[id]++
}

func (c *configCache) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byID = map[string]cachedMerchant{}
	c.epoch++
}

// stamp is what a read must still find when it wants to keep its result.
type stamp struct{ gen, epoch uint64 }

// lookup returns the cached merchant, or the stamp a fresh read must keep.
func (c *configCache) lookup(id string, now time.Time) (*Merchant, stamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok && now.Sub(e.at) < c.ttl {
		return e.m, stamp{}
	}
	return nil, stamp{gen: c.gen[id], epoch: c.epoch}
}

// keep caches m if no invalidation came since st was taken.
func (c *configCache) keep(id string, m *Merchant, st stamp, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen[id] != st.gen || c.epoch != st.epoch {
		return
	}
	if len(c.gen) > 4*len(c.byID)+1024 {
		// Counters of merchants no longer cached; any read that started
		// before this sees a changed epoch and keeps nothing.
		c.gen = map[string]uint64{}
		c.epoch++
		return
	}
	c.byID[id] = cachedMerchant{m: m, at: at}
}

// Merchant returns a merchant's current configuration.
func (s *Service) Merchant(ctx context.Context, id string) (*Merchant, error) {
	m, st := s.cfg.lookup(id, time.Now())
	if m != nil {
		return m, nil
	}
	m, err := s.loadMerchant(ctx, id)
	if err != nil {
		return nil, err
	}
	// Trusted from when the read finished: the TTL bounds how long a
	// missed invalidation can keep it.
	s.cfg.keep(id, m, st, time.Now())
	return m, nil
}

// loadMerchant reads a merchant from Redis, bypassing the cache: for writes
// that build on the current configuration.
func (s *Service) loadMerchant(ctx context.Context, id string) (*Merchant, error) {
	if id == "" || strings.ContainsAny(id, "{}") {
		return nil, &Error{Kind: KindNotFound, Code: "not_found", Message: "no such merchant"}
	}
	m, err := s.rdb.HGetAll(ctx, s.keys.merchantConfig(id)).Result()
	if err != nil {
		return nil, err
	}
	return s.openMerchant(id, m)
}

// openMerchant makes a merchant of its configuration hash, its sealed
// secrets opened.
func (s *Service) openMerchant(id string, config map[string]string) (*Merchant, error) {
	m, err := merchantFromConfig(id, config)
	if err != nil {
		return nil, err
	}
	s.openAccounts(m)
	s.openWebhooks(m)
	return m, nil
}

// merchantsOf is Merchant for many ids, for the passes that visit every
// merchant: the cached ones as they are, the others read in one pipeline.
// Merchants that cannot be read now are left out.
func (s *Service) merchantsOf(ctx context.Context, ids []string) []*Merchant {
	out := make([]*Merchant, 0, len(ids))
	type miss struct {
		id  string
		st  stamp
		cmd *redis.MapStringStringCmd
	}
	var misses []miss
	pipe := s.rdb.Pipeline()
	now := time.Now()
	for _, id := range ids {
		m, st := s.cfg.lookup(id, now)
		switch {
		case m != nil:
			out = append(out, m)
		case id != "" && !strings.ContainsAny(id, "{}"):
			misses = append(misses, miss{id: id, st: st, cmd: pipe.HGetAll(ctx, s.keys.merchantConfig(id))})
		}
	}
	if len(misses) == 0 {
		return out
	}
	_, _ = pipe.Exec(ctx) // each read's own error is checked below
	done := time.Now()
	for _, ms := range misses {
		if ms.cmd.Err() != nil {
			continue
		}
		m, err := s.openMerchant(ms.id, ms.cmd.Val())
		if err != nil {
			continue
		}
		s.cfg.keep(ms.id, m, ms.st, done)
		out = append(out, m)
	}
	return out
}

// MerchantByWidgetKey finds the merchant whose widget uses key.
func (s *Service) MerchantByWidgetKey(ctx context.Context, key string) (*Merchant, error) {
	notFound := &Error{Kind: KindNotFound, Code: "unknown_key", Message: "no merchant has this widget key"}
	if key == "" || len(key) > 128 {
		return nil, notFound
	}
	now := time.Now()
	s.cfg.mu.Lock()
	e, ok := s.cfg.byKey[key]
	s.cfg.mu.Unlock()
	if !ok || now.Sub(e.at) > s.cfg.ttl {
		id, err := s.rdb.Get(ctx, s.keys.widgetKey(key)).Result()
		if errors.Is(err, redis.Nil) {
			return nil, notFound
		}
		if err != nil {
			return nil, err
		}
		e = cachedKey{id: id, at: now}
		s.cfg.mu.Lock()
		s.cfg.byKey[key] = e
		s.cfg.mu.Unlock()
	}
	return s.Merchant(ctx, e.id)
}

// writeConfig stores merchant config fields and tells every node.
func (s *Service) writeConfig(ctx context.Context, id string, fields ...any) error {
	pipe := s.rdb.Pipeline()
	if len(fields) > 0 {
		pipe.HSet(ctx, s.keys.merchantConfig(id), fields...)
	}
	pipe.Publish(ctx, s.keys.control(), "x"+id)
	_, err := pipe.Exec(ctx)
	s.cfg.invalidate(id)
	return err
}
