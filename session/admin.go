package session

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"
)

// CreateMerchant adds a shop. widgetKey may be given (the demo's "demo");
// otherwise one is made.
func (s *Service) CreateMerchant(ctx context.Context, name string, origins []string, widgetKey string) (*Merchant, error) {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < 1 || n > 200 {
		return nil, newErr(KindInvalid, "invalid_name", "name must be 1 to 200 characters")
	}
	set := DefaultSettings()
	set.AllowedOrigins = append([]string{}, origins...)
	if err := set.Validate(); err != nil {
		return nil, err
	}
	if widgetKey == "" {
		widgetKey = newID("wk", 15)
	}
	if !validID(widgetKey) {
		return nil, newErr(KindInvalid, "invalid_widget_key", "widget key %q has characters it cannot have", widgetKey)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	id := newID("mer", 10)
	ok, err := s.rdb.SetNX(ctx, s.keys.widgetKey(widgetKey), id, 0).Result()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, newErr(KindConflict, "widget_key_taken", "another merchant has this widget key")
	}
	setJSON, _ := json.Marshal(set)
	pipe := s.rdb.Pipeline()
	pipe.HSet(ctx, s.keys.merchantConfig(id),
		cName, name, cWidgetKey, widgetKey, cSecret, base64.RawURLEncoding.EncodeToString(secret),
		cSettings, setJSON, cCreated, s.now().UnixMilli())
	pipe.SAdd(ctx, s.keys.merchants(), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	return s.Merchant(ctx, id)
}

//go:embed scripts/config.lua
var configSource string

// configArgs and configReply are config.lua's layout.
type configArgs struct {
	Cfg          string `lua:"cfg,key"`
	Field        string `lua:"field"`
	Value        string `lua:"value"`
	VersionField string `lua:"version_field"`
	Expect       string `lua:"expect"` // the version the write builds on ("" any)
	Control      string `lua:"control"`
	Merchant     string `lua:"merchant"`
}

type configReply struct {
	Code    string `lua:"code"` // ok, stale
	Version int64  `lua:"version"`
}

// UpdateSettings changes a merchant's settings: edit is applied to the
// current ones, read afresh, and the result stored only if nobody stored
// others meanwhile (then edit is applied again to theirs). With version
// other than 0 the edit must build on that version: an admin's form that
// another admin saved over since it was loaded is refused as stale (409),
// not silently undone. A helpdesk method needs its helpdesk connected first.
func (s *Service) UpdateSettings(ctx context.Context, merchantID string, version int64, edit func(*Settings)) (*Settings, error) {
	for try := range 20 {
		if try > 0 {
			// Admins rarely save at once; when they do, not in lockstep.
			time.Sleep(time.Duration(mrand.IntN(4*try)+1) * time.Millisecond)
		}
		m, err := s.loadMerchant(ctx, merchantID)
		if err != nil {
			return nil, err
		}
		if version != 0 && m.Settings.Version != version {
			return nil, newErr(KindConflict, "stale_settings", "the settings were changed since version %d (now %d); reload them and try again", version, m.Settings.Version)
		}
		set := m.Settings
		set.AllowedOrigins = append([]string{}, set.AllowedOrigins...)
		edit(&set)
		if err := set.Validate(); err != nil {
			return nil, err
		}
		if !m.Integrations.Connected(set.Handoff.Method) {
			return nil, &Error{Kind: KindRefused, Code: "integration_required",
				Message: "connect " + string(set.Handoff.Method) + " under integrations before choosing it as the handoff method"}
		}
		if set.Handoff.Method != MethodMessage {
			// Kept so switching back restores it, but only meaningful for message.
			set.Handoff.Message = strings.TrimSpace(set.Handoff.Message)
		}
		set.Version = 0
		b, _ := json.Marshal(set)
		r, err := s.configScript.run(ctx, s.rdb, &configArgs{Cfg: s.keys.merchantConfig(merchantID), Field: cSettings,
			Value: string(b), VersionField: cSettingsVer, Expect: itoa(m.Settings.Version), Control: s.keys.control(), Merchant: merchantID})
		if err != nil {
			return nil, err
		}
		s.cfg.invalidate(merchantID)
		if r.Code == "stale" {
			continue // another write landed between the read and ours: edit theirs
		}
		set.Version = r.Version
		return &set, nil
	}
	return nil, newErr(KindConflict, "busy", "the settings are changing; try again")
}

// SetOfficeHours replaces a merchant's office hours.
func (s *Service) SetOfficeHours(ctx context.Context, merchantID string, h OfficeHours) (*OfficeHours, error) {
	if _, err := h.Compile(); err != nil {
		return nil, err
	}
	if _, err := s.Merchant(ctx, merchantID); err != nil {
		return nil, err
	}
	n := h.Normalize()
	b, _ := json.Marshal(n)
	if err := s.writeConfig(ctx, merchantID, cHours, b); err != nil {
		return nil, err
	}
	return &n, nil
}

// SetKnowledge replaces what the built-in assistant knows. Entries without
// an id get one.
func (s *Service) SetKnowledge(ctx context.Context, merchantID string, entries []KnowledgeEntry) ([]KnowledgeEntry, error) {
	if len(entries) > MaxKnowledgeEntries {
		return nil, newErr(KindInvalid, "invalid_knowledge", "at most %d entries", MaxKnowledgeEntries)
	}
	if _, err := s.Merchant(ctx, merchantID); err != nil {
		return nil, err
	}
	out, err := cleanKnowledge(entries)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(out)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.keys.merchantConfig(merchantID), cKnowledge, b)
	pipe.HIncrBy(ctx, s.keys.merchantConfig(merchantID), cKnowledgeVer, 1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	if err := s.writeConfig(ctx, merchantID); err != nil {
		return nil, err
	}
	return out, nil
}

// cleanKnowledge trims entries and checks them against the limits; entries
// without an id get one. The error names the first entry at fault.
func cleanKnowledge(entries []KnowledgeEntry) ([]KnowledgeEntry, error) {
	seen := map[string]bool{}
	out := make([]KnowledgeEntry, len(entries))
	for i, e := range entries {
		e.Question = strings.TrimSpace(e.Question)
		e.Answer = strings.TrimSpace(e.Answer)
		switch {
		case e.Question == "" || e.Answer == "":
			return nil, newErr(KindInvalid, "invalid_knowledge", "entries[%d] needs a question and an answer", i)
		case utf8.RuneCountInString(e.Question) > maxQuestionRunes:
			return nil, newErr(KindInvalid, "invalid_knowledge", "entries[%d].question is longer than %d characters", i, maxQuestionRunes)
		case utf8.RuneCountInString(e.Answer) > maxAnswerRunes:
			return nil, newErr(KindInvalid, "invalid_knowledge", "entries[%d].answer is longer than %d characters", i, maxAnswerRunes)
		}
		ph, err := cleanPhrasings(i, e)
		if err != nil {
			return nil, err
		}
		e.Phrasings = ph
		if e.ID == "" {
			e.ID = newID("k", 8)
		}
		if !validID(e.ID) || seen[e.ID] {
			return nil, newErr(KindInvalid, "invalid_knowledge", "entries[%d].id %q is invalid or repeated", i, e.ID)
		}
		seen[e.ID] = true
		out[i] = e
	}
	return out, nil
}

// cleanPhrasings trims an entry's phrasings and checks their limits; the
// error names the entry (index, and id when given) and the limit.
func cleanPhrasings(i int, e KnowledgeEntry) ([]string, error) {
	name := fmt.Sprintf("entries[%d]", i)
	if e.ID != "" {
		name += fmt.Sprintf(" (id %q)", e.ID)
	}
	if len(e.Phrasings) > MaxPhrasings {
		return nil, newErr(KindInvalid, "invalid_knowledge", "%s has %d phrasings; at most %d per entry", name, len(e.Phrasings), MaxPhrasings)
	}
	out := make([]string, len(e.Phrasings))
	for j, p := range e.Phrasings {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
			return nil, newErr(KindInvalid, "invalid_knowledge", "%s.phrasings[%d] is blank; remove it or write the phrasing", name, j)
		case utf8.RuneCountInString(p) > maxQuestionRunes:
			return nil, newErr(KindInvalid, "invalid_knowledge", "%s.phrasings[%d] is longer than %d characters", name, j, maxQuestionRunes)
		}
		out[j] = p
	}
	return out, nil
}

// maxSecretGrace bounds how long a replaced identity secret keeps working.
const maxSecretGrace = 30 * 24 * time.Hour

// RotateIdentitySecret gives a merchant a new identity secret; the one it
// replaces still verifies visitors' identities for grace (0: not at all),
// so the shop can move its sign-in code over without signing anyone out.
func (s *Service) RotateIdentitySecret(ctx context.Context, merchantID string, grace time.Duration) (*Merchant, error) {
	if grace < 0 || grace > maxSecretGrace {
		return nil, newErr(KindInvalid, "invalid_grace", "the grace period must be 0 to %d days", int(maxSecretGrace.Hours()/24))
	}
	m, err := s.loadMerchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	until := ""
	if grace > 0 {
		until = itoa(s.now().Add(grace).UnixMilli())
	}
	if err := s.writeConfig(ctx, merchantID, cSecret, base64.RawURLEncoding.EncodeToString(secret),
		cSecretPrev, m.IdentitySecret, cSecretUntil, until); err != nil {
		return nil, err
	}
	return s.loadMerchant(ctx, merchantID)
}
