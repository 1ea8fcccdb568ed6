package assistant

// Params are the retriever's knobs; DefaultParams are the ones in use.
// docs/assistant.md says how each was chosen and what it buys; the
// thresholds come from CLINC150's val and oos_val splits and the v1 shop
// tests, never from its test split.
type Params struct {
	PairWeight   float64 // pairs of adjacent words, against words at 1
	CharWeight   float64 // character n-grams of content words
	CharMin      int
	CharMax      int
	StopWeight   float64 // a stop word's idf is scaled by this
	StopPrior    float64 // and counts this share of answers as using it
	AnswerWeight float64 // an answer text's coverage of the question, against a question doc's similarity
	KnnWeight    float64 // the best question doc, against the answer's centroid
	CoverWeight  float64 // coverage's share of the score
	MinScore     float64 // the best answer's score must reach this
	MinMargin    float64 // and lead the second answer by this much
	MinCoverage  float64 // and use this share of the question's word weight
	ActionWeight float64 // a question's action word (see actionWords) weighs 1+this

	// The linear model (linear.go); modelWeight 0 leaves it out.
	ModelWeight    float64 // its share of the combined score
	Epochs         int
	Hinge          float64 // the margin it is trained to keep
	Aggressiveness float64 // PA-I's C: the largest step
	Prune          float64 // weights smaller than this are dropped
	AnswerDocs     bool    // answer texts are training examples too
	ModelStop      bool    // stop words are model features
	ModelMinMargin float64 // the least lead in the model's own score (see marginFor)
	Candidates     int     // rivals per training example
	ModelSteps     int     // at most this many training steps (examples × epochs)
	CandidateUsers int     // rivals are found by features of at most this many answers
	ModelChars     bool    // character n-grams are model features
	ModelMaxShare  float64 // features more answers than this share use are not
}

// minScore is the default least score of an answer given.
const minScore = 0.30

func DefaultParams() Params {
	return Params{
		PairWeight:   0.5,
		CharWeight:   0.5,
		CharMin:      3,
		CharMax:      5,
		StopWeight:   1,
		AnswerWeight: 0.5,
		KnnWeight:    0.25,
		CoverWeight:  0.2,
		MinScore:     minScore,
		MinMargin:    0.145,
		MinCoverage:  0.3,
		ActionWeight: 1,

		ModelWeight:    0.5,
		Epochs:         5,
		Hinge:          1,
		Aggressiveness: 1,
		Prune:          1e-4,
		ModelStop:      true,
		ModelMinMargin: 0.36,
		Candidates:     10,
		ModelSteps:     10000,
		CandidateUsers: 64,
		ModelChars:     false,
		ModelMaxShare:  1,
	}
}

// modelWeight is the model's share of the combined score: ModelWeight
// times the share of question docs beyond each answer's first. With one
// question per answer the model has nothing to learn from that the
// retriever does not already see (on CLINC150 val at K = 1 it costs top-1
// answers), and it counts for more the more ways of asking each answer the
// merchant gave.
func (ix *index) modelWeight() float64 {
	if ix.model == nil || len(ix.docInfo) == 0 {
		return 0
	}
	return ix.p.ModelWeight * (1 - float64(len(ix.answers))/float64(len(ix.docInfo)))
}

// ranked is one answer's standing for a question.
type ranked struct {
	answer    int32   // -1: none
	entry     int32   // the entry to answer with: the best question doc's
	score     float64 // the combined score
	retrieval float64 // the retriever's score, in [0, 1]
	coverage  float64 // share of the question's content word weight the answer uses
	content   bool    // the answer uses one of the question's content words
}

// scratch is per-question working memory, sized to the index.
type scratch struct {
	doc                                []float32
	cent, text, cover, chars, knn, lin []float32
	bestDoc                            []int32
	content                            []bool
	// all, when set, collects every answer scored (for Retrieve).
	all *[]ranked
}

