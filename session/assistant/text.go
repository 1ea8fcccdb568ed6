package assistant

import (
	"strings"
	"unicode"
)

// fold lowercases s and strips diacritics from Latin letters, so "één",
// "Een" and "een" are one word.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		r = unicode.ToLower(r)
		switch r {
		case 'à', 'á', 'â', 'ã', 'ä', 'å':
			r = 'a'
		case 'è', 'é', 'ê', 'ë':
			r = 'e'
		case 'ì', 'í', 'î', 'ï':
			r = 'i'
		case 'ò', 'ó', 'ô', 'õ', 'ö':
			r = 'o'
		case 'ù', 'ú', 'û', 'ü':
			r = 'u'
		case 'ç':
			r = 'c'
		case 'ñ':
			r = 'n'
		case 'ÿ', 'ý':
			r = 'y'
		case '’', '‘':
			r = '\''
		}
		b.WriteRune(r)
	}
	return b.String()
}

// words splits folded text into words of letters and digits. Apostrophes
// inside a word are dropped ("don't" is "dont", "auto's" is "autos").
func words(s string) []string {
	s = fold(s)
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur.WriteRune(r)
		case r == '\'' && cur.Len() > 0:
		default:
			flush()
		}
	}
	flush()
	return out
}

// stopwords are English and Dutch words that carry no topic.
func stopwords() map[string]bool {
	list := `a an the and or but if of at by for with about to from in on into over under
up down out off is are was were be been being am do does did doing have has had having
i me my mine you your yours he him his she her it its we us our they them their this that
these those what which who whom whose when where why how can could would should will shall
may might must not no yes so than too very just also any some all each there here then
please hi hello hey thanks thank get got want need know tell like would im ive id dont
de het een en of maar als van aan bij voor met over tot naar uit in op is zijn was waren
ben bent wordt worden werd heb hebt heeft hebben had doe doet deed ik mij me mijn je jij jou
jouw u uw hij hem zijn zij ze haar het wij we ons onze jullie hun hen dit dat deze die wat
welk welke wie waar wanneer waarom hoe kan kun kunt kunnen zou zouden moet moeten mag mogen
wil wilt willen zal zullen niet geen wel ja nee dus dan ook al alle elke er hier daar graag
hallo hoi bedankt dank even nog toch eens hoeveel veel much many often vaak zo`
	m := map[string]bool{}
	for _, w := range strings.Fields(list) {
		m[w] = true
	}
	return m
}

// stem strips common English and Dutch inflections. Both the knowledge and
// the question go through it, so what matters is that variants of a word
// meet, not linguistic exactness.
func stem(w string) string {
	if len(w) <= 3 {
		return w
	}
	for _, r := range []struct{ suffix, repl string }{
		{"heden", "heid"}, {"ingen", ""}, {"ities", "ity"}, {"ies", "y"}, {"ing", ""},
		{"tjes", ""}, {"tje", ""}, {"jes", ""}, {"en", ""}, {"es", ""}, {"ed", ""},
		{"ly", ""}, {"'s", ""}, {"s", ""}, {"e", ""},
	} {
		if strings.HasSuffix(w, r.suffix) && len(w)-len(r.suffix)+len(r.repl) >= 3 {
			if r.suffix == "s" && strings.HasSuffix(w, "ss") {
				continue
			}
			w = w[:len(w)-len(r.suffix)] + r.repl
			break
		}
	}
	// bestell(en) / bestel: undouble a final consonant pair.
	if n := len(w); n >= 4 && w[n-1] == w[n-2] && !strings.ContainsRune("aeiou", rune(w[n-1])) {
		w = w[:n-1]
	}
	// retourneer / retourner(en), maak / mak(en): Dutch doubles a vowel in
	// an open syllable; one vowel stands for both.
	for _, v := range []string{"aa", "ee", "oo", "uu"} {
		w = strings.ReplaceAll(w, v, v[:1])
	}
	return w
}

// terms turns text into index terms: folded, stopwords dropped, stemmed.
func terms(text string, stop map[string]bool) []string {
	ws := words(text)
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		if stop[w] {
			continue
		}
		out = append(out, stem(w))
	}
	return out
}

// actionWords finds the word positions (as words numbers them) of a Dutch
// question's action: in a clause with a modal verb, Dutch puts the verb
// the modal governs at the end ("Ik wil mijn bestelling retourneren",
// "Hoe kan ik een artikel retourneren"), and that verb says what the
// visitor wants done with the things the other words name. A clause ends
// at punctuation.
//
// English has no such fixed place: the same rule after English modals
// ("want to return", "can I pay") cost CLINC150 val about a point of
// correct answers (docs/assistant.md), so it is Dutch only.
func actionWords(text string) map[int]bool {
	out := map[int]bool{}
	modals := dutchModals()
	base := 0
	for _, clause := range strings.FieldsFunc(fold(text), func(r rune) bool { return strings.ContainsRune(".,;:!?", r) }) {
		ws := words(clause)
		for i, w := range ws {
			if modals[w] {
				if last := len(ws) - 1; last > i {
					out[base+last] = true
				}
				break
			}
		}
		base += len(ws)
	}
	return out
}

// dutchModals are the modal (and "gaan") verb forms that send the verb
// they govern to the end of the clause.
func dutchModals() map[string]bool {
	return set(`wil wilt willen kan kun kunt kunnen moet moeten mag mogen zou zouden ga gaat gaan`)
}
