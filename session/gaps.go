package session

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Knowledge gaps: the questions the assistant could not answer, kept per
// day so an admin can see what the knowledge lacks ("a low resolution rate
// means the knowledge needs filling in") and add it.

// gap is one unanswered question, as stored.
type gap struct {
	Text string `json:"text"`
	Conv string `json:"conv"`
	At   int64  `json:"at"`
}

// Limits on the gaps kept: per merchant and day, and how long.
const (
	maxGapsPerDay = 2000
	gapsTTL       = 120 * 24 * time.Hour
)

// gapEdit records text as unanswered in conversation conv, on today's date
// in the merchant's zone, once the step that offered a person has run.
func (s *Service) gapEdit(m *Merchant, conv, text string, now time.Time) indexEdit {
	day := now.In(m.Schedule.Location()).Format(time.DateOnly)
	text, _ = Clip(strings.TrimSpace(text), 500)
	b, _ := json.Marshal(gap{Text: text, Conv: conv, At: now.UnixMilli()})
	return indexEdit{kind: editLPush, key: s.keys.gaps(m.ID, day), member: string(b), keep: maxGapsPerDay, ttl: gapsTTL}
}

// GapGroup is a set of similar unanswered questions.
type GapGroup struct {
	Question      string   `json:"question"` // the most typical wording
	Count         int      `json:"count"`
	Examples      []string `json:"examples"` // up to five other wordings
	Conversations []string `json:"conversation_ids"`
	FirstAt       Time     `json:"first_at"`
	LastAt        Time     `json:"last_at"`
}

// KnowledgeGaps groups the questions the assistant could not answer
// between two dates (inclusive, in the merchant's zone), most asked first.
func (s *Service) KnowledgeGaps(ctx context.Context, merchantID, from, to string) ([]GapGroup, error) {
	m, err := s.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	days, _, _, err := s.dateRange(m, from, to)
	if err != nil {
		return nil, err
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]interface{ Val() []string }, len(days))
	for i, d := range days {
		cmds[i] = pipe.LRange(ctx, s.keys.gaps(merchantID, d), 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	var all []gap
	for _, c := range cmds {
		for _, v := range c.Val() {
			var g gap
			if json.Unmarshal([]byte(v), &g) == nil && g.Text != "" {
				all = append(all, g)
			}
		}
	}
	return groupGaps(all), nil
}

// maxGapGroups bounds the answer.
const maxGapGroups = 100

// groupGaps puts questions that share most of their words together: each
// question joins the group whose words it overlaps most (Jaccard ≥ 0.5),
// or starts one.
func groupGaps(gaps []gap) []GapGroup {
	sort.Slice(gaps, func(i, j int) bool { return gaps[i].At < gaps[j].At })
	type group struct {
		words   map[string]int // how many of its questions use each word
		texts   map[string]int // wording -> count
		convs   []string
		count   int
		first   int64
		last    int64
		members []map[string]bool
	}
	var groups []*group
	for _, g := range gaps {
		words := gapWords(g.Text)
		if len(words) == 0 {
			continue
		}
		var best *group
		bestScore := 0.0
		for _, gr := range groups {
			// Against the group's core: the words most of its questions use.
			core := map[string]bool{}
			for w, n := range gr.words {
				if 2*n >= gr.count {
					core[w] = true
				}
			}
			if sc := jaccard(words, core); sc > bestScore {
				best, bestScore = gr, sc
			}
		}
		if best == nil || bestScore < 0.5 {
			best = &group{words: map[string]int{}, texts: map[string]int{}, first: g.At}
			groups = append(groups, best)
		}
		best.count++
		for w := range words {
			best.words[w]++
		}
		best.texts[g.Text]++
		best.last = g.At
		if len(best.convs) < 20 {
			best.convs = append(best.convs, g.Conv)
		}
	}
	out := make([]GapGroup, 0, len(groups))
	for _, gr := range groups {
		type wording struct {
			text string
			n    int
		}
		var ws []wording
		for t, n := range gr.texts {
			ws = append(ws, wording{t, n})
		}
		sort.Slice(ws, func(i, j int) bool {
			if ws[i].n != ws[j].n {
				return ws[i].n > ws[j].n
			}
			if len(ws[i].text) != len(ws[j].text) {
				return len(ws[i].text) < len(ws[j].text)
			}
			return ws[i].text < ws[j].text
		})
		gg := GapGroup{Question: ws[0].text, Count: gr.count, Examples: []string{}, Conversations: gr.convs,
			FirstAt: msTime(itoa(gr.first)), LastAt: msTime(itoa(gr.last))}
		for _, w := range ws[1:min(len(ws), 6)] {
			gg.Examples = append(gg.Examples, w.text)
		}
		out = append(out, gg)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].LastAt.After(out[j].LastAt.Time)
	})
	if len(out) > maxGapGroups {
		out = out[:maxGapGroups]
	}
	return out
}

func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	inter := 0
	for w := range a {
		if b[w] {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// gapWords are a question's telling words: folded to lower case without
// accents, without the words every question has, and cut to a rough stem
// so "returns" and "return" meet.
func gapWords(text string) map[string]bool {
	folded := norm.NFD.String(strings.ToLower(text))
	var b strings.Builder
	for _, r := range folded {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	out := map[string]bool{}
	for _, w := range strings.Fields(b.String()) {
		if gapStop[w] || len(w) < 2 {
			continue
		}
		for _, suf := range []string{"ing", "en", "es", "ed", "s", "e"} {
			if len(w) > len(suf)+3 && strings.HasSuffix(w, suf) {
				w = w[:len(w)-len(suf)]
				break
			}
		}
		if n := len(w); n > 3 && w[n-1] == w[n-2] && !strings.ContainsRune("aeiou", rune(w[n-1])) {
			w = w[:n-1] // shipping, shipp: ship
		}
		out[w] = true
	}
	return out
}

// gapStop are English and Dutch words that say nothing about a question.
var gapStop = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the is are was be do does did can could would will i you we my your our me it
		this that to of in on for with at by from and or not what how when where why which who there have has
		de het een is zijn was ik je jij u we wij mijn jouw uw ons me mij het dit dat te van in op voor met
		bij uit en of niet wat hoe wanneer waar waarom welke wie er heb hebt heeft kan kun kunt wil wilt`) {
		m[w] = true
	}
	return m
}()
