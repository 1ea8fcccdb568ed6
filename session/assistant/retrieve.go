package assistant

// params are the retriever's knobs; defaultParams are the ones in use.
// docs/assistant.md says how each was chosen and what it buys; the
// thresholds come from CLINC150's val and oos_val splits and the v1 shop
// tests, never from its test split.
type params struct {
	pairWeight   float64 // pairs of adjacent words, against words at 1
	charWeight   float64 // character n-grams of content words
	charMin      int
	charMax      int
	stopWeight   float64 // a stop word's idf is scaled by this
	stopPrior    float64 // and counts this share of answers as using it
	answerWeight float64 // an answer text's coverage of the question, against a question doc's similarity
	knnWeight    float64 // the best question doc, against the answer's centroid
	coverWeight  float64 // coverage's share of the score
	minScore     float64 // the best answer's score must reach this
	minMargin    float64 // and lead the second answer by this much
	minCoverage  float64 // and use this share of the question's word weight
}

// minScore is the default least score of an answer given.
const minScore = 0.30

func defaultParams() params {
	return params{
		pairWeight:   0.5,
		charWeight:   0.5,
		charMin:      3,
		charMax:      5,
		stopWeight:   1,
		answerWeight: 0.5,
		knnWeight:    0.25,
		coverWeight:  0.2,
		minScore:     minScore,
		minMargin:    0.17,
		minCoverage:  0.3,
	}
}

// ranked is one answer's standing for a question.
type ranked struct {
	answer   int32   // -1: none
	entry    int32   // the entry to answer with: the best question doc's
	score    float64 // in [0, 1]
	coverage float64 // share of the question's content word weight the answer uses
	content  bool    // the answer uses one of the question's content words
}

// scratch is per-question working memory, sized to the index.
type scratch struct {
	doc, cent, text, cover, chars []float32
	content                       []bool
}

func (ix *index) newScratch() *scratch {
	return &scratch{
		doc: make([]float32, len(ix.docInfo)), cent: make([]float32, len(ix.answers)),
		text: make([]float32, len(ix.answers)), cover: make([]float32, len(ix.answers)),
		chars:   make([]float32, len(ix.answers)),
		content: make([]bool, len(ix.answers)),
	}
}

// rank scores every answer for a question vector and returns the best two
// (answer -1 when there is none).
func (ix *index) rank(q query, sc *scratch) (best, second ranked) {
	for _, fw := range q.vec {
		for _, p := range ix.docs[fw.id] {
			sc.doc[p.id] += fw.w * p.w
		}
		for _, p := range ix.centroids[fw.id] {
			sc.cent[p.id] += fw.w * p.w
		}
		sq := fw.w * fw.w
		for _, a := range ix.answerText[fw.id] {
			sc.text[a] += sq
		}
		if ix.kind[fw.id] == kindChar {
			for _, a := range ix.vocab[fw.id] {
				sc.chars[a] += sq
			}
			continue
		}
		for _, a := range ix.vocab[fw.id] { // content words
			sc.cover[a] += sq
			sc.content[a] = true
		}
	}
	// The best question doc of each answer.
	knn := make([]float32, len(ix.answers))
	bestDoc := make([]int32, len(ix.answers))
	for i := range bestDoc {
		bestDoc[i] = -1
	}
	for di, s := range sc.doc {
		a := ix.docInfo[di].answer
		if s > knn[a] {
			knn[a], bestDoc[a] = s, int32(di)
		}
	}
	total := 1 + ix.p.pairWeight + ix.p.charWeight
	// An answer's text is matched on content: the question's content words
	// and their character n-grams.
	textMass := q.content + ix.p.charWeight
	best, second = ranked{answer: -1}, ranked{answer: -1}
	for ai := range ix.answers {
		blend := (ix.p.knnWeight*float64(knn[ai]) + (1-ix.p.knnWeight)*float64(sc.cent[ai])) / total
		// Words of the question in the answer's text add to what its
		// questions matched (and alone, "do you take PayPal", can carry it).
		text := ix.p.answerWeight * float64(sc.text[ai]) / textMass
		s := blend + text*(1-blend)
		if s <= 0 {
			continue
		}
		cover := 0.0
		if q.content > 0 {
			cover = float64(sc.cover[ai]) / q.content
		}
		// A misspelt word ("verzendkostn") is found by its character
		// n-grams: when most of the question's n-gram weight is the
		// answer's, that counts as using its words.
		content := sc.content[ai]
		if chars := float64(sc.chars[ai]) / ix.p.charWeight; chars >= ix.p.minCoverage*2 && q.content > 0 {
			content = true
			cover = max(cover, chars)
		}
		if content {
			s = (1-ix.p.coverWeight)*s + ix.p.coverWeight*cover
		}
		r := ranked{answer: int32(ai), entry: ix.answers[ai].entry, score: s, coverage: cover, content: content}
		if d := bestDoc[ai]; d >= 0 {
			r.entry = ix.docInfo[d].entry
		}
		switch {
		case best.answer < 0 || s > best.score:
			best, second = r, best
		case second.answer < 0 || s > second.score:
			second = r
		}
	}
	return best, second
}
