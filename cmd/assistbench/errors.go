package main

import (
	"context"
	"fmt"
	"io"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/assistant"
)

// printErrors lists val queries whose best answer is another intent: for
// looking at what the method gets wrong.
func printErrors(ctx context.Context, w io.Writer, set *clinc, p assistant.Params, k int, n int) error {
	kn := set.knowledge(k, layoutEntries)
	a := assistant.NewWithParams(p)
	for _, e := range set.Val {
		d, err := a.Decide(ctx, session.Question{MerchantID: kn.ks.MerchantID, Text: e.Text, Knowledge: kn.ks})
		if err != nil {
			return err
		}
		if got := kn.intentOf[d.Best]; got != e.Intent && n > 0 {
			n--
			fmt.Fprintf(w, "%-22s -> %-22s %.2f %.2f | %s\n", e.Intent, got, d.Score, d.Margin, e.Text)
		}
	}
	return nil
}
