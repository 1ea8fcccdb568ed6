package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// relayOpts are the relay and baseline modes' flags.
type relayOpts struct {
	a, b, debugA, debugB string
	metricsA, metricsB   string
	baton                batonFlags

	conversations int
	agents        int
	steps         []float64
	stepDur       time.Duration
	settle        time.Duration
	grace         time.Duration
	size          int
	senders       int
	batchWindow   time.Duration
	cpuProfile    string
	transcriptCap int

	retries   int
	maxOthers float64

	withBaseline         bool
	baselineA, baselineB string
	withPeer             string // the peer's binary (Centrifugo), or ""

	jsonOut    string
	profileDir string
}

func parseRelayFlags(args []string, stderr io.Writer, baselineOnly bool) (*relayOpts, error) {
	o := &relayOpts{}
	name := "relay"
	if baselineOnly {
		name = "baseline"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.a, "a", "http://127.0.0.1:8081", "node A (visitors): base URL; for Baton a comma list spreads the visitors over several nodes")
	fs.StringVar(&o.b, "b", "http://127.0.0.1:8082", "node B (agents): base URL; for Baton a comma list spreads the agents")
	fs.StringVar(&o.debugA, "debug-a", "", "node A's BATON_DEBUG_ADDR as a URL (its PID, RSS; CPU per message); a comma list as for --a")
	fs.StringVar(&o.debugB, "debug-b", "", "node B's BATON_DEBUG_ADDR as a URL; a comma list as for --b")
	fs.StringVar(&o.metricsA, "metrics-a", "", "node A's BATON_METRICS_ADDR as a URL: its in-node hops (batcher wait, Redis round trip, socket write) per step; a comma list as for --a")
	fs.StringVar(&o.metricsB, "metrics-b", "", "node B's BATON_METRICS_ADDR as a URL; a comma list as for --b")
	o.baton.register(fs)
	fs.IntVar(&o.conversations, "conversations", 200, "conversations carrying messages at once")
	fs.IntVar(&o.agents, "agents", 20, "agents (one console socket each) sharing the conversations")
	steps := fs.String("steps", "1000,5000,10000,20000,40000", "aggregate offered rates, msg/s (k suffix allowed)")
	fs.DurationVar(&o.stepDur, "step-duration", 30*time.Second, "how long each rate is offered")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "quiet time before each step")
	fs.DurationVar(&o.grace, "grace", 5*time.Second, "how long after a step a message may still arrive; later it counts as lost")
	fs.IntVar(&o.size, "size", 100, "message text length in characters")
	fs.IntVar(&o.senders, "senders", 2, "sender goroutines (each paces its share of the schedule)")
	fs.DurationVar(&o.batchWindow, "batch-window", 0,
		"a sender wakes at most this often and then sends everything due, late by up to this much (0: one wake per message); saves a little generator CPU at high rates")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the generator's own CPU profile here")
	fs.IntVar(&o.transcriptCap, "transcript-cap", 5000, "Baton's entries per conversation: a conversation is replaced before it fills (0: no cap)")
	fs.IntVar(&o.retries, "retries", 0, "repeat a step disturbed by other processes (see --max-others) up to this many times, keeping the least disturbed")
	fs.Float64Var(&o.maxOthers, "max-others", 25, "CPU other processes may use during a step, % of one core, before it counts as disturbed")
	fs.BoolVar(&o.withBaseline, "with-baseline", false, "also run every step against two bare relay nodes, interleaved, and give ratios")
	fs.StringVar(&o.withPeer, "with-peer", "",
		"also run every step against two Centrifugo nodes started from this binary (go install github.com/centrifugal/centrifugo/v6@v6.9.1), interleaved, and give Baton ÷ peer")
	fs.StringVar(&o.baselineA, "baseline-a", "", "a running baseline node for visitors (default: start two)")
	fs.StringVar(&o.baselineB, "baseline-b", "", "a running baseline node for agents")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file (- for stdout)")
	fs.StringVar(&o.profileDir, "profile", "", "save a CPU profile of each Baton node per step into this directory (needs --debug-a/-b)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if o.steps, err = parseRates(*steps); err != nil {
		return nil, err
	}
	if o.conversations < 1 || o.agents < 1 || o.size < 40 || o.size > 4000 {
		return nil, errors.New("want --conversations ≥ 1, --agents ≥ 1 and --size 40..4000")
	}
	if o.agents > o.conversations {
		o.agents = o.conversations
	}
	// A slot's conversation is written by one sender only, which holds when
	// the senders divide the conversations evenly.
	o.senders = max(1, gcd(o.conversations, max(o.senders, 1)))
	if baselineOnly {
		o.withBaseline = true
	}
	return o, nil
}

