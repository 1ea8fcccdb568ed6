package assistant

import (
	"cmp"
	"math"
	"slices"
)

// linear is a discriminative model of one knowledge version: a weight per
// (feature, answer), learnt from the merchant's own question docs by a
// multiclass passive-aggressive perceptron with averaged weights. Where the
// centroid credits every word of an answer's phrasings, the model learns
// which words tell that answer from the ones it is confused with: words two
// answers share lose weight, the word that separates them gains it.
//
// Weights are stored like the centroids, as postings per feature, so
// scoring a question costs one pass over its features' postings.
type linear struct {
	w [][]posting // feature → (answer, weight)
}

// slotTable maps (feature, answer) to a slot of the weight arrays during
// training: open addressing over uint64 keys, so the update loop allocates
// nothing per step.
type slotTable struct {
	keys  []uint64 // key+1; 0 is empty
	slots []int32
	n     int
}

func newSlotTable(hint int) *slotTable {
	size := 1024
	for size < hint*2 {
		size *= 2
	}
	return &slotTable{keys: make([]uint64, size), slots: make([]int32, size)}
}

func mix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	return k
}

// get returns the slot of key, or -1.
func (t *slotTable) get(key uint64) int32 {
	mask := uint64(len(t.keys) - 1)
	for i := mix(key) & mask; ; i = (i + 1) & mask {
		switch t.keys[i] {
		case 0:
			return -1
		case key + 1:
			return t.slots[i]
		}
	}
}

func (t *slotTable) put(key uint64, slot int32) {
	if (t.n+1)*2 > len(t.keys) {
		old, oldSlots := t.keys, t.slots
		t.keys, t.slots = make([]uint64, 2*len(old)), make([]int32, 2*len(old))
		t.n = 0
		for i, k := range old {
			if k != 0 {
				t.put(k-1, oldSlots[i])
			}
		}
	}
	mask := uint64(len(t.keys) - 1)
	i := mix(key) & mask
	for t.keys[i] != 0 {
		i = (i + 1) & mask
	}
	t.keys[i], t.slots[i] = key+1, slot
	t.n++
}

// example is one training doc: its vector and its answer.
type example struct {
	vec    []featWeight
	answer int32
	norm2  float64
}

// trainLinear learns the model from examples. users lists, per feature,
// the answers using it.
//
// Scoring every answer for every example each epoch would cost as much as
// a question per example (seconds for 2,000 entries), so each example is
// weighed only against its candidates: the answers that share its rarer
// features most (a feature of at most p.CandidateUsers answers), found once.
// Those are the answers it can be confused with; the others never come
// near it. Deterministic: the order of the examples is a seeded shuffle.
func trainLinear(nFeat, nAnswers int, exs []example, users [][]int32, p *Params) *linear {
	type slot struct {
		answer int32
		w, u   float64 // weight, and the sum of c·Δ for averaging
	}
	table := newSlotTable(len(exs) * 32)
	var slots []slot
	byFeat := make([][]int32, nFeat) // feature → its slots
	at := func(f, a int32) int32 {
		key := uint64(f)<<32 | uint64(uint32(a))
		s := table.get(key)
		if s < 0 {
			s = int32(len(slots))
			slots = append(slots, slot{answer: a})
			table.put(key, s)
			byFeat[f] = append(byFeat[f], s)
		}
		return s
	}
	dot := func(ex *example, a int32) float64 {
		var sum float64
		for _, fw := range ex.vec {
			if s := table.get(uint64(fw.id)<<32 | uint64(uint32(a))); s >= 0 {
				sum += float64(fw.w) * slots[s].w
			}
		}
		return sum
	}
	cands := candidates(nAnswers, exs, users, p)
	order := make([]int, len(exs))
	for i := range order {
		order[i] = i
	}
	c := 1.0 // update counter for averaging
	rng := uint64(0x9e3779b97f4a7c15)
	// Epochs are cut so that training takes at most p.ModelSteps updates:
	// knowledge with tens of thousands of phrasings trains in one pass
	// rather than holding up its first question for seconds.
	epochs := min(p.Epochs, max(1, p.ModelSteps/max(len(exs), 1)))
	for epoch := 0; epoch < epochs; epoch++ {
		for i := len(order) - 1; i > 0; i-- { // Fisher–Yates with a fixed seed
			rng = mix(rng + 0x9e3779b97f4a7c15)
			j := int(rng % uint64(i+1))
			order[i], order[j] = order[j], order[i]
		}
		for _, ei := range order {
			ex := &exs[ei]
			sy := dot(ex, ex.answer)
			rival, sr := int32(-1), 0.0
			for _, a := range cands[ei] {
				if s := dot(ex, a); rival < 0 || s > sr {
					rival, sr = a, s
				}
			}
			loss := p.Hinge - sy + sr
			if loss > 0 && ex.norm2 > 0 {
				n2 := ex.norm2
				if rival >= 0 {
					n2 *= 2
				}
				tau := min(p.Aggressiveness, loss/n2)
				for _, fw := range ex.vec {
					d := tau * float64(fw.w)
					s := &slots[at(fw.id, ex.answer)]
					s.w += d
					s.u += c * d
					if rival >= 0 {
						s := &slots[at(fw.id, rival)]
						s.w -= d
						s.u -= c * d
					}
				}
			}
			c++
		}
	}
	m := &linear{w: make([][]posting, nFeat)}
	for f, ss := range byFeat {
		for _, s := range ss {
			w := slots[s].w - slots[s].u/c
			if math.Abs(w) < p.Prune {
				continue
			}
			m.w[f] = append(m.w[f], posting{id: slots[s].answer, w: float32(w)})
		}
	}
	return m
}

// candidates finds each example's rivals: the p.Candidates answers other
// than its own with the most weight in the features they share with it,
// counting features of at most p.CandidateUsers answers.
func candidates(nAnswers int, exs []example, users [][]int32, p *Params) [][]int32 {
	overlap := make([]float64, nAnswers)
	var touched []int32
	out := make([][]int32, len(exs))
	for ei := range exs {
		ex := &exs[ei]
		touched = touched[:0]
		for _, fw := range ex.vec {
			u := users[fw.id]
			if len(u) > p.CandidateUsers {
				continue
			}
			for _, a := range u {
				if a == ex.answer {
					continue
				}
				if overlap[a] == 0 {
					touched = append(touched, a)
				}
				overlap[a] += float64(fw.w) * float64(fw.w)
			}
		}
		slices.SortFunc(touched, func(a, b int32) int {
			if c := cmp.Compare(overlap[b], overlap[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		n := min(len(touched), p.Candidates)
		out[ei] = slices.Clone(touched[:n])
		for _, a := range touched {
			overlap[a] = 0
		}
	}
	return out
}

// scoreInto adds the model's score of every answer for q to out.
func (m *linear) scoreInto(q query, out []float32) {
	for _, fw := range q.vec {
		for _, p := range m.w[fw.id] {
			out[p.id] += fw.w * p.w
		}
	}
}
