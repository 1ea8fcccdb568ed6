package assistant

// Feature classes: a stemmed content word, a stop word, a pair of
// adjacent words, a character n-gram of a content word. Stop words and
// content words are one kind for weighing (kindWord).
type featClass uint8

const (
	classWord featClass = iota
	classStop
	classPair
	classChar
	numClasses
)

func (c featClass) kind() uint8 {
	switch c {
	case classWord, classStop:
		return kindWord
	case classPair:
		return kindPair
	}
	return kindChar
}

// vocabulary interns feature names, one map per class so that a name needs
// no prefix and a lookup of a word or n-gram (a substring) allocates
// nothing.
type vocabulary struct {
	ids [numClasses]map[string]int32
	n   int32
}

func newVocabulary() vocabulary {
	var v vocabulary
	for i := range v.ids {
		v.ids[i] = map[string]int32{}
	}
	return v
}

// lookup returns the id of the feature named s (or b, for a pair), -1 when
// there is none.
func (v *vocabulary) lookup(c featClass, s string, b []byte) int32 {
	var id int32
	var ok bool
	if b != nil {
		id, ok = v.ids[c][string(b)]
	} else {
		id, ok = v.ids[c][s]
	}
	if !ok {
		return -1
	}
	return id
}

// intern returns the feature's id, adding it when it is new.
func (v *vocabulary) intern(c featClass, s string, b []byte) (id int32, added bool) {
	if id := v.lookup(c, s, b); id >= 0 {
		return id, false
	}
	if b != nil {
		s = string(b)
	}
	id = v.n
	v.ids[c][s] = id
	v.n++
	return id, true
}

// tfEntry is a feature of a text and how often the text has it.
type tfEntry struct {
	id    int32 // -1: a question's feature the knowledge lacks
	class featClass
	n     float64
	boost float64 // extra weight of the question's action word (0: none)
}

// featurize calls emit with each feature of text, in the order they
// occur: words (stemmed, or stop words as they are), their character
// n-grams, then pairs of adjacent words. act marks action words by
// position (nil: none); emit's result is the index of the feature in the
// caller's list, so the action word's boost can be set there.
func (p *Params) featurize(text string, stop map[string]bool, act map[int]bool, emit func(c featClass, s string, b []byte) *tfEntry) {
	ws := words(text)
	seq := make([]string, 0, len(ws))
	var bracket []byte
	var offs []int
	for wi, w := range ws {
		if stop[w] {
			emit(classStop, w, nil)
			seq = append(seq, w)
			continue
		}
		t := stem(w)
		e := emit(classWord, t, nil)
		if act[wi] {
			e.boost = p.ActionWeight
		}
		seq = append(seq, t)
		bracket = append(append(append(bracket[:0], '<'), w...), '>')
		offs = offs[:0]
		for i := range string(bracket) {
			offs = append(offs, i)
		}
		offs = append(offs, len(bracket))
		nr := len(offs) - 1
		for n := p.CharMin; n <= p.CharMax; n++ {
			for i := 0; i+n <= nr; i++ {
				emit(classChar, "", bracket[offs[i]:offs[i+n]])
			}
		}
	}
	var pair []byte
	for i := 1; i < len(seq); i++ {
		pair = append(append(append(pair[:0], seq[i-1]...), ' '), seq[i]...)
		emit(classPair, "", pair)
	}
}

// docFeatures collects the features of the knowledge's texts as ids,
// interning new ones; its buffers serve text after text.
type docFeatures struct {
	p     *Params
	stop  map[string]bool
	vocab *vocabulary
	class []featClass // by id
	pos   []int32     // by id: index in out, valid when stamp[id] == text
	stamp []int32
	text  int32
	out   []tfEntry
}

func (d *docFeatures) features(text string) []tfEntry {
	d.text++
	d.out = d.out[:0]
	d.p.featurize(text, d.stop, nil, func(c featClass, s string, b []byte) *tfEntry {
		id, added := d.vocab.intern(c, s, b)
		if added {
			d.class = append(d.class, c)
			d.pos = append(d.pos, 0)
			d.stamp = append(d.stamp, 0)
		}
		if d.stamp[id] == d.text {
			e := &d.out[d.pos[id]]
			e.n++
			return e
		}
		d.stamp[id], d.pos[id] = d.text, int32(len(d.out))
		d.out = append(d.out, tfEntry{id: id, class: c, n: 1})
		return &d.out[len(d.out)-1]
	})
	out := make([]tfEntry, len(d.out))
	copy(out, d.out)
	return out
}

// queryFeatures are a question's features: known ones by id, the others
// (id -1) by class, so they can count against every answer. Dutch action
// words weigh more (actionWords).
func (ix *index) queryFeatures(text string, stop map[string]bool) []tfEntry {
	var act map[int]bool
	if ix.p.ActionWeight > 0 {
		act = actionWords(text)
	}
	var out []tfEntry
	known := map[int32]int{}
	unknown := map[string]int{}
	ix.p.featurize(text, stop, act, func(c featClass, s string, b []byte) *tfEntry {
		id := ix.vocab.lookup(c, s, b)
		if id >= 0 {
			if i, ok := known[id]; ok {
				out[i].n++
				return &out[i]
			}
			known[id] = len(out)
		} else {
			key := string(rune('0'+c)) + s + string(b)
			if i, ok := unknown[key]; ok {
				out[i].n++
				return &out[i]
			}
			unknown[key] = len(out)
		}
		out = append(out, tfEntry{id: id, class: c, n: 1})
		return &out[len(out)-1]
	})
	return out
}
