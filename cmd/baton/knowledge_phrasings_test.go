package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKnowledgePhrasings: phrasings are stored trimmed, read back (as []
// when an entry has none), and a visitor asking in a phrasing's words gets
// that entry's answer on the socket.
func TestKnowledgePhrasings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Phrasings Shop")
	code, body := e.do("PUT", "/v1/admin/knowledge", s.adminToken, map[string]any{"entries": []map[string]any{
		{"id": "gift", "question": "Do you offer gift wrapping?", "answer": "Yes, gift wrapping is free.",
			"phrasings": []string{"  can you wrap my present  ", "is there wrapping paper for a birthday"}},
		{"id": "ship", "question": "How long does shipping take?", "answer": "Shipping takes 2 working days."},
	}})
	require.Equal(t, 200, code, "%v", body)

	code, body = e.do("GET", "/v1/admin/knowledge", s.adminToken, nil)
	require.Equal(t, 200, code)
	entries := body["entries"].([]any)
	require.Len(t, entries, 2)
	require.Equal(t, []any{"can you wrap my present", "is there wrapping paper for a birthday"}, entries[0].(map[string]any)["phrasings"])
	require.Equal(t, []any{}, entries[1].(map[string]any)["phrasings"], "an entry without phrasings reads back []")

	v := e.visitor(s.m.WidgetKey)
	v.Send(map[string]any{"type": "hello", "locale": "en"})
	v.Expect("welcome")
	v.Send(map[string]any{"type": "message", "client_id": "p1", "text": "Can you wrap my present?"})
	require.Equal(t, "Yes, gift wrapping is free.", v.ExpectMessage("assistant")["text"])
}

// TestKnowledgePhrasingsValidation: phrasings over the limits, blank or of
// the wrong type are 400 invalid_knowledge with a message that names the
// entry and the limit, and change nothing.
func TestKnowledgePhrasingsValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Phrasings Validation Shop")
	code, body := e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(t, 200, code, "%v", body)
	_, before := e.do("GET", "/v1/admin/knowledge", s.adminToken, nil)

	with := func(id string, phrasings any) map[string]any {
		return map[string]any{"entries": []map[string]any{
			{"question": "Fine?", "answer": "Fine."},
			{"id": id, "question": "Do you ship abroad?", "answer": "Yes.", "phrasings": phrasings},
		}}
	}
	fifty := make([]string, 51)
	for i := range fifty {
		fifty[i] = fmt.Sprintf("way %d to ask", i)
	}
	for _, c := range []struct {
		name    string
		body    any
		message []string // parts the error message must have
	}{
		{"51 phrasings", with("abroad", fifty), []string{`entries[1] (id "abroad")`, "51 phrasings", "at most 50"}},
		{"phrasing over 1000", with("abroad", []string{"fine", strings.Repeat("p", 1001)}), []string{`entries[1] (id "abroad").phrasings[1]`, "1000 characters"}},
		{"phrasing over 1000 emoji", with("", []string{strings.Repeat("😀", 1001)}), []string{"entries[1].phrasings[0]", "1000 characters"}},
		{"blank phrasing", with("abroad", []string{"fine", "   \n"}), []string{`entries[1] (id "abroad").phrasings[1] is blank`}},
		{"empty phrasing", with("", []string{""}), []string{"entries[1].phrasings[0] is blank"}},
		{"phrasings a string", `{"entries":[{"question":"q?","answer":"a","phrasings":"one way"}]}`, nil},
		{"phrasing a number", `{"entries":[{"question":"q?","answer":"a","phrasings":[1]}]}`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, raw := e.withT(t).doRaw("PUT", "/v1/admin/knowledge", s.adminToken, c.body, nil)
			require.Equal(t, 400, code, "%s", raw)
			var out struct {
				Error struct{ Code, Message string }
			}
			require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
			if c.message != nil {
				require.Equal(t, "invalid_knowledge", out.Error.Code, "%s", raw)
			}
			for _, part := range c.message {
				require.Contains(t, out.Error.Message, part)
			}
		})
	}
	_, after := e.do("GET", "/v1/admin/knowledge", s.adminToken, nil)
	require.Equal(t, before["entries"], after["entries"], "refused knowledge changed something")

	// 50 phrasings of 1000 characters are fine.
	full := make([]string, 50)
	for i := range full {
		full[i] = fmt.Sprintf("%04d", i) + strings.Repeat("é", 996)
	}
	code, body = e.do("PUT", "/v1/admin/knowledge", s.adminToken, with("abroad", full))
	require.Equal(t, 200, code, "%v", body)
}
