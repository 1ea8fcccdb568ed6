package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/batonchat/baton/session"
)

// example is one CLINC150 query: [text, intent].
type example struct {
	Text   string
	Intent string
}

func (e *example) UnmarshalJSON(b []byte) error {
	var pair []string
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return fmt.Errorf("an example is [text, intent], got %d strings", len(pair))
	}
	e.Text, e.Intent = pair[0], pair[1]
	return nil
}

type clinc struct {
	Train    []example `json:"train"`
	Val      []example `json:"val"`
	Test     []example `json:"test"`
	OOSTrain []example `json:"oos_train"`
	OOSVal   []example `json:"oos_val"`
	OOSTest  []example `json:"oos_test"`
}

func loadCLINC(path string) (*clinc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the CLINC150 data (see -data): %w", err)
	}
	var c clinc
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(c.Train) == 0 || len(c.Test) == 0 || len(c.OOSTest) == 0 {
		return nil, fmt.Errorf("%s: no train, test or oos_test examples", path)
	}
	return &c, nil
}

func (c *clinc) split(name string) (inScope, oos []example, err error) {
	switch name {
	case "test":
		return c.Test, c.OOSTest, nil
	case "val":
		return c.Val, c.OOSVal, nil
	}
	return nil, nil, fmt.Errorf("-split: %q is neither test nor val", name)
}

type layout string

const (
	layoutEntries   layout = "entries"
	layoutPhrasings layout = "phrasings"
)

// knowledge makes the merchant's knowledge from the first k training
// phrasings of each intent, in the file's order. Every intent has one
// answer text, so in the entries layout its k entries share it, as a
// merchant's duplicate entries would.
func (c *clinc) knowledge(k int, lay layout) *bench {
	b := &bench{ks: &session.KnowledgeSet{MerchantID: "clinc150", Version: 1}, intentOf: map[string]string{}}
	byIntent := map[string][]string{}
	var order []string
	for _, e := range c.Train {
		if _, ok := byIntent[e.Intent]; !ok {
			order = append(order, e.Intent)
		}
		if len(byIntent[e.Intent]) < k {
			byIntent[e.Intent] = append(byIntent[e.Intent], e.Text)
		}
	}
	for n, intent := range order {
		texts := byIntent[intent]
		answer := answerText(n)
		switch lay {
		case layoutEntries:
			for i, t := range texts {
				id := fmt.Sprintf("e%d-%d", n+1, i+1)
				b.ks.Entries = append(b.ks.Entries, session.KnowledgeEntry{ID: id, Question: t, Answer: answer})
				b.intentOf[id] = intent
			}
		case layoutPhrasings:
			id := fmt.Sprintf("e%d", n+1)
			b.ks.Entries = append(b.ks.Entries, session.KnowledgeEntry{ID: id, Question: texts[0], Phrasings: texts[1:], Answer: answer})
			b.intentOf[id] = intent
		}
	}
	return b
}

// bench is a knowledge set and, for scoring only, which intent each entry
// was made from.
type bench struct {
	ks       *session.KnowledgeSet
	intentOf map[string]string
}

type result struct {
	Split   string `json:"split"`
	K       int    `json:"k"`
	Layout  string `json:"layout"`
	Entries int    `json:"entries"`
	// In scope, in % of the in-scope queries.
	Correct   float64 `json:"in_scope_correct_pct"`
	Wrong     float64 `json:"in_scope_wrong_entry_pct"`
	HandedOff float64 `json:"in_scope_handed_off_pct"`
	// Out of scope, in % of the out-of-scope queries: anything but an
	// answer from knowledge.
	OOSRefused      float64 `json:"oos_refused_pct"`
	InScope         int     `json:"in_scope_queries"`
	OOS             int     `json:"oos_queries"`
	MicrosPerAnswer float64 `json:"micros_per_answer"`
}

func measure(ctx context.Context, a session.Assistant, b *bench, inScope, oos []example) (result, error) {
	r := result{Entries: len(b.ks.Entries), InScope: len(inScope), OOS: len(oos)}
	ask := func(text string) (session.Answer, error) {
		return a.Answer(ctx, session.Question{MerchantID: b.ks.MerchantID, Locale: "en", Text: text, Knowledge: b.ks})
	}
	if _, err := ask("warm up"); err != nil { // builds the index outside the timing
		return r, err
	}
	var correct, wrong, handed, refused int
	start := time.Now()
	for _, e := range inScope {
		ans, err := ask(e.Text)
		if err != nil {
			return r, err
		}
		switch {
		case ans.Kind != session.Answered || ans.EntryID == "":
			handed++
		case b.intentOf[ans.EntryID] == e.Intent:
			correct++
		default:
			wrong++
		}
	}
	for _, e := range oos {
		ans, err := ask(e.Text)
		if err != nil {
			return r, err
		}
		if ans.Kind != session.Answered {
			refused++
		}
	}
	elapsed := time.Since(start)
	pct := func(n, of int) float64 { return float64(n) * 100 / float64(max(of, 1)) }
	r.Correct, r.Wrong, r.HandedOff = pct(correct, len(inScope)), pct(wrong, len(inScope)), pct(handed, len(inScope))
	r.OOSRefused = pct(refused, len(oos))
	r.MicrosPerAnswer = float64(elapsed.Microseconds()) / float64(max(len(inScope)+len(oos), 1))
	return r, nil
}

// answerText is an intent's answer: distinct per intent and made of a code
// no visitor types ("Answer zqab."), so neither the intent's name nor a
// number in it can match a question.
func answerText(n int) string {
	code := []byte("zq")
	for {
		code = append(code, byte('a'+n%26))
		n /= 26
		if n == 0 {
			break
		}
	}
	return "Answer " + string(code) + "."
}
