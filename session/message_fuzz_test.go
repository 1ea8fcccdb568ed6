package session

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// byReflection is what entryTail.encode must equal: encoding/json's
// encoding without the opening brace.
func byReflection(t testing.TB, e entryTail) string {
	b, err := json.Marshal(e)
	require.NoError(t, err)
	return string(b[1:])
}

func TestEntryEncodingIsEncodingJSONs(t *testing.T) {
	ts := Time{time.Date(2026, 12, 2, 3, 4, 5, 678_900_000, time.FixedZone("x", 3600))}
	tests := []struct {
		name string
		e    entryTail
	}{
		{"a visitor's message", entryTail{ID: "m_abc", ClientID: "c-1", Role: RoleVisitor, Text: "Where is my order?", TS: ts}},
		{"an agent's, with author", entryTail{ID: "m_1", Role: RoleAgent, Author: "Ann", AuthorID: "agt_1", Text: "Hi", TS: ts}},
		{"an answer with sources and a draft", entryTail{ID: "m_2", Role: RoleAssistant, Text: "Yes.", TS: ts,
			Sources: []string{"k_1", "k_<2>"}, DraftID: "d_9"}},
		{"empty sources are left out", entryTail{ID: "m_3", Role: RoleSystem, Text: "", TS: ts, Sources: []string{}}},
		{"no time", entryTail{ID: "m_4", Role: RoleSystem, Text: "x"}},
		{"HTML", entryTail{ID: "m_5", Role: RoleVisitor, Text: `<script>alert("&")</script>`, TS: ts}},
		{"controls and escapes", entryTail{ID: "m_6", Role: RoleVisitor, Text: "a\x00b\x01\x1f\b\f\n\r\t\\\"\x7f", TS: ts}},
		{"separators", entryTail{ID: "m_7", Role: RoleVisitor, Text: "line\u2028para\u2029end", TS: ts}},
		{"invalid UTF-8", entryTail{ID: "m_8", Role: RoleVisitor, Text: "bad \xff\xfe and cut \xe2\x82", TS: ts}},
		{"wide runes", entryTail{ID: "m_9", Role: RoleVisitor, Text: "héllo wörld 你好 🎉", TS: ts}},
		{"long", entryTail{ID: "m_10", Role: RoleVisitor, Text: strings.Repeat("ab<", 1400), TS: ts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, byReflection(t, tt.e), tt.e.encode())
		})
	}
}

// FuzzEntryEncoding: for any strings, the hand-written encoding is
// encoding/json's, byte for byte.
func FuzzEntryEncoding(f *testing.F) {
	f.Add("m_1", "c-1", "visitor", "", "Where is my order?", "", int64(1764644645678))
	f.Add("m_2", "", "agent", "Ann <a&b>", "hi\u2028\n\x00", "k_1", int64(0))
	f.Add("\xff", "\xe2\x82", "\u2029", "\"\\", "\x7f\x1f", "🎉", int64(-1))
	f.Fuzz(func(t *testing.T, id, clientID, role, author, text, source string, ms int64) {
		e := entryTail{ID: id, ClientID: clientID, Role: Role(role), Author: author, AuthorID: author, Text: text,
			DraftID: clientID}
		if ms != 0 {
			e.TS = Time{time.UnixMilli(ms % (1 << 41))}
		}
		if source != "" {
			e.Sources = []string{source, text}
		}
		require.Equal(t, byReflection(t, e), e.encode())
	})
}

// go test -run '^$' -bench EntryEncoding ./session
func BenchmarkEntryEncoding(b *testing.B) {
	e := entryTail{ID: "m_0123456789", ClientID: "lg-17-000123", Role: RoleVisitor,
		Text: strings.Repeat("x", 100), TS: Time{time.Now()}}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			byReflection(b, e)
		}
	})
	b.Run("by hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = e.encode()
		}
	})
}
