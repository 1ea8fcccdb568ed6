// Command testsummary reads `go test -json` on stdin and writes what a plain
// `go test` would (each package's result, and the output of failing tests
// only), then a summary: the failed tests again, and the slowest tests.
//
// It never decides the outcome: the caller keeps go test's exit status.
// Lines that are not test events (build errors, vet output) pass through
// as they are.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string // build-output events
	FailedBuild string
}

type key struct{ pkg, test string }

type result struct {
	key
	action  string
	elapsed time.Duration
}

type summary struct {
	out     io.Writer
	pending map[key][]string // output of tests still running
	results []result
	order   []key // tests in the order they started, to flush leftovers
}

func main() {
	top := flag.Int("slowest", 15, "how many of the slowest tests to list")
	flag.Parse()
	s := &summary{out: os.Stdout, pending: map[key][]string{}}
	if err := s.read(os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		os.Exit(1)
	}
	s.report(*top)
}

func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if !bytes.HasPrefix(line, []byte("{")) || json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(s.out, "%s\n", line)
			continue
		}
		s.handle(e)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// A test binary that died mid-test leaves tests without an outcome:
	// show what they printed.
	for _, k := range s.order {
		s.flush(k)
	}
	return nil
}

func (s *summary) handle(e event) {
	if e.Action == "build-output" {
		fmt.Fprint(s.out, e.Output)
		return
	}
	k := key{e.Package, e.Test}
	if e.Test == "" {
		switch e.Action {
		case "output":
			// The binary's own PASS line is noise; `go test` hides it too.
			if e.Output != "PASS\n" {
				fmt.Fprint(s.out, e.Output)
			}
		case "fail":
			// Tests of a failed package that never finished (a panic, a
			// timeout) keep what they printed.
			for _, t := range s.order {
				if t.pkg == e.Package {
					s.flush(t)
				}
			}
		}
		return
	}
	switch e.Action {
	case "run":
		if _, ok := s.pending[k]; !ok {
			s.pending[k] = nil
			s.order = append(s.order, k)
		}
	case "output":
		// The === framing lines only say which test speaks.
		if !strings.HasPrefix(e.Output, "=== ") {
			s.pending[k] = append(s.pending[k], e.Output)
		}
	case "pass", "skip", "fail":
		s.results = append(s.results, result{key: k, action: e.Action,
			elapsed: time.Duration(e.Elapsed * float64(time.Second))})
		if e.Action == "fail" {
			s.flush(k)
		}
		delete(s.pending, k)
	}
}

// flush prints a test's output, if it still has any.
func (s *summary) flush(k key) {
	lines, ok := s.pending[k]
	if !ok {
		return
	}
	for _, l := range lines {
		fmt.Fprint(s.out, l)
	}
	delete(s.pending, k)
}

func (s *summary) report(top int) {
	var failed, slow []result
	counts := map[string]int{}
	for _, r := range s.results {
		counts[r.action]++
		if r.action == "fail" {
			failed = append(failed, r)
		}
		// Subtests' time is in their parent's.
		if !strings.Contains(r.test, "/") {
			slow = append(slow, r)
		}
	}
	fmt.Fprintf(s.out, "\nci: %d tests passed, %d failed, %d skipped (subtests included)\n",
		counts["pass"], counts["fail"], counts["skip"])
	if len(failed) > 0 {
		fmt.Fprintln(s.out, "ci: failed:")
		for _, r := range failed {
			fmt.Fprintf(s.out, "  %s  %s\n", short(r.pkg), r.test)
		}
	}
	sort.SliceStable(slow, func(i, j int) bool { return slow[i].elapsed > slow[j].elapsed })
	if len(slow) > top {
		slow = slow[:top]
	}
	if len(slow) > 0 {
		fmt.Fprintf(s.out, "ci: the %d slowest tests (wall time; a test's includes its subtests'):\n", len(slow))
		for _, r := range slow {
			fmt.Fprintf(s.out, "  %7.2fs  %-4s  %s  %s\n", r.elapsed.Seconds(), r.action, short(r.pkg), r.test)
		}
	}
}

// short drops the module path that every package shares.
func short(pkg string) string {
	return strings.TrimPrefix(pkg, "github.com/batonchat/baton/")
}