// attempts is how many steps a run may take, retries included.
func (o *relayOpts) attempts() int { return len(o.steps) * (o.retries + 1) }

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// parseRates reads "1000,5k,10000".
func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		mult := 1.0
		if v, ok := strings.CutSuffix(strings.ToLower(p), "k"); ok {
			p, mult = v, 1000
		}
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 {
			return nil, fmt.Errorf("--steps: %q is not a rate", p)
		}
		out = append(out, f*mult)
	}
	return out, nil
}

// poolSize is how many conversations a target needs so that no transcript
// fills during the run: each slot moves to a fresh conversation when its
// current one has taken its budget.
func (o *relayOpts) poolSize(budget int) int {
	if budget <= 0 {
		return o.conversations
	}
	total := 0.0
	for _, r := range o.steps {
		total += r * o.stepDur.Seconds()
	}
	perSlot := total * float64(o.retries+1) / float64(o.conversations)
	return o.conversations * max(1, int(math.Ceil(perSlot*1.01/float64(budget))))
}

func runRelay(ctx context.Context, args []string, stdout, stderr io.Writer, baselineOnly bool) error {
	o, err := parseRelayFlags(args, stderr, baselineOnly)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	rep := &relayReport{Mode: "relay", Machine: describeMachine(), Started: time.Now().UTC(),
		Conversations: o.conversations, Agents: o.agents, StepSeconds: o.stepDur.Seconds(), Size: o.size,
		Args: append([]string{"loadgen", map[bool]string{true: "baseline", false: "relay"}[baselineOnly]}, args...)}
	d, err := newDialer(o.baton.src, o.baton.origin, 4096)
	if err != nil {
		return err
	}
	rdb, err := newRedisClient(o.baton.redis)
	if err != nil {
		return err
	}
	defer rdb.Close()

	// Estimated budgets (the real ones are known after the warm-up) size
	// the pools; the file limit has to hold them all.
	batonBudget := 0
	if o.transcriptCap > 0 {
		batonBudget = o.transcriptCap - 20
	}
	var runs []*relayRun
	// Closed in reverse order when the run ends: each run before its target.
	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	need := 0
	if !baselineOnly {
		need += o.poolSize(batonBudget) + o.agents
	}
	if o.withBaseline {
		need += o.conversations + o.agents
	}
	if o.withPeer != "" {
		need += o.conversations + o.agents
	}
	if _, err := raiseFileLimit(need); err != nil {
		return err
	}

	if !baselineOnly {
		t, err := newBatonTarget(ctx, o, d, rdb, logf)
		if err != nil {
			return err
		}
		defer t.close()
		r := newRelayRun(t, o, o.poolSize(batonBudget), o.transcriptCap)
		defer r.close()
		if err := r.setup(ctx, logf); err != nil {
			return fmt.Errorf("baton setup: %w", err)
		}
		runs = append(runs, r)
	}
	// The comparison targets run the same steps beside Baton: the bare
	// floor, and the peer.
	extra := func(name string, t relayTarget, err error) error {
		if err != nil {
			return err
		}
		closers = append(closers, t.close)
		r := newRelayRun(t, o, o.conversations, 0)
		closers = append(closers, r.close)
		if err := r.setup(ctx, logf); err != nil {
			return fmt.Errorf("%s setup: %w", name, err)
		}
		runs = append(runs, r)
		return nil
	}
	if o.withBaseline {
		t, err := newBaselineTarget(ctx, o, d, rdb, stderr)
		if err := extra("baseline", t, err); err != nil {
			return err
		}
	}
	if o.withPeer != "" {
		t, err := newPeerTarget(ctx, o, d, rdb, stderr)
		if err := extra("peer", t, err); err != nil {
			return err
		}
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}

	logf("%s", stepHeader())
	for _, rate := range o.steps {
		for _, r := range runs {
			var best *stepResult
			for try := 0; try <= o.retries && ctx.Err() == nil; try++ {
				if r.backlog {
					r.quiesce(ctx, 2*time.Second, 2*time.Minute)
				}
				if err := sleepCtx(ctx, o.settle); err != nil {
					return err
				}
				res := r.step(ctx, rate, o.profilePath(r.t.name(), rate, try+1))
				res.Attempt = try + 1
				r.backlog = res.Lost > 0 || res.Unsent > 0
				logf("%s", res.line())
				if best == nil || res.Others < best.Others {
					best = res
				}
				if res.Others <= o.maxOthers {
					break
				}
			}
			if best != nil {
				rep.Steps = append(rep.Steps, best)
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	for _, r := range runs {
		rep.Late += r.lateTotal()
	}
	rep.Finished = time.Now().UTC()
	rep.ratios()
	rep.print(stdout)
	return saveJSON(o.jsonOut, rep, stdout)
}

// profilePath is the file pattern (%s: the node) for a step's profiles.
func (o *relayOpts) profilePath(target string, rate float64, try int) string {
	if o.profileDir == "" || target != "baton" {
		return ""
	}
	return filepath.Join(o.profileDir, fmt.Sprintf("%%s-%d-try%d.pprof", int(rate), try))
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
