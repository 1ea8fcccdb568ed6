package assistant

import (
	"context"
	"math"
	"sync"

	"github.com/batonchat/baton/session"
)

// Tuning. k1 and b are BM25's usual values; a question counts twice as
// much as an answer; an answer is given only when the best entry covers at
// least minCoverage of the question's weight (by idf) and scores at least
// minScore. Coverage does the real work; minScore only rules out matches on
// words every entry shares.
const (
	k1             = 1.2
	bm25B          = 0.75
	questionWeight = 2
	minCoverage    = 0.5
	minScore       = 0.2
	cacheSize      = 1024
)

// Assistant is the built-in retrieval assistant.
type Assistant struct {
	stop map[string]bool

	mu      sync.Mutex
	indexes map[string]*index // by merchant
}

// New returns an Assistant.
func New() *Assistant {
	return &Assistant{stop: stopwords(), indexes: map[string]*index{}}
}

type doc struct {
	entry session.KnowledgeEntry
	tf    map[string]float64
	len   float64
}

type index struct {
	version int64
	docs    []doc
	df      map[string]int
	avgLen  float64
	maxIDF  float64
}

func (a *Assistant) build(ks *session.KnowledgeSet) *index {
	ix := &index{version: ks.Version, df: map[string]int{}}
	total := 0.0
	for _, e := range ks.Entries {
		d := doc{entry: e, tf: map[string]float64{}}
		for _, t := range terms(e.Question, a.stop) {
			d.tf[t] += questionWeight
			d.len += questionWeight
		}
		for _, t := range terms(e.Answer, a.stop) {
			d.tf[t]++
			d.len++
		}
		for t := range d.tf {
			ix.df[t]++
		}
		total += d.len
		ix.docs = append(ix.docs, d)
	}
	if len(ix.docs) > 0 {
		ix.avgLen = total / float64(len(ix.docs))
	}
	for t := range ix.df {
		ix.maxIDF = max(ix.maxIDF, ix.idf(t))
	}
	return ix
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
	ix := a.build(ks)
	a.indexes[ks.MerchantID] = ix
	return ix
}

func (ix *index) idf(t string) float64 {
	n := float64(len(ix.docs))
	df := float64(ix.df[t])
	return math.Log(1 + (n-df+0.5)/(df+0.5))
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
	qterms := uniq(terms(q.Text, a.stop))
	if len(qterms) == 0 {
		return session.Answer{Kind: session.Unsure}, nil
	}
	// A word no entry uses weighs like the rarest word the knowledge has:
	// asking about something unknown lowers confidence, but one unknown
	// word does not outweigh a rare known one.
	unknownIDF := ix.maxIDF
	var totalWeight float64
	for _, t := range qterms {
		if ix.df[t] > 0 {
			totalWeight += ix.idf(t)
		} else {
			totalWeight += unknownIDF
		}
	}
	best, bestScore, bestCover := -1, 0.0, 0.0
	for i, d := range ix.docs {
		score, covered := 0.0, 0.0
		for _, t := range qterms {
			tf := d.tf[t]
			if tf == 0 {
				continue
			}
			idf := ix.idf(t)
			score += idf * tf * (k1 + 1) / (tf + k1*(1-bm25B+bm25B*d.len/ix.avgLen))
			covered += idf
		}
		if score > bestScore {
			best, bestScore, bestCover = i, score, covered/totalWeight
		}
	}
	if best < 0 || bestScore < minScore || bestCover < minCoverage {
		return session.Answer{Kind: session.Unsure, Score: bestScore}, nil
	}
	e := ix.docs[best].entry
	return session.Answer{Kind: session.Answered, Text: e.Answer, EntryID: e.ID, Score: bestScore}, nil
}

func uniq(ts []string) []string {
	seen := make(map[string]bool, len(ts))
	out := ts[:0]
	for _, t := range ts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
