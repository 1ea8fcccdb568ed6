package assistant

import (
	"math"
	"slices"
	"strings"

	"github.com/batonchat/baton/session"
)

// An index is what the assistant derives from one version of a merchant's
// knowledge. Its unit is the answer: entries whose answers are the same text
// are one answer asked in more ways, and an entry's question and each of its
// phrasings is one more way to ask its answer (a "question doc").
//
// Texts become sparse tf-idf vectors over three kinds of feature: words
// (stemmed content words, and stop words at a lower weight), pairs of
// adjacent words, and character n-grams of content words. Each kind is
// normalised on its own and weighted, so a dot product is a weighted sum of
// the kinds' cosines. idf counts answers, not docs, so a word every way of
// asking one answer uses stays as telling as a word used once.
//
// An index is immutable once built and shared by concurrent answers.
type index struct {
	version int64
	p       Params
	vocab   vocabulary // feature → id
	idf     []float32  // by feature id
	kind    []uint8    // by feature id
	stop    []bool     // by feature id: a stop word
	// docs: feature → the question docs using it, with the weight there.
	docs [][]posting
	// centroids: feature → the answers using it, with its weight in the
	// answer's centroid (the mean of the answer's question docs).
	centroids [][]posting
	// answerText: feature → the answers whose answer text has it.
	answerText [][]int32
	// inVocab: content word or character n-gram → the answers that use
	// it anywhere.
	inVocab [][]int32
	docInfo []docInfo
	answers []answerInfo
	maxIDF  float32
	model   *linear // nil: none trained
}

type posting struct {
	id int32
	w  float32
}

type docInfo struct {
	answer int32 // index into answers
	entry  int32 // index into the knowledge's entries
}

type answerInfo struct {
	entry int32 // the first entry with this answer
}

const (
	kindWord uint8 = iota
	kindPair
	kindChar
	numKinds
)

func (p *Params) kindWeight(k uint8) float64 {
	switch k {
	case kindWord:
		return 1
	case kindPair:
		return p.PairWeight
	}
	return p.CharWeight
}

type rawDoc struct {
	tf       []tfEntry
	answer   int32
	entry    int32
	question bool // a question or phrasing; otherwise an answer's text
}

// build makes the index of a knowledge set.
func build(ks *session.KnowledgeSet, p Params, stop map[string]bool) *index {
	ix := &index{version: ks.Version, p: p, vocab: newVocabulary()}
	df := &docFeatures{p: &p, stop: stop, vocab: &ix.vocab}
	var raws []rawDoc
	answerOf := map[string]int32{}
	for ei, e := range ks.Entries {
		key := strings.Join(strings.Fields(fold(e.Answer)), " ")
		ai, ok := answerOf[key]
		if !ok {
			ai = int32(len(ix.answers))
			answerOf[key] = ai
			ix.answers = append(ix.answers, answerInfo{entry: int32(ei)})
			if p.AnswerWeight > 0 {
				raws = append(raws, rawDoc{tf: df.features(e.Answer), answer: ai, entry: int32(ei)})
			}
		}
		raws = append(raws, rawDoc{tf: df.features(e.Question), answer: ai, entry: int32(ei), question: true})
		for _, ph := range e.Phrasings {
			raws = append(raws, rawDoc{tf: df.features(ph), answer: ai, entry: int32(ei), question: true})
		}
	}
	nf := int(ix.vocab.n)
	ix.kind = make([]uint8, nf)
	ix.stop = make([]bool, nf)
	for id, c := range df.class {
		ix.kind[id], ix.stop[id] = c.kind(), c == classStop
	}
	// Answer frequencies: with the docs in answer order, a feature's
	// answers are counted (and listed) by the last one seen.
	slices.SortStableFunc(raws, func(a, b rawDoc) int { return int(a.answer - b.answer) })
	// Counted first, so that every list is cut to size from one array
	// instead of growing by appends (most of the build's garbage).
	af := make([]int, nf)
	docN, centN, textN := make([]int32, nf), make([]int32, nf), make([]int32, nf)
	lastUser, lastCent := make([]int32, nf), make([]int32, nf)
	for i := range lastUser {
		lastUser[i], lastCent[i] = -1, -1
	}
	for _, r := range raws {
		for _, tc := range r.tf {
			id := tc.id
			if lastUser[id] != r.answer {
				lastUser[id] = r.answer
				af[id]++
			}
			switch {
			case r.question:
				docN[id]++
				if lastCent[id] != r.answer {
					lastCent[id] = r.answer
					centN[id]++
				}
			case tc.class != classPair && tc.class != classStop:
				textN[id]++
			}
		}
	}
	users := cutInt32(af)
	for i := range lastUser {
		lastUser[i] = -1
	}
	for _, r := range raws {
		for _, tc := range r.tf {
			if lastUser[tc.id] != r.answer {
				lastUser[tc.id] = r.answer
				users[tc.id] = append(users[tc.id], r.answer)
			}
		}
	}
	n := float64(len(ix.answers))
	ix.idf = make([]float32, nf)
	for id := range nf {
		idf := math.Log(1 + n/float64(af[id]))
		ix.maxIDF = max(ix.maxIDF, float32(idf))
		if ix.stop[id] {
			// A stop word is common in any language, even where few
			// answers happen to use it: its frequency starts from a prior.
			idf = math.Log(1+n/(float64(af[id])+p.StopPrior*n)) * p.StopWeight
		}
		ix.idf[id] = float32(idf)
	}
	ix.docs = cutPostings(docN)
	ix.centroids = cutPostings(centN)
	ix.answerText = cutInt32(textN)
	ix.inVocab = make([][]int32, nf)
	for id, on := range users {
		if ix.kind[id] == kindChar || ix.kind[id] == kindWord && !ix.stop[id] {
			ix.inVocab[id] = on
		}
	}
	// The centroid of the answer being summed (docs are in answer order):
	// weights by feature, and the features in the order first met, so the
	// same knowledge sums in the same order.
	cent := make([]float64, nf)
	var touched []int32
	current := int32(-1)
	flush := func() {
		var norms [numKinds]float64
		for _, id := range touched {
			norms[ix.kind[id]] += cent[id] * cent[id]
		}
		for _, id := range touched {
			k := ix.kind[id]
			w := cent[id] / math.Sqrt(norms[k]) * math.Sqrt(p.kindWeight(k))
			ix.centroids[id] = append(ix.centroids[id], posting{id: current, w: float32(w)})
			cent[id] = 0
		}
		touched = touched[:0]
	}
	var exs []example
	for _, r := range raws {
		if r.answer != current {
			flush()
			current = r.answer
		}
		vec := ix.vector(r.tf)
		if p.Epochs > 0 && (r.question || p.AnswerDocs) {
			var n2 float64
			mv := make([]featWeight, 0, len(vec))
			for _, fw := range vec {
				if ix.modelFeature(fw.id, af) {
					mv = append(mv, fw)
					n2 += float64(fw.w) * float64(fw.w)
				}
			}
			exs = append(exs, example{vec: mv, answer: r.answer, norm2: n2})
		}
		if !r.question {
			for _, fw := range vec {
				if ix.kind[fw.id] != kindPair && !ix.stop[fw.id] {
					ix.answerText[fw.id] = append(ix.answerText[fw.id], r.answer)
				}
			}
			continue
		}
		di := int32(len(ix.docInfo))
		ix.docInfo = append(ix.docInfo, docInfo{answer: r.answer, entry: r.entry})
		for _, fw := range vec {
			ix.docs[fw.id] = append(ix.docs[fw.id], posting{id: di, w: fw.w})
			if cent[fw.id] == 0 {
				touched = append(touched, fw.id)
			}
			cent[fw.id] += float64(fw.w)
		}
	}
	flush()
	// With one question per answer the model would get no weight
	// (modelWeight): it is not trained.
	if p.Epochs > 0 && len(ix.docInfo) > len(ix.answers) {
		ix.model = trainLinear(nf, len(ix.answers), exs, users, &p)
	}
	return ix
}

