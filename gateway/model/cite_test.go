package model

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// run feeds pieces through a citation stripper and returns what came out,
// piece by piece, with the final flush last.
func run(ids []string, pieces []string) ([]string, *citations) {
	c := newCitations(ids)
	var out []string
	for _, p := range pieces {
		out = append(out, c.feed(p))
	}
	return append(out, c.flush()), c
}

func TestCitations(t *testing.T) {
	ids := []string{"k_ship", "k_return", "k_pay"}
	cases := []struct {
		name, in, want string
		sources        []string
	}{
		{"marker before the full stop", "Ships in 3 days [1].", "Ships in 3 days.", []string{"k_ship"}},
		{"order of first citation", "Returns are free [2]. Shipping takes 3 days [1][2].", "Returns are free. Shipping takes 3 days.", []string{"k_return", "k_ship"}},
		{"marker opens the answer", "[3] We take iDEAL.", "We take iDEAL.", []string{"k_pay"}},
		{"list in one marker", "Both apply [1, 3].", "Both apply.", []string{"k_ship", "k_pay"}},
		{"hash and caret forms", "Yes [#2] and no [^3]", "Yes and no", []string{"k_return", "k_pay"}},
		{"out of range is stripped, not a source", "Maybe [7] not.", "Maybe not.", nil},
		{"space before punctuation after a marker", "Free [2] .", "Free.", []string{"k_return"}},
		{"markers at line ends", "One [1]\n[2] Two", "One\nTwo", []string{"k_ship", "k_return"}},
		{"a link is text", "See [our page](https://shop.example/faq).", "See [our page](https://shop.example/faq).", nil},
		{"brackets that are not markers", "Sizes [S, M] and [1 2] and [1000] and []", "Sizes [S, M] and [1 2] and [1000] and []", nil},
		{"unclosed at the end", "Call us [1", "Call us [1", nil},
		{"lone bracket at the end", "Wait [", "Wait [", nil},
		{"bracket inside a candidate", "x [[2] y", "x [ y", []string{"k_return"}},
		{"leading blank lines and spaces", "\n\n  Hello!", "Hello!", nil},
		{"no markers", "Hi, how can I help?", "Hi, how can I help?", nil},
		{"utf-8 around markers", "Verzending is gratis — altijd [1]. Één dag [2]!", "Verzending is gratis — altijd. Één dag!", []string{"k_ship", "k_return"}},
		{"long bracketed text", "Note [" + strings.Repeat("9", 40) + "]", "Note [" + strings.Repeat("9", 40) + "]", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			splits := map[string][]string{"whole": {tc.in}}
			// Every two-piece split, and one byte at a time: a marker
			// may be cut anywhere.
			for i := 1; i < len(tc.in); i++ {
				splits["at "+string(rune('0'+i%10))+"/"+tc.in[:i]] = []string{tc.in[:i], tc.in[i:]}
			}
			var bytes []string
			for i := 0; i < len(tc.in); i++ {
				bytes = append(bytes, tc.in[i:i+1])
			}
			splits["bytes"] = bytes
			for name, pieces := range splits {
				out, c := run(ids, pieces)
				require.Equal(t, tc.want, strings.Join(out, ""), "split %s", name)
				require.Equal(t, tc.sources, c.sources(), "split %s", name)
			}
		})
	}
}

// TestCitationsHoldOnlyWhatTheyMust: text is passed on as soon as it
// cannot be part of a marker, so the visitor sees it without delay.
func TestCitationsHoldOnlyWhatTheyMust(t *testing.T) {
	c := newCitations([]string{"a"})
	require.Equal(t, "Ships in", c.feed("Ships in "))
	require.Equal(t, " 3 days", c.feed("3 days ["))
	require.Equal(t, "", c.feed("1"))
	require.Equal(t, ". Free [see", c.feed("]. Free [see"), "[s cannot start a marker")
	require.Equal(t, " below", c.feed(" below ["))
	require.Equal(t, " [x", c.feed("x"))
	require.Equal(t, "", c.flush())
	require.Equal(t, []string{"a"}, c.sources())
}

func TestMarkerState(t *testing.T) {
	for in, want := range map[string]markState{
		"[": markOpen, "[1": markOpen, "[12": markOpen, "[1,": markOpen, "[1, ": markOpen, "[ 1 ": markOpen, "[#": markOpen,
		"[1]": markDone, "[1, 2]": markDone, "[#3]": markDone, "[^4]": markDone, "[ 5 ]": markDone, "[1;2]": markDone,
		"[]": markBad, "[a": markBad, "[1 2": markBad, "[1,]": markBad, "[1234": markBad, "[1#": markBad, "[,": markBad,
	} {
		require.Equal(t, want, markerState(in), in)
	}
}
