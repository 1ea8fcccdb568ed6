package assistant

import (
	"context"
	"sort"
	"sync"

	"github.com/batonchat/baton/session"
)

const cacheSize = 1024

// Assistant is the built-in retrieval assistant.
type Assistant struct {
	stop map[string]bool
	p    Params

	mu      sync.Mutex
	indexes map[string]*index // by merchant
}

// New returns an Assistant.
func New() *Assistant {
	return &Assistant{stop: stopwords(), p: DefaultParams(), indexes: map[string]*index{}}
}

func (a *Assistant) indexFor(ks *session.KnowledgeSet) *index {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ix, ok := a.indexes[ks.MerchantID]; ok && ix.version == ks.Version {
		return ix
	}
	if len(a.indexes) >= cacheSize {
		for k := range a.indexes { // drop an arbitrary one; rebuilding is cheap
			delete(a.indexes, k)
			break
		}
	}
	ix := build(ks, a.p, a.stop)
	a.indexes[ks.MerchantID] = ix
	return ix
}

// NewWithParams returns an Assistant with other parameters than the
// default: for measuring alternatives (cmd/assistbench), not for serving.
func NewWithParams(p Params) *Assistant {
	return &Assistant{stop: stopwords(), p: p, indexes: map[string]*index{}}
}

// A Decision is an answer with what it was decided from: the best and the
// second answer whether or not the assistant was confident, for measuring
// thresholds without re-asking (cmd/assistbench).
type Decision struct {
	Answer session.Answer
	// Best and Second are the entries of the best and second answers by
	// the combined score ("" when there is none); Retriever and Model are
	// the best by the retriever's and the model's own scores.
	Best, Second, Retriever, Model string
	Score, Margin                  float64 // the combined score of Best, and its lead over Second
	ModelMargin                    float64 // the model's lead of its best over its second answer
	Gated                          bool    // Best passes the content and coverage gates
	ModelWeight                    float64 // the model's share of the combined score for this knowledge
}

// Answer implements session.Assistant.
func (a *Assistant) Answer(ctx context.Context, q session.Question) (session.Answer, error) {
	d, err := a.Decide(ctx, q)
	return d.Answer, err
}

// Decide answers q and says why.
func (a *Assistant) Decide(_ context.Context, q session.Question) (Decision, error) {
	if wantsPerson(q.Text) {
		return Decision{Answer: session.Answer{Kind: session.WantsPerson}}, nil
	}
	if k := smallTalk(q.Text); k != noSmallTalk {
		return Decision{Answer: session.Answer{Kind: session.SmallTalk, Text: smallTalkReply(k, q.Locale)}}, nil
	}
	unsure := Decision{Answer: session.Answer{Kind: session.Unsure}}
	if q.Knowledge == nil || len(q.Knowledge.Entries) == 0 {
		return unsure, nil
	}
	ix := a.indexFor(q.Knowledge)
	tf := ix.queryFeatures(q.Text, a.stop)
	if len(tf) == 0 {
		return unsure, nil
	}
	st := ix.rank(ix.queryVector(tf), ix.newScratch())
	if st.best.answer < 0 {
		return unsure, nil
	}
	entryID := func(answer int32, entry int32) string {
		if answer < 0 {
			return ""
		}
		return q.Knowledge.Entries[entry].ID
	}
	d := Decision{
		Best:        entryID(st.best.answer, st.best.entry),
		Second:      entryID(st.second.answer, st.second.entry),
		Score:       st.best.score,
		Margin:      st.best.score,
		ModelMargin: st.modelMargin,
		Gated:       st.best.content && st.best.coverage >= a.p.MinCoverage,
		ModelWeight: ix.modelWeight(),
	}
	if st.second.answer >= 0 {
		d.Margin -= st.second.score
	}
	if st.retrieverBest >= 0 {
		d.Retriever = entryID(st.retrieverBest, ix.answers[st.retrieverBest].entry)
	}
	if st.modelBest >= 0 && ix.model != nil {
		d.Model = entryID(st.modelBest, ix.answers[st.modelBest].entry)
	}
	if !a.p.confident(d) {
		d.Answer = session.Answer{Kind: session.Unsure, Score: st.best.score}
		return d, nil
	}
	e := q.Knowledge.Entries[st.best.entry]
	d.Answer = session.Answer{Kind: session.Answered, Text: e.Answer, EntryID: e.ID, Score: st.best.score}
	return d, nil
}

// Retrieve implements session.Retriever: the entries of the k answers that
// score best for text, best first, whatever the thresholds (the model
// decides what to make of them). Of an answer several entries share, the
// one whose question matched best stands for it.
func (a *Assistant) Retrieve(ks *session.KnowledgeSet, text string, k int) []session.KnowledgeEntry {
	if ks == nil || len(ks.Entries) == 0 || k <= 0 {
		return nil
	}
	ix := a.indexFor(ks)
	tf := ix.queryFeatures(text, a.stop)
	if len(tf) == 0 {
		return nil
	}
	var all []ranked
	sc := ix.newScratch()
	sc.all = &all
	ix.rank(ix.queryVector(tf), sc)
	sort.SliceStable(all, func(i, j int) bool { return all[i].score > all[j].score })
	out := make([]session.KnowledgeEntry, 0, min(k, len(all)))
	for _, r := range all[:min(k, len(all))] {
		out = append(out, ks.Entries[r.entry])
	}
	return out
}

// confident decides whether the best answer is given: it must use one of
// the question's content words and most of its word weight, score high
// enough, and lead the second answer clearly (a near tie between two
// answers is a guess).
func (p *Params) confident(d Decision) bool {
	return d.Gated && d.Score >= p.MinScore && d.Margin >= p.marginFor(d.ModelWeight)
}

// marginFor is the least lead over the second answer when the model has
// weight mw in the combined score: the retriever's and the model's own
// least leads, mixed as their scores are.
func (p *Params) marginFor(mw float64) float64 {
	return (1-mw)*p.MinMargin + mw*p.ModelMinMargin
}
