package assistant

import (
	"context"
	"sync"

	"github.com/batonchat/baton/session"
)

const cacheSize = 1024

// Assistant is the built-in retrieval assistant.
type Assistant struct {
	stop map[string]bool
	p    params

	mu      sync.Mutex
	indexes map[string]*index // by merchant
}

// New returns an Assistant.
func New() *Assistant {
	return &Assistant{stop: stopwords(), p: defaultParams(), indexes: map[string]*index{}}
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

// Answer implements session.Assistant.
func (a *Assistant) Answer(_ context.Context, q session.Question) (session.Answer, error) {
	if wantsPerson(q.Text) {
		return session.Answer{Kind: session.WantsPerson}, nil
	}
	if k := smallTalk(q.Text); k != noSmallTalk {
		return session.Answer{Kind: session.SmallTalk, Text: smallTalkReply(k, q.Locale)}, nil
	}
	if q.Knowledge == nil || len(q.Knowledge.Entries) == 0 {
		return session.Answer{Kind: session.Unsure}, nil
	}
	ix := a.indexFor(q.Knowledge)
	tf := a.p.features(q.Text, a.stop)
	if len(tf) == 0 {
		return session.Answer{Kind: session.Unsure}, nil
	}
	best, second := ix.rank(ix.queryVector(tf), ix.newScratch())
	if best.answer < 0 {
		return session.Answer{Kind: session.Unsure}, nil
	}
	if !a.p.confident(best, second) {
		return session.Answer{Kind: session.Unsure, Score: best.score}, nil
	}
	e := q.Knowledge.Entries[best.entry]
	return session.Answer{Kind: session.Answered, Text: e.Answer, EntryID: e.ID, Score: best.score}, nil
}

// confident decides whether the best answer is given: it must use one of
// the question's content words and most of its word weight, score high
// enough, and lead the second answer clearly (a near tie between two
// answers is a guess).
func (p *params) confident(best, second ranked) bool {
	margin := best.score
	if second.answer >= 0 {
		margin -= second.score
	}
	return best.content && best.coverage >= p.minCoverage && best.score >= p.minScore && margin >= p.minMargin
}
