package main

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/assistant"
)

// setParams applies "Name=value,Name=value" to p (fields of
// assistant.Params), so every variant measured can be named on the
// command line and rerun.
func setParams(p *assistant.Params, spec string) error {
	if strings.TrimSpace(spec) == "" {
		return nil
	}
	v := reflect.ValueOf(p).Elem()
	for _, kv := range strings.Split(spec, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return fmt.Errorf("-set: %q is not Name=value", kv)
		}
		f := v.FieldByName(name)
		if !f.IsValid() || !f.CanSet() {
			return fmt.Errorf("-set: assistant.Params has no field %q", name)
		}
		switch f.Kind() {
		case reflect.Float64:
			x, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return fmt.Errorf("-set %s: %w", name, err)
			}
			f.SetFloat(x)
		case reflect.Int:
			x, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("-set %s: %w", name, err)
			}
			f.SetInt(int64(x))
		case reflect.Bool:
			x, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("-set %s: %w", name, err)
			}
			f.SetBool(x)
		default:
			return fmt.Errorf("-set: %s cannot be set", name)
		}
	}
	return nil
}

// outcome is one query's decision, kept to try thresholds afterwards.
type outcome struct {
	inScope         bool
	right           bool // the best answer is the query's intent
	gated           bool
	agree           bool // the retriever's and the model's best answers are one intent
	score, margin   float64
	modelMargin     float64
	modelWeight     float64
	retrieverRight  bool
	modelRight      bool
	answeredAsIs    bool // what the assistant itself did with its own thresholds
	answeredRightly bool
}

