package session

import (
	"encoding/json"
	"time"
	"unicode"
	"unicode/utf8"
)

// Role says who wrote a transcript entry.
type Role string

const (
	RoleVisitor   Role = "visitor"
	RoleAssistant Role = "assistant"
	RoleAgent     Role = "agent"
	RoleSystem    Role = "system"
)

// Limits on what a message may hold; the contract fixes them.
const (
	MaxTextRunes     = 4000
	MaxClientIDRunes = 64
)

// TimeFormat is the contract's timestamp: RFC 3339, milliseconds, UTC.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Time marshals as the contract's timestamp.
type Time struct{ time.Time }

func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(TimeFormat) + `"`), nil
}

func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	p, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = p
	return nil
}

// FormatTime renders t as the contract's timestamp.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Message is one transcript entry, exactly as sockets and REST show it.
type Message struct {
	Seq      int64  `json:"seq"`
	ID       string `json:"id"`
	ClientID string `json:"client_id,omitempty"`
	Role     Role   `json:"role"`
	Author   string `json:"author,omitempty"`
	AuthorID string `json:"author_id,omitempty"`
	Text     string `json:"text"`
	TS       Time   `json:"ts"`
	// An assistant's answer: the entries it came from, and the draft that
	// streamed it.
	Sources []string `json:"sources,omitempty"`
	DraftID string   `json:"draft_id,omitempty"`
}

// entryTail is Message without its seq: the Lua script that assigns the seq
// prepends `{"seq":N,` to these bytes, so the stored entry is encoded once
// and never re-encoded on its way to sockets.
type entryTail struct {
	ID       string   `json:"id"`
	ClientID string   `json:"client_id,omitempty"`
	Role     Role     `json:"role"`
	Author   string   `json:"author,omitempty"`
	AuthorID string   `json:"author_id,omitempty"`
	Text     string   `json:"text"`
	TS       Time     `json:"ts"`
	Sources  []string `json:"sources,omitempty"`
	DraftID  string   `json:"draft_id,omitempty"`
}

// encode is what encoding/json makes of e without its opening brace, byte
// for byte (FuzzEntryEncoding holds it to that), written by hand: it runs
// for every message, and reflection made it 6 % of the visitors' node's
// CPU at 10,000 messages per second.
func (e entryTail) encode() string {
	n := 64 + len(e.ID) + len(e.ClientID) + len(e.Author) + len(e.AuthorID) + len(e.Text) + len(e.DraftID)
	for _, src := range e.Sources {
		n += len(src) + 3
	}
	b := make([]byte, 0, n+n/8)
	b = append(b, `"id":`...)
	b = appendJSONString(b, e.ID)
	if e.ClientID != "" {
		b = append(b, `,"client_id":`...)
		b = appendJSONString(b, e.ClientID)
	}
	b = append(b, `,"role":`...)
	b = appendJSONString(b, string(e.Role))
	if e.Author != "" {
		b = append(b, `,"author":`...)
		b = appendJSONString(b, e.Author)
	}
	if e.AuthorID != "" {
		b = append(b, `,"author_id":`...)
		b = appendJSONString(b, e.AuthorID)
	}
	b = append(b, `,"text":`...)
	b = appendJSONString(b, e.Text)
	b = append(b, `,"ts":`...)
	if e.TS.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = e.TS.UTC().AppendFormat(b, TimeFormat)
		b = append(b, '"')
	}
	if len(e.Sources) > 0 {
		b = append(b, `,"sources":[`...)
		for i, src := range e.Sources {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, src)
		}
		b = append(b, ']')
	}
	if e.DraftID != "" {
		b = append(b, `,"draft_id":`...)
		b = appendJSONString(b, e.DraftID)
	}
	return string(append(b, '}'))
}

// appendJSONString appends s as encoding/json writes a string: HTML's <, >
// and & escaped, invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// RawEntry is a stored transcript entry: its seq and its JSON encoding.
type RawEntry struct {
	Seq  int64
	JSON []byte
}

// Decode parses the entry.
func (r RawEntry) Decode() (Message, error) {
	var m Message
	err := json.Unmarshal(r.JSON, &m)
	return m, err
}

// ValidateText checks a message body against the contract's limits.
func ValidateText(text string) error {
	if !utf8.ValidString(text) {
		return newErr(KindInvalid, "invalid_message", "text must be valid UTF-8")
	}
	n := utf8.RuneCountInString(text)
	if n == 0 || isBlank(text) {
		return newErr(KindInvalid, "invalid_message", "text must not be empty")
	}
	if n > MaxTextRunes {
		return newErr(KindTooLarge, "text_too_long", "text is %d characters; the limit is %d", n, MaxTextRunes)
	}
	return nil
}

// ValidateClientID checks a client_id against the contract's limits.
func ValidateClientID(id string) error {
	n := utf8.RuneCountInString(id)
	if n < 1 || n > MaxClientIDRunes {
		return newErr(KindInvalid, "invalid_message", "client_id must be 1 to %d characters", MaxClientIDRunes)
	}
	return nil
}

// isBlank reports whether s has nothing to read: only white space (in any
// script) and invisible formatting characters.
func isBlank(s string) bool {
	for _, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		switch r {
		case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u180e', '\u00ad':
		default:
			return false
		}
	}
	return true
}
