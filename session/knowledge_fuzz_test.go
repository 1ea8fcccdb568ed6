package session

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzKnowledgeInput: a PUT /v1/admin/knowledge body either is refused as
// invalid_knowledge naming an entry, or every entry comes out trimmed,
// within the limits, with a unique valid id (its own when it had one); and
// what is stored, cleaned again, is itself.
func FuzzKnowledgeInput(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var in struct {
			Entries *[]KnowledgeEntry `json:"entries"`
		}
		if json.Unmarshal(body, &in) != nil || in.Entries == nil {
			return
		}
		entries := *in.Entries
		out, err := cleanKnowledge(entries)
		if err != nil {
			e := ErrorOf(err)
			if e.Kind != KindInvalid || e.Code != "invalid_knowledge" || !strings.HasPrefix(e.Message, "entries[") {
				t.Fatalf("refused as %v %q: %q", e.Kind, e.Code, e.Message)
			}
			return
		}
		if len(out) != len(entries) {
			t.Fatalf("%d entries in, %d out", len(entries), len(out))
		}
		ids := map[string]bool{}
		for i, e := range out {
			src := entries[i]
			switch {
			case e.Question != strings.TrimSpace(src.Question) || e.Question == "" ||
				utf8.RuneCountInString(e.Question) > maxQuestionRunes:
				t.Fatalf("entries[%d].question %q from %q", i, e.Question, src.Question)
			case e.Answer != strings.TrimSpace(src.Answer) || e.Answer == "" ||
				utf8.RuneCountInString(e.Answer) > maxAnswerRunes:
				t.Fatalf("entries[%d].answer %q from %q", i, e.Answer, src.Answer)
			case len(e.Phrasings) != len(src.Phrasings) || len(e.Phrasings) > MaxPhrasings:
				t.Fatalf("entries[%d] has %d phrasings from %d", i, len(e.Phrasings), len(src.Phrasings))
			case !validID(e.ID) || ids[e.ID] || src.ID != "" && e.ID != src.ID:
				t.Fatalf("entries[%d].id %q from %q (seen: %v)", i, e.ID, src.ID, ids[e.ID])
			}
			for j, p := range e.Phrasings {
				if p != strings.TrimSpace(src.Phrasings[j]) || p == "" || utf8.RuneCountInString(p) > maxQuestionRunes {
					t.Fatalf("entries[%d].phrasings[%d] %q from %q", i, j, p, src.Phrasings[j])
				}
			}
			ids[e.ID] = true
		}
		stored, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		var back []KnowledgeEntry
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatalf("stored knowledge %s does not decode: %v", stored, err)
		}
		again, err := cleanKnowledge(back)
		if err != nil {
			t.Fatalf("stored knowledge is refused: %v", err)
		}
		if !reflect.DeepEqual(normPhrasings(again), normPhrasings(out)) {
			t.Fatalf("cleaning the stored knowledge changed it:\n%#v\n%#v", out, again)
		}
	})
}

// normPhrasings treats no phrasings and an empty list alike, as the stored
// JSON does.
func normPhrasings(es []KnowledgeEntry) []KnowledgeEntry {
	c := append([]KnowledgeEntry(nil), es...)
	for i := range c {
		if len(c[i].Phrasings) == 0 {
			c[i].Phrasings = nil
		}
	}
	return c
}