// cutPostings makes empty lists with room for n[i] postings each, cut
// from one array.
func cutPostings(n []int32) [][]posting {
	var total int
	for _, c := range n {
		total += int(c)
	}
	all := make([]posting, total)
	out := make([][]posting, len(n))
	at := 0
	for i, c := range n {
		out[i] = all[at : at : at+int(c)]
		at += int(c)
	}
	return out
}

// cutInt32 is cutPostings for lists of ids.
func cutInt32[T int | int32](n []T) [][]int32 {
	var total int
	for _, c := range n {
		total += int(c)
	}
	all := make([]int32, total)
	out := make([][]int32, len(n))
	at := 0
	for i, c := range n {
		out[i] = all[at : at : at+int(c)]
		at += int(c)
	}
	return out
}

// modelFeature says whether the linear model weighs feature id; af is
// the number of answers using each feature.
func (ix *index) modelFeature(id int32, af []int) bool {
	switch {
	case ix.stop[id] && !ix.p.ModelStop, ix.kind[id] == kindChar && !ix.p.ModelChars:
		return false
	}
	return float64(af[id]) <= ix.p.ModelMaxShare*float64(len(ix.answers))
}

type featWeight struct {
	id int32
	w  float32
}

// vector weighs a text's known features (sublinear tf × idf) and
// normalises each kind, scaled by the square root of the kind's weight.
func (ix *index) vector(tf []tfEntry) []featWeight {
	return ix.weigh(tf, false).vec
}

// query is a question's vector, where features the knowledge lacks count
// in the norm at the largest idf: words nobody wrote lower the similarity
// to everything, which is what makes an unknown question unsure. content
// is the share of the word kind's weight that content words (known or
// not) carry.
type query struct {
	vec     []featWeight
	content float64
}

func (ix *index) queryVector(tf []tfEntry) query {
	return ix.weigh(tf, true)
}

func (ix *index) weigh(tf []tfEntry, unknownCount bool) query {
	out := make([]featWeight, 0, len(tf))
	var norms [numKinds]float64
	var content float64
	for _, tc := range tf {
		w := (1 + math.Log(tc.n)) * (1 + tc.boost)
		switch {
		case tc.id >= 0:
			w *= float64(ix.idf[tc.id])
			out = append(out, featWeight{id: tc.id, w: float32(w)})
		case !unknownCount:
			continue
		case tc.class == classStop:
			w *= float64(ix.maxIDF) * ix.p.StopWeight
		default:
			w *= float64(ix.maxIDF)
		}
		norms[tc.class.kind()] += w * w
		if tc.class == classWord {
			content += w * w
		}
	}
	for i := range out {
		k := ix.kind[out[i].id]
		out[i].w = float32(float64(out[i].w) / math.Sqrt(norms[k]) * math.Sqrt(ix.p.kindWeight(k)))
	}
	q := query{vec: out}
	if norms[kindWord] > 0 {
		q.content = content / norms[kindWord]
	}
	return q
}