func decide(ctx context.Context, a *assistant.Assistant, b *bench, inScope, oos []example) ([]outcome, error) {
	var out []outcome
	ask := func(e example, in bool) error {
		d, err := a.Decide(ctx, session.Question{MerchantID: b.ks.MerchantID, Locale: "en", Text: e.Text, Knowledge: b.ks})
		if err != nil {
			return err
		}
		o := outcome{inScope: in, gated: d.Gated, score: d.Score, margin: d.Margin, modelMargin: d.ModelMargin, modelWeight: d.ModelWeight}
		o.right = in && d.Best != "" && b.intentOf[d.Best] == e.Intent
		o.retrieverRight = in && d.Retriever != "" && b.intentOf[d.Retriever] == e.Intent
		o.modelRight = in && d.Model != "" && b.intentOf[d.Model] == e.Intent
		o.agree = d.Model == "" || b.intentOf[d.Model] == b.intentOf[d.Retriever]
		o.answeredAsIs = d.Answer.Kind == session.Answered
		o.answeredRightly = o.answeredAsIs && in && b.intentOf[d.Answer.EntryID] == e.Intent
		out = append(out, o)
		return nil
	}
	for _, e := range inScope {
		if err := ask(e, true); err != nil {
			return nil, err
		}
	}
	for _, e := range oos {
		if err := ask(e, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rule is a threshold rule tried by the sweep.
type rule struct {
	minScore, minMargin float64
	minModelMargin      float64 // mixed with minMargin by the model's weight, as the assistant does
	useModelMargin      bool
	agree               bool
}

func (r rule) answers(o outcome) bool {
	m := o.margin
	if r.useModelMargin {
		m = o.modelMargin
	}
	need := (1-o.modelWeight)*r.minMargin + o.modelWeight*r.minModelMargin
	if r.useModelMargin {
		need = r.minMargin
	}
	return o.gated && o.score >= r.minScore && m >= need && (!r.agree || o.agree)
}

type tally struct{ correct, wrong, oosRefused, top1, retrieverTop1, modelTop1 float64 }

func count(os []outcome, r *rule) tally {
	var t tally
	var in, oos float64
	for _, o := range os {
		if !o.inScope {
			oos++
			ans := o.answeredAsIs
			if r != nil {
				ans = r.answers(o)
			}
			if !ans {
				t.oosRefused++
			}
			continue
		}
		in++
		if o.right {
			t.top1++
		}
		if o.retrieverRight {
			t.retrieverTop1++
		}
		if o.modelRight {
			t.modelTop1++
		}
		ans, right := o.answeredAsIs, o.answeredRightly
		if r != nil {
			ans, right = r.answers(o), r.answers(o) && o.right
		}
		switch {
		case right:
			t.correct++
		case ans:
			t.wrong++
		}
	}
	for _, p := range []*float64{&t.correct, &t.wrong, &t.top1, &t.retrieverTop1, &t.modelTop1} {
		*p *= 100 / max(in, 1)
	}
	t.oosRefused *= 100 / max(oos, 1)
	return t
}

// wrongCap is the wrong-answer rate the sweep allows at K: issue 16's
// targets are 3 % at K = 13 and 5 % at K = 1; between them, 4 %.
func wrongCap(k int) float64 {
	switch {
	case k >= 13:
		return 3
	case k <= 1:
		return 5
	}
	return 4
}

// choose finds, on val outcomes (one list per K), the one rule with the
// most correct answers summed over the Ks, within each K's wrong cap and
// with out-of-scope refused ≥ 70 %; capSlack (points) is kept below each
// cap, for val's sampling error.
func choose(val [][]outcome, ks []int, modelMargin, agree bool, capSlack float64) rule {
	var best rule
	bestSum := -1.0
	for _, ms := range []float64{0, 0.3} {
		for m := 0.0; m <= 0.5; m += 0.0025 {
			for mm := 0.0; mm <= 1.5; mm += 0.01 {
				r := rule{minScore: ms, minMargin: m, minModelMargin: mm, useModelMargin: modelMargin, agree: agree}
				sum, ok := 0.0, true
				for i, os := range val {
					t := count(os, &r)
					ok = ok && t.wrong <= wrongCap(ks[i])-capSlack && t.oosRefused >= 70
					sum += t.correct
				}
				if ok && sum > bestSum {
					best, bestSum = r, sum
				}
			}
		}
	}
	return best
}

// sweep measures params on val, choosing the thresholds there (for each K
// alone, and one rule for all the Ks together, as the assistant has), and
// reports val and test at the thresholds chosen, for each K and layout.
// Layouts share the thresholds chosen with the entries layout.
func sweep(ctx context.Context, w io.Writer, set *clinc, p assistant.Params, ks []int, layouts []layout, modelMargin, agree bool, capSlack float64) error {
	type run struct {
		k         int
		lay       layout
		val, test []outcome
	}
	var runs []run
	var valByK [][]outcome
	for _, k := range ks {
		for _, lay := range layouts {
			kn := set.knowledge(k, lay)
			val, err := decide(ctx, assistant.NewWithParams(p), kn, set.Val, set.OOSVal)
			if err != nil {
				return err
			}
			test, err := decide(ctx, assistant.NewWithParams(p), kn, set.Test, set.OOSTest)
			if err != nil {
				return err
			}
			runs = append(runs, run{k, lay, val, test})
			if lay == layouts[0] {
				valByK = append(valByK, val)
			}
		}
	}
	joint := choose(valByK, ks, modelMargin, agree, capSlack)
	fmt.Fprintf(w, "joint rule (chosen on val, K=%v): score ≥ %.2f, margin ≥ %.4f, model margin ≥ %.2f\n", ks, joint.minScore, joint.minMargin, joint.minModelMargin)
	fmt.Fprintf(w, "%-3s %-9s | %-24s | %-29s | %-29s | %-29s\n", "K", "layout", "own rule (on val)",
		"val top1 own: cor/wro/oos", "test top1 own: cor/wro/oos", "test, joint rule: cor/wro/oos")
	for i, r := range runs {
		kIdx := i / len(layouts)
		own := choose([][]outcome{valByK[kIdx]}, []int{r.k}, modelMargin, agree, capSlack)
		vt, tt, jt := count(r.val, &own), count(r.test, &own), count(r.test, &joint)
		fmt.Fprintf(w, "%-3d %-9s | s≥%.1f m≥%.4f mm≥%.2f | %5.1f  %5.1f / %4.1f / %5.1f | %5.1f  %5.1f / %4.1f / %5.1f | %5.1f / %4.1f / %5.1f   (test top1 retriever %.1f, model %.1f)\n",
			r.k, r.lay, own.minScore, own.minMargin, own.minModelMargin,
			vt.top1, vt.correct, vt.wrong, vt.oosRefused,
			tt.top1, tt.correct, tt.wrong, tt.oosRefused,
			jt.correct, jt.wrong, jt.oosRefused, tt.retrieverTop1, tt.modelTop1)
	}
	return nil
}
