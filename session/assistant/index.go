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
	feat    map[string]int32 // feature → id
	idf     []float32        // by feature id
	kind    []uint8          // by feature id
	stop    []bool           // by feature id: a stop word
	// docs: feature → the question docs using it, with the weight there.
	docs [][]posting
	// centroids: feature → the answers using it, with its weight in the
	// answer's centroid (the mean of the answer's question docs).
	centroids [][]posting
	// answerText: feature → the answers whose answer text has it.
	answerText [][]int32
	// vocab: content word or character n-gram → the answers that use it
	// anywhere.
	vocab   [][]int32
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

// Feature names start with their kind: w content word, s stop word, p pair
// of words, c character n-gram.
func featKind(f string) uint8 {
	switch f[0] {
	case 'w', 's':
		return kindWord
	case 'p':
		return kindPair
	}
	return kindChar
}

// termCount is a feature of a text and how often the text has it.
type termCount struct {
	f     string
	n     float64
	boost float64 // extra weight of the question's action word (0: none)
}

// features turns text into its features with their counts, in the order
// they first occur (so everything summed over them is summed in the same
// order every time).
func (p *Params) features(text string, stop map[string]bool) []termCount {
	return p.featuresOf(text, stop, false)
}

// queryFeatures are a question's features, its action word weighed up.
func (p *Params) queryFeatures(text string, stop map[string]bool) []termCount {
	return p.featuresOf(text, stop, p.ActionWeight > 0)
}

func (p *Params) featuresOf(text string, stop map[string]bool, actions bool) []termCount {
	ws := words(text)
	var act map[int]bool
	if actions {
		act = actionWords(text)
	}
	out := make([]termCount, 0, 8*len(ws))
	at := make(map[string]int, 8*len(ws))
	add := func(f string) {
		if i, ok := at[f]; ok {
			out[i].n++
			return
		}
		at[f] = len(out)
		out = append(out, termCount{f: f, n: 1})
	}
	seq := make([]string, 0, len(ws))
	for wi, w := range ws {
		if stop[w] {
			add("s:" + w)
			seq = append(seq, w)
			continue
		}
		t := stem(w)
		add("w:" + t)
		if act[wi] {
			out[at["w:"+t]].boost = p.ActionWeight
		}
		seq = append(seq, t)
		rs := []rune("<" + w + ">")
		for n := p.CharMin; n <= p.CharMax; n++ {
			for i := 0; i+n <= len(rs); i++ {
				add("c:" + string(rs[i:i+n]))
			}
		}
	}
	for i := 1; i < len(seq); i++ {
		add("p:" + seq[i-1] + " " + seq[i])
	}
	return out
}

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
	tf       []termCount
	answer   int32
	entry    int32
	question bool // a question or phrasing; otherwise an answer's text
}

// build makes the index of a knowledge set.
func build(ks *session.KnowledgeSet, p Params, stop map[string]bool) *index {
	ix := &index{version: ks.Version, p: p, feat: map[string]int32{}}
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
				raws = append(raws, rawDoc{tf: p.features(e.Answer, stop), answer: ai, entry: int32(ei)})
			}
		}
		raws = append(raws, rawDoc{tf: p.features(e.Question, stop), answer: ai, entry: int32(ei), question: true})
		for _, ph := range e.Phrasings {
			raws = append(raws, rawDoc{tf: p.features(ph, stop), answer: ai, entry: int32(ei), question: true})
		}
	}
	// Answer frequencies: with the docs in answer order, a feature's
	// answers are counted (and listed) by the last one seen.
	slices.SortStableFunc(raws, func(a, b rawDoc) int { return int(a.answer - b.answer) })
	var af []int
	var users [][]int32 // feature → the answers using it
	for _, r := range raws {
		for _, tc := range r.tf {
			f := tc.f
			id, ok := ix.feat[f]
			if !ok {
				id = int32(len(ix.feat))
				ix.feat[f] = id
				af = append(af, 0)
				users = append(users, nil)
				ix.kind = append(ix.kind, featKind(f))
				ix.stop = append(ix.stop, f[0] == 's')
			}
			if u := users[id]; len(u) == 0 || u[len(u)-1] != r.answer {
				users[id] = append(u, r.answer)
				af[id]++
			}
		}
	}
	n := float64(len(ix.answers))
	ix.idf = make([]float32, len(af))
	for f, id := range ix.feat {
		idf := math.Log(1 + n/float64(af[id]))
		ix.maxIDF = max(ix.maxIDF, float32(idf))
		if f[0] == 's' {
			// A stop word is common in any language, even where few
			// answers happen to use it: its frequency starts from a prior.
			idf = math.Log(1+n/(float64(af[id])+p.StopPrior*n)) * p.StopWeight
		}
		ix.idf[id] = float32(idf)
	}
	nf := len(af)
	ix.docs = make([][]posting, nf)
	ix.centroids = make([][]posting, nf)
	ix.answerText = make([][]int32, nf)
	ix.vocab = make([][]int32, nf)
	cent := make([]map[int32]float64, len(ix.answers))
	for i := range cent {
		cent[i] = map[int32]float64{}
	}
	for id, on := range users {
		if ix.kind[id] == kindChar || ix.kind[id] == kindWord && !ix.stop[id] {
			ix.vocab[id] = on
		}
	}
	var exs []example
	for _, r := range raws {
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
			cent[r.answer][fw.id] += float64(fw.w)
		}
	}
	for ai, c := range cent {
		// Normalise each kind of the centroid as docs are.
		ids := make([]int32, 0, len(c))
		for id := range c {
			ids = append(ids, id)
		}
		slices.Sort(ids) // sums in a fixed order: the same knowledge, the same index
		var norms [numKinds]float64
		for _, id := range ids {
			norms[ix.kind[id]] += c[id] * c[id]
		}
		for _, id := range ids {
			k := ix.kind[id]
			w := c[id] / math.Sqrt(norms[k]) * math.Sqrt(p.kindWeight(k))
			ix.centroids[id] = append(ix.centroids[id], posting{id: int32(ai), w: float32(w)})
		}
	}
	if p.Epochs > 0 {
		ix.model = trainLinear(nf, len(ix.answers), exs, users, &p)
	}
	return ix
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
func (ix *index) vector(tf []termCount) []featWeight {
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

func (ix *index) queryVector(tf []termCount) query {
	return ix.weigh(tf, true)
}

func (ix *index) weigh(tf []termCount, unknownCount bool) query {
	out := make([]featWeight, 0, len(tf))
	var norms [numKinds]float64
	var content float64
	for _, tc := range tf {
		f := tc.f
		w := (1 + math.Log(tc.n)) * (1 + tc.boost)
		id, ok := ix.feat[f]
		switch {
		case ok:
			w *= float64(ix.idf[id])
			out = append(out, featWeight{id: id, w: float32(w)})
		case !unknownCount:
			continue
		case f[0] == 's':
			w *= float64(ix.maxIDF) * ix.p.StopWeight
		default:
			w *= float64(ix.maxIDF)
		}
		norms[featKind(f)] += w * w
		if f[0] == 'w' {
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
