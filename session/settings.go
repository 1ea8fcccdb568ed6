package session

import (
	"encoding/json"
	"net/url"
	"strings"
	"unicode/utf8"
)

// HandoffMethod is what happens when the assistant cannot answer.
type HandoffMethod string

const (
	MethodInbox   HandoffMethod = "inbox"
	MethodZendesk HandoffMethod = "zendesk"
	MethodGorgias HandoffMethod = "gorgias"
	MethodMessage HandoffMethod = "message"
)

// Valid reports whether m is a known method.
func (m HandoffMethod) Valid() bool {
	switch m {
	case MethodInbox, MethodZendesk, MethodGorgias, MethodMessage:
		return true
	}
	return false
}

// OffersPerson reports whether the method offers the visitor a person (all
// but the custom message do).
func (m HandoffMethod) OffersPerson() bool { return m != MethodMessage }

// Handoff is the handoff part of Settings.
type Handoff struct {
	Method  HandoffMethod `json:"method"`
	Message string        `json:"message,omitempty"`
}

// Settings are what a merchant's admins set for the assistant and the inbox.
type Settings struct {
	Handoff        Handoff  `json:"handoff"`
	AutoResponse   string   `json:"auto_response"`
	AwayMessage    string   `json:"away_message"`
	AllowedOrigins []string `json:"allowed_origins"`
	Locale         string   `json:"locale"`
	// EmailFrom is the address emails to visitors come from; "" for the
	// deployment's.
	EmailFrom string `json:"email_from,omitempty"`
	// Version counts the merchant's saved settings: a write may say which
	// version it builds on.
	Version int64 `json:"version,omitempty"`
}

// DefaultSettings is what a new merchant starts with.
func DefaultSettings() Settings {
	return Settings{
		Handoff:        Handoff{Method: MethodInbox},
		AutoResponse:   "",
		AwayMessage:    "",
		AllowedOrigins: []string{},
		Locale:         "en",
	}
}

// Limits on merchant-written texts.
const (
	maxMerchantText = 4000
	maxOrigins      = 50
)

// Validate checks s, returning a KindInvalid error that names the field.
// Whether a helpdesk method is allowed depends on its integration and is
// checked by the Service.
func (s *Settings) Validate() error {
	if !s.Handoff.Method.Valid() {
		return newErr(KindInvalid, "invalid_settings", "handoff.method must be inbox, zendesk, gorgias or message")
	}
	if s.Handoff.Method == MethodMessage && strings.TrimSpace(s.Handoff.Message) == "" {
		return newErr(KindInvalid, "invalid_settings", "handoff.message is required when the method is message")
	}
	for name, t := range map[string]string{"handoff.message": s.Handoff.Message,
		"auto_response": s.AutoResponse, "away_message": s.AwayMessage} {
		if utf8.RuneCountInString(t) > maxMerchantText {
			return newErr(KindInvalid, "invalid_settings", "%s is longer than %d characters", name, maxMerchantText)
		}
	}
	if !SupportedLocale(s.Locale) {
		return newErr(KindInvalid, "invalid_settings", "locale must be one of %s", strings.Join(Locales(), ", "))
	}
	if s.EmailFrom = strings.TrimSpace(s.EmailFrom); s.EmailFrom != "" {
		if _, ok := ParseEmail(s.EmailFrom); !ok {
			return newErr(KindInvalid, "invalid_settings", "email_from %q is not an email address", s.EmailFrom)
		}
	}
	if len(s.AllowedOrigins) > maxOrigins {
		return newErr(KindInvalid, "invalid_settings", "at most %d allowed origins", maxOrigins)
	}
	if s.AllowedOrigins == nil {
		s.AllowedOrigins = []string{}
	}
	for i, o := range s.AllowedOrigins {
		n, ok := NormalizeOrigin(o)
		if !ok {
			return newErr(KindInvalid, "invalid_settings", "allowed_origins[%d] %q is not an origin like https://shop.example", i, o)
		}
		s.AllowedOrigins[i] = n
	}
	return nil
}

// NormalizeOrigin turns "https://Shop.Example:443/" into "https://shop.example"
// and reports whether o is an http(s) origin at all.
func NormalizeOrigin(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, true
}

// OriginAllowed reports whether a browser at origin may open the widget's
// socket: any origin when the merchant lists none.
func (s *Settings) OriginAllowed(origin string) bool {
	if len(s.AllowedOrigins) == 0 {
		return true
	}
	n, ok := NormalizeOrigin(origin)
	if !ok {
		return false
	}
	for _, a := range s.AllowedOrigins {
		if a == n {
			return true
		}
	}
	return false
}

// KnowledgeEntry is one thing the built-in assistant knows. Phrasings are
// other ways visitors ask the question; asking any of them answers with
// this entry.
type KnowledgeEntry struct {
	ID        string   `json:"id"`
	Question  string   `json:"question"`
	Phrasings []string `json:"phrasings"`
	Answer    string   `json:"answer"`
}

// MarshalJSON writes phrasings as [] when there are none, so every entry
// has the same shape (entries stored before phrasings existed have nil).
func (e KnowledgeEntry) MarshalJSON() ([]byte, error) {
	type plain KnowledgeEntry
	p := plain(e)
	if p.Phrasings == nil {
		p.Phrasings = []string{}
	}
	return json.Marshal(p)
}

// Knowledge limits.
const (
	MaxKnowledgeEntries = 2000
	MaxPhrasings        = 50
	maxQuestionRunes    = 1000
	maxAnswerRunes      = 4000
)
