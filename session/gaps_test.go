package session

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGroupGaps(t *testing.T) {
	at := int64(1_000)
	g := func(text string) gap { at++; return gap{Text: text, Conv: "c" + itoa(at), At: at} }
	groups := groupGaps([]gap{
		g("Do you ship to Norway?"),
		g("do you ship to norway"),
		g("Shipping to Norway?"),
		g("Can I pay with bitcoin?"),
		g("Do you ship to Norway?"),
		g("Kan ik betalen met bitcoin"),
		g("what is the capital of France"),
		g("?!"),
	})
	require.Len(t, groups, 4, "%+v", groups)
	require.Equal(t, "Do you ship to Norway?", groups[0].Question, "the most asked wording")
	require.Equal(t, 4, groups[0].Count)
	require.ElementsMatch(t, []string{"do you ship to norway", "Shipping to Norway?"}, groups[0].Examples)
	require.Len(t, groups[0].Conversations, 4)
	require.True(t, groups[0].FirstAt.Before(groups[0].LastAt.Time))
	var bitcoin int
	for _, gr := range groups {
		if gr.Question == "Can I pay with bitcoin?" || gr.Question == "Kan ik betalen met bitcoin" {
			bitcoin += gr.Count
		}
	}
	require.Equal(t, 2, bitcoin, "bitcoin questions are kept (in one group or two languages)")
}

// TestUnsureQuestionsAreKeptAsGaps: what the assistant could not answer is
// listed for admins; what it answered, and requests for a person, are not.
func TestUnsureQuestionsAreKeptAsGaps(t *testing.T) {
	n, ctx := newTestNode(t)
	m, err := n.CreateMerchant(ctx, "Gaps", nil, "")
	require.NoError(t, err)
	for i, text := range []string{"?do you sell gift cards", "?gift cards", "shipping", "human please", "?do you sell gift cards"} {
		turn, _ := n.start(t, m, VisitorInfo{})
		require.NoError(t, n.VisitorMessage(ctx, turn, "q"+itoa(int64(i)), text))
	}
	today := time.Now().UTC().Format(time.DateOnly)
	groups, err := n.KnowledgeGaps(context.Background(), m.ID, today, today)
	require.NoError(t, err)
	require.Len(t, groups, 1, "%+v", groups)
	require.Equal(t, "?do you sell gift cards", groups[0].Question)
	require.Equal(t, 3, groups[0].Count)
	_, err = n.KnowledgeGaps(ctx, m.ID, "2026-13-01", today)
	require.Equal(t, KindInvalid, ErrorOf(err).Kind)
}
