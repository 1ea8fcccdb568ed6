package assistant

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// TestRetrieverPhrasingsAndSharedAnswers: a phrasing answers with its
// entry, and entries that share an answer text are one answer (they do not
// compete with each other for the margin).
func TestRetrieverPhrasingsAndSharedAnswers(t *testing.T) {
	a := New()
	ks := &session.KnowledgeSet{MerchantID: "shop-p", Version: 1, Entries: []session.KnowledgeEntry{
		{ID: "wrap", Question: "Do you offer gift wrapping?", Answer: "Yes, gift wrapping is free.",
			Phrasings: []string{"can you wrap my present", "is there paper for a birthday parcel"}},
		{ID: "vouchers", Question: "Do you sell gift cards?", Answer: "Yes, vouchers from 10 to 250 euros."},
		{ID: "engrave", Question: "Can you engrave my watch?", Answer: "Engraving costs 15 euros."},
		// Two entries with the same answer, written twice by the merchant.
		{ID: "eta-1", Question: "When will my parcel arrive?", Answer: "Within two working days."},
		{ID: "eta-2", Question: "How many days until delivery?", Answer: "Within  two working days."},
		{ID: "levering", Question: "Wanneer wordt mijn pakket bezorgd?", Answer: "Binnen twee werkdagen.",
			Phrasings: []string{"hoe lang duurt de bezorging"}},
	}}
	for _, c := range []struct {
		text, want string // want "" means unsure
	}{
		{"can you wrap my present?", "wrap"},              // a phrasing as written
		{"Could you wrap a present for me", "wrap"},       // a phrasing's words
		{"paper for a birthday parcel", "wrap"},           // the second phrasing
		{"do you wrap gifts", "wrap"},                     // the question
		{"gift cards", "vouchers"},                        //
		{"engraving my watch", "engrave"},                 // engraving / engrave
		{"when will my parcel arrive", "eta-1"},           // the entry whose question matched
		{"how many days until delivery", "eta-2"},         // the other entry, same answer
		{"hoe lang duurt de bezorging?", "levering"},      // a Dutch phrasing
		{"wanneer wordt mijn pakket bezorgd", "levering"}, //
		{"what is the capital of France", ""},             // nothing known
		{"do you repair bicycles", ""},                    // nothing known
		{"hoeveel kost een fiets", ""},                    // nothing known, Dutch
	} {
		t.Run(c.text, func(t *testing.T) {
			ans := ask(t, a, ks, "en", c.text)
			if c.want == "" {
				require.Equal(t, session.Unsure, ans.Kind, "%q answered with %q (score %.2f)", c.text, ans.EntryID, ans.Score)
				return
			}
			require.Equal(t, session.Answered, ans.Kind, "%q unsure (score %.2f)", c.text, ans.Score)
			require.Equal(t, c.want, ans.EntryID)
			require.Equal(t, entryByID(t, ks, c.want).Answer, ans.Text)
		})
	}
}

// TestRetrieverMargin: two different answers that match a question equally
// well are a guess, so the assistant is unsure; the same two entries with
// one answer text answer.
func TestRetrieverMargin(t *testing.T) {
	a := New()
	tie := &session.KnowledgeSet{MerchantID: "shop-m", Version: 1, Entries: []session.KnowledgeEntry{
		{ID: "a", Question: "How do I reset my password?", Answer: "Use the link on the sign-in page."},
		{ID: "b", Question: "How do I reset my password?", Answer: "Write to support and we reset it."},
	}}
	ans := ask(t, a, tie, "en", "reset my password")
	require.Equal(t, session.Unsure, ans.Kind, "a tie between two answers is not an answer")

	same := &session.KnowledgeSet{MerchantID: "shop-m", Version: 2, Entries: []session.KnowledgeEntry{
		{ID: "a", Question: "How do I reset my password?", Answer: "Use the link on the sign-in page."},
		{ID: "b", Question: "How can I reset my password?", Answer: "Use the link on the sign-in page."},
	}}
	ans = ask(t, a, same, "en", "reset my password")
	require.Equal(t, session.Answered, ans.Kind)
	require.Equal(t, "Use the link on the sign-in page.", ans.Text)
}