func (ix *index) newScratch() *scratch {
	na := len(ix.answers)
	return &scratch{
		doc: make([]float32, len(ix.docInfo)), cent: make([]float32, na),
		text: make([]float32, na), cover: make([]float32, na),
		chars: make([]float32, na), knn: make([]float32, na), lin: make([]float32, na),
		bestDoc: make([]int32, na),
		content: make([]bool, na),
	}
}

// standing is the retriever's and the model's view of every answer.
type standing struct {
	best, second ranked // by the combined score
	// The retriever's and the model's own best answers (-1: none).
	retrieverBest, modelBest int32
	modelMargin              float64
}

// rank scores every answer for a question vector and returns the best two
// (answer -1 when there is none).
func (ix *index) rank(q query, sc *scratch) standing {
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
			for _, a := range ix.inVocab[fw.id] {
				sc.chars[a] += sq
			}
			continue
		}
		for _, a := range ix.inVocab[fw.id] { // content words
			sc.cover[a] += sq
			sc.content[a] = true
		}
	}
	if ix.model != nil {
		ix.model.scoreInto(q, sc.lin)
	}
	// The best question doc of each answer.
	for i := range sc.bestDoc {
		sc.bestDoc[i] = -1
	}
	for di, s := range sc.doc {
		a := ix.docInfo[di].answer
		if s > sc.knn[a] {
			sc.knn[a], sc.bestDoc[a] = s, int32(di)
		}
	}
	total := 1 + ix.p.PairWeight + ix.p.CharWeight
	// An answer's text is matched on content: the question's content words
	// and their character n-grams.
	textMass := q.content + ix.p.CharWeight
	st := standing{best: ranked{answer: -1}, second: ranked{answer: -1}, retrieverBest: -1, modelBest: -1}
	var retrieverTop float64
	var model1, model2 float32
	mw := ix.modelWeight()
	for ai := range ix.answers {
		if l := sc.lin[ai]; st.modelBest < 0 || l > model1 {
			model2, model1, st.modelBest = model1, l, int32(ai)
		} else if l > model2 {
			model2 = l
		}
		blend := (ix.p.KnnWeight*float64(sc.knn[ai]) + (1-ix.p.KnnWeight)*float64(sc.cent[ai])) / total
		// Words of the question in the answer's text add to what its
		// questions matched (and alone, "do you take PayPal", can carry it).
		text := ix.p.AnswerWeight * float64(sc.text[ai]) / textMass
		s := blend + text*(1-blend)
		cover := 0.0
		if q.content > 0 {
			cover = float64(sc.cover[ai]) / q.content
		}
		// A misspelt word ("verzendkostn") is found by its character
		// n-grams: when most of the question's n-gram weight is the
		// answer's, that counts as using its words.
		content := sc.content[ai]
		if chars := float64(sc.chars[ai]) / ix.p.CharWeight; chars >= ix.p.MinCoverage*2 && q.content > 0 {
			content = true
			cover = max(cover, chars)
		}
		if content {
			s = (1-ix.p.CoverWeight)*s + ix.p.CoverWeight*cover
		}
		if s > retrieverTop {
			retrieverTop, st.retrieverBest = s, int32(ai)
		}
		combined := (1-mw)*s + mw*float64(sc.lin[ai])
		if s <= 0 && combined <= 0 {
			continue
		}
		r := ranked{answer: int32(ai), entry: ix.answers[ai].entry, score: combined, retrieval: s, coverage: cover, content: content}
		if d := sc.bestDoc[ai]; d >= 0 {
			r.entry = ix.docInfo[d].entry
		}
		if sc.all != nil {
			*sc.all = append(*sc.all, r)
		}
		switch {
		case st.best.answer < 0 || combined > st.best.score:
			st.best, st.second = r, st.best
		case st.second.answer < 0 || combined > st.second.score:
			st.second = r
		}
	}
	st.modelMargin = float64(model1 - model2)
	return st
}
