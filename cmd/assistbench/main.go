// Command assistbench measures the built-in assistant on CLINC150 (Larson et
// al., EMNLP 2019): a merchant's knowledge is made from the data set's
// training split (K phrasings of each of the 150 in-scope intents), and every
// query of the chosen split is asked through the same session.Assistant the
// gateway uses, as a fresh question. It is a measurement, never part of the
// test suite's verdict; docs/assistant.md has the method and the figures.
//
// The assistant sees only the knowledge entries, as a merchant would write
// them: the intents' names are used to build the entries and to score the
// answers, never given to the assistant (each intent's answer is an opaque
// code, see answerText).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/batonchat/baton/session/assistant"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "assistbench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("assistbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "../shared/bench/clinc150/data_full.json", "CLINC150 data_full.json")
	ks := fs.String("k", "13", "phrasings per intent taken from train, in file order (a comma list runs each)")
	layouts := fs.String("layout", "entries,phrasings", "entries: K entries per intent; phrasings: one entry per intent with K-1 phrasings (comma list)")
	split := fs.String("split", "test", "test (test + oos_test) or val (val + oos_val: for choosing thresholds)")
	asJSON := fs.Bool("json", false, "print the results as JSON instead of a table")
	setSpec := fs.String("set", "", "assistant.Params fields to change, Name=value,... (variants measured in docs/assistant.md)")
	doSweep := fs.Bool("sweep", false, "choose thresholds on val (most correct within the wrong cap, oos refused ≥ 70 %) and report val and test at them, with top-1")
	modelMargin := fs.Bool("model-margin", false, "with -sweep: threshold the model's own margin instead of the combined score's")
	errs := fs.Int("errors", 0, "list this many val queries answered with another intent (first K only)")
	capSlack := fs.Float64("cap-slack", 0, "with -sweep: choose within each wrong cap less this many points (val's sampling error)")
	agree := fs.Bool("agree", false, "with -sweep: answer only when the retriever and the model pick the same answer")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: assistbench [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	set, err := loadCLINC(*data)
	if err != nil {
		return err
	}
	p := assistant.DefaultParams()
	if err := setParams(&p, *setSpec); err != nil {
		return err
	}
	var kList []int
	var layList []layout
	for _, kText := range strings.Split(*ks, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(kText))
		if err != nil || k < 1 || k > 50 {
			return fmt.Errorf("-k: %q is not a number from 1 to 50", kText)
		}
		kList = append(kList, k)
	}
	for _, l := range strings.Split(*layouts, ",") {
		lay := layout(strings.TrimSpace(l))
		if lay != layoutEntries && lay != layoutPhrasings {
			return fmt.Errorf("-layout: %q is neither entries nor phrasings", l)
		}
		layList = append(layList, lay)
	}
	if *errs > 0 {
		return printErrors(ctx, stdout, set, p, kList[0], *errs)
	}
	if *doSweep {
		return sweep(ctx, stdout, set, p, kList, layList, *modelMargin, *agree, *capSlack)
	}
	inScope, oos, err := set.split(*split)
	if err != nil {
		return err
	}
	var results []result
	for _, k := range kList {
		for _, lay := range layList {
			kn := set.knowledge(k, lay)
			r, err := measure(ctx, assistant.NewWithParams(p), kn, inScope, oos)
			if err != nil {
				return err
			}
			r.K, r.Layout, r.Split = k, string(lay), *split
			results = append(results, r)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	printTable(stdout, results)
	return nil
}

func printTable(w io.Writer, rs []result) {
	fmt.Fprintf(w, "%-5s %-4s %-10s %8s %8s %8s %8s %8s %9s\n",
		"split", "K", "layout", "entries", "correct", "wrong", "handoff", "oos-ref", "µs/answer")
	for _, r := range rs {
		fmt.Fprintf(w, "%-5s %-4d %-10s %8d %7.1f%% %7.1f%% %7.1f%% %7.1f%% %9.1f\n",
			r.Split, r.K, r.Layout, r.Entries, r.Correct, r.Wrong, r.HandedOff, r.OOSRefused, r.MicrosPerAnswer)
	}
}