// TestRetrieverMisspellings: character n-grams carry a misspelt word to the
// entry that spells it right.
func TestRetrieverMisspellings(t *testing.T) {
	a := New()
	ks := shopKnowledge()
	for _, c := range []struct{ text, want string }{
		{"retrns policy", "returns"},
		{"openng hours", "store-hours"},
		{"verzendkostn", "verzendkosten"},
		{"openingstyden winkel", "openingstijden"},
	} {
		t.Run(c.text, func(t *testing.T) {
			ans := ask(t, a, ks, "en", c.text)
			require.Equal(t, session.Answered, ans.Kind, "%q unsure (score %.2f)", c.text, ans.Score)
			require.Equal(t, c.want, ans.EntryID)
		})
	}
}

// TestRetrieverDeterministic: the same knowledge and question give the same
// answer and score, index after index.
func TestRetrieverDeterministic(t *testing.T) {
	ks := generatedKnowledge(300)
	var first []session.Answer
	for round := 0; round < 5; round++ {
		a := New()
		var got []session.Answer
		for _, q := range []string{"warranty on the sofa", "hoe maak ik de lamp schoon", "is the desk heavy", "colour of the rug"} {
			got = append(got, ask(t, a, ks, "en", q))
		}
		if first == nil {
			first = got
			continue
		}
		require.Equal(t, first, got, "round %d", round)
	}
}

// TestRetrieverBuildIsCheap: indexing the largest knowledge a merchant may
// have takes milliseconds, not seconds. The bound is loose (a slow, shared
// machine under -race); the benchmark has the real figure.
func TestRetrieverIndexesTheWholeSet(t *testing.T) {
	ks := distinctKnowledge(session.MaxKnowledgeEntries)
	// How long it takes is BenchmarkBuildModel2000's to say (speed is
	// measured, not asserted); here, that the whole set is indexed.
	ix := build(ks, DefaultParams(), stopwords())
	require.Len(t, ix.answers, session.MaxKnowledgeEntries)
}

// distinctKnowledge is generatedKnowledge with n different answers, each
// with one phrasing besides its question.
func distinctKnowledge(n int) *session.KnowledgeSet {
	ks := generatedKnowledge(n)
	for i := range ks.Entries {
		e := &ks.Entries[i]
		e.Answer += fmt.Sprintf(" Reference %d.", i)
		e.Phrasings = []string{fmt.Sprintf("a question about item %d: %s", i, e.Question)}
	}
	return ks
}

func BenchmarkAnswer2000(b *testing.B) {
	ks := distinctKnowledge(session.MaxKnowledgeEntries)
	ctx := context.Background()
	a := New()
	q := session.Question{MerchantID: "bench", Locale: "en", Text: "What is the warranty on the sofa?", Knowledge: ks}
	if _, err := a.Answer(ctx, q); err != nil {
		b.Fatal(err)
	}
	b.Run("answer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Answer(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		stop := stopwords()
		for b.Loop() {
			build(ks, DefaultParams(), stop)
		}
	})
}

func BenchmarkBuildModel2000(b *testing.B) {
	ks := distinctKnowledge(session.MaxKnowledgeEntries)
	p := DefaultParams()
	p.Epochs, p.ModelWeight, p.Candidates, p.ModelChars = 5, 0.5, 10, false
	stop := stopwords()
	b.ReportAllocs()
	for b.Loop() {
		build(ks, p, stop)
	}
}

// TestRetrieveRanksEveryAnswer: the model sees the entries that match
// best, whether or not the built-in assistant would answer from them.
func TestRetrieveRanksEveryAnswer(t *testing.T) {
	a := New()
	ks := shopKnowledge()
	got := a.Retrieve(ks, "how long until my parcel arrives in belgium", 3)
	require.NotEmpty(t, got)
	require.LessOrEqual(t, len(got), 3)
	ids := []string{}
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	require.Contains(t, ids, "shipping", "%v", ids)
	require.Empty(t, a.Retrieve(ks, "?!", 3))
	require.Empty(t, a.Retrieve(nil, "shipping", 3))
	var _ session.Retriever = a
}
