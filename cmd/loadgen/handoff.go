package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Handoff mode: visitors ask for a person at a set rate while agents, their
// consoles open and presence available, watch the queue and claim. It
// measures the time from the visitor's last step (the email that queues the
// conversation) to each console showing it, and checks that of the agents
// racing to claim each conversation exactly one wins.

type handoffOpts struct {
	a, b, debugA, debugB string
	baton                batonFlags
	rate                 float64
	duration             time.Duration
	agents               int
	claimers             int
	closeAfter           bool
	jsonOut              string
}

type handoffReport struct {
	Mode      string   `json:"mode"`
	Args      []string `json:"args"`
	Machine   machine  `json:"machine"`
	Rate      float64  `json:"offered_rate"`
	Seconds   float64  `json:"seconds"`
	Agents    int      `json:"agents"`
	Claimers  int      `json:"claimers_per_handoff"`
	Started   int      `json:"handoffs_started"`
	Queued    int      `json:"handoffs_queued"`
	Failed    int      `json:"handoffs_failed"`
	LastError string   `json:"last_error,omitempty"`

	// Notify is per (handoff, console): email sent → that console shows it
	// queued. All is per handoff: until the last console shows it.
	NotifyP50 float64 `json:"notify_p50_ms"`
	NotifyP99 float64 `json:"notify_p99_ms"`
	NotifyMax float64 `json:"notify_max_ms"`
	AllP50    float64 `json:"all_consoles_p50_ms"`
	AllP99    float64 `json:"all_consoles_p99_ms"`
	FirstP50  float64 `json:"first_console_p50_ms"`
	FirstP99  float64 `json:"first_console_p99_ms"`
	Missed    int     `json:"console_notifications_missed"`
	SetupP50  float64 `json:"hello_to_queued_p50_ms"`
	SetupP99  float64 `json:"hello_to_queued_p99_ms"`

	ClaimsWon    int `json:"claims_won"`
	Conflicts    int `json:"claims_409"`
	ClaimErrors  int `json:"claims_other"`
	OneWinner    int `json:"handoffs_one_winner"`
	NoWinner     int `json:"handoffs_no_winner"`
	ManyWinners  int `json:"handoffs_several_winners"`
	ConsoleDrops int `json:"console_drops"`

	CPU       map[string]cpuUse `json:"cpu"` // µs per handoff
	CPUPerMsg float64           `json:"cpu_us_per_handoff"`
	Others    float64           `json:"other_processes_cpu_percent"`
}

// handoff is one visitor's request for a person.
type handoff struct {
	id       string
	sent     time.Time // the email went out
	claimers map[int]bool

	mu       sync.Mutex
	notified map[int]time.Duration // console → latency
	attempts int                   // finished claims
	wins     int                   // 200s
	errs     int                   // neither 200 nor 409
	done     chan struct{}         // closed when every claimer has tried
	consoles int                   // consoles that should hear of it
	heard    chan struct{}         // closed when every console has
}

// hconsole is one agent's console in handoff mode.
type hconsole struct {
	n       int
	c       *console
	api     *api
	session *agentSession

	mu      sync.Mutex
	pending map[string]*handoff
}

func parseHandoffFlags(args []string, stderr io.Writer) (*handoffOpts, error) {
	o := &handoffOpts{}
	fs := flag.NewFlagSet("handoff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.a, "a", "http://127.0.0.1:8081", "node A: visitors, and half of the consoles")
	fs.StringVar(&o.b, "b", "http://127.0.0.1:8082", "node B: the other half of the consoles")
	fs.StringVar(&o.debugA, "debug-a", "", "node A's BATON_DEBUG_ADDR as a URL (CPU)")
	fs.StringVar(&o.debugB, "debug-b", "", "node B's BATON_DEBUG_ADDR as a URL")
	o.baton.register(fs)
	fs.Float64Var(&o.rate, "rate", 200, "handoffs started per second")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to start handoffs")
	fs.IntVar(&o.agents, "agents", 6, "agents, each with one console socket, presence available")
	fs.IntVar(&o.claimers, "claimers", 2, "agents racing to claim each conversation")
	fs.BoolVar(&o.closeAfter, "close", true, "the winner closes the conversation after claiming it (keeps queues short)")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.rate <= 0 || o.agents < 1 || o.claimers < 1 || o.claimers > o.agents {
		return nil, errors.New("want --rate > 0, --agents ≥ 1 and 1 ≤ --claimers ≤ --agents")
	}
	return o, nil
}

func runHandoff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseHandoffFlags(args, stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	expected := int(o.rate*o.duration.Seconds()) + 1
	// Each visitor socket lives until its claim is settled; allow a few
	// seconds' worth at once.
	if _, err := raiseFileLimit(min(expected, int(o.rate*15)) + o.agents); err != nil {
		return err
	}
	d, err := newDialer(o.baton.src, o.baton.origin, 4096)
	if err != nil {
		return err
	}
	rdb, err := newRedisClient(o.baton.redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	dbg := map[string]string{}
	if o.debugA != "" {
		dbg["baton-a"] = o.debugA
	}
	if o.debugB != "" {
		dbg["baton-b"] = o.debugB
	}
	ps := append(nodeProcs(ctx, dbg, rdb, o.baton.redis, logf), proc{Name: "loadgen", PID: os.Getpid()})
	creds, err := o.baton.prepare(ctx, o.agents)
	if err != nil {
		return err
	}
	cons, drops, err := openHandoffConsoles(ctx, o, d, creds)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range cons {
			_ = c.c.conn.Close()
		}
	}()
	logf("%d consoles open and available (alternating nodes A and B); %0.f handoffs/s for %v…", len(cons), o.rate, o.duration)

	rep := &handoffReport{Mode: "handoff", Args: append([]string{"loadgen", "handoff"}, args...), Machine: describeMachine(),
		Rate: o.rate, Seconds: o.duration.Seconds(), Agents: o.agents, Claimers: o.claimers, CPU: map[string]cpuUse{}}
	var (
		mu       sync.Mutex
		all      []*handoff
		setup    = newHist()
		failed   atomic.Int64
		lastErr  atomic.Value
		wg       sync.WaitGroup
		cpu0, t0 = sampleCPU(ps), time.Now()
	)
	lastErr.Store("")
	start := time.Now()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(float64(i) * 1e9 / o.rate))
		if !due.Before(start.Add(o.duration)) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, took, err := runOneHandoff(ctx, d, o, creds.WidgetKey, cons, i)
			if err != nil {
				failed.Add(1)
				lastErr.Store(err.Error())
				return
			}
			mu.Lock()
			all = append(all, h)
			setup.record(took)
			mu.Unlock()
		}()
		rep.Started++
	}
	wg.Wait()
	cpu1, t1 := sampleCPU(ps), time.Now()
	rep.Failed = int(failed.Load())
	rep.LastError, _ = lastErr.Load().(string)
	rep.ConsoleDrops = int(drops.Load())
	rep.summarise(all, len(cons), setup)
	wall := t1.Sub(t0).Seconds()
	rep.Others = othersPercent(ps, cpu0, cpu1, t1.Sub(t0))
	for _, p := range ps {
		c0, ok0 := cpu0[p.Name]
		c1, ok1 := cpu1[p.Name]
		if !ok0 || !ok1 || rep.Queued == 0 {
			continue
		}
		u := cpuUse{Seconds: (c1 - c0).Seconds(), Percent: 100 * (c1 - c0).Seconds() / wall,
			USPerMsg: float64((c1 - c0).Microseconds()) / float64(rep.Queued)}
		rep.CPU[p.Name] = u
		if p.Name != "loadgen" {
			rep.CPUPerMsg += u.USPerMsg
		}
	}
	rep.print(stdout)
	return saveJSON(o.jsonOut, rep, stdout)
}

// openHandoffConsoles signs the agents in, sets them available and opens
// one console each, alternating between the nodes so that notifications
// cross nodes through Redis.
func openHandoffConsoles(ctx context.Context, o *handoffOpts, d *dialer, creds *credentials) ([]*hconsole, *atomic.Int64, error) {
	drops := &atomic.Int64{}
	var out []*hconsole
	for i, l := range creds.Agents[:o.agents] {
		base := o.a
		if i%2 == 1 {
			base = o.b
		}
		a := newAPI(base)
		s, err := a.login(ctx, l)
		if err != nil {
			return nil, nil, err
		}
		if err := a.setAvailable(ctx, s); err != nil {
			return nil, nil, err
		}
		c, err := openConsole(ctx, d, base, s.Token)
		if err != nil {
			return nil, nil, err
		}
		hc := &hconsole{n: i, c: c, api: a, session: s, pending: map[string]*handoff{}}
		out = append(out, hc)
		go func() {
			_ = readLoop(c.conn, hc.handle(o))
			if ctx.Err() == nil {
				drops.Add(1)
			}
		}()
	}
	return out, drops, nil
}

var (
	queuePrefix = []byte(`{"type":"queue"`)
	convPrefix  = []byte(`{"type":"conversation"`)
)

// handle notices pending handoffs in queue and conversation frames; a
// console that is one of a handoff's claimers then claims it.
func (hc *hconsole) handle(o *handoffOpts) func([]byte, time.Time) {
	return func(data []byte, at time.Time) {
		isQueue := bytes.HasPrefix(data, queuePrefix)
		if !isQueue && !bytes.HasPrefix(data, convPrefix) {
			return
		}
		hc.mu.Lock()
		var seen []*handoff
		for id, h := range hc.pending {
			if !bytes.Contains(data, []byte(`"`+id+`"`)) {
				continue
			}
			if !isQueue && !showsQueued(data) {
				continue // claimed or closed already: not a notification of a waiting visitor
			}
			delete(hc.pending, id)
			seen = append(seen, h)
		}
		hc.mu.Unlock()
		for _, h := range seen {
			h.mu.Lock()
			h.notified[hc.n] = at.Sub(h.sent)
			if len(h.notified) == h.consoles {
				close(h.heard)
			}
			h.mu.Unlock()
			if h.claimers[hc.n] {
				go hc.claim(o, h)
			}
		}
	}
}

func showsQueued(data []byte) bool {
	var f struct {
		Conversation struct {
			Status string `json:"status"`
		} `json:"conversation"`
	}
	return json.Unmarshal(data, &f) == nil && f.Conversation.Status == "queued"
}

func (hc *hconsole) claim(o *handoffOpts, h *handoff) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, _ := hc.api.claim(ctx, hc.session, h.id)
	if code == 200 && o.closeAfter {
		_, _ = hc.api.closeConversation(ctx, hc.session, h.id)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch code {
	case 200:
		h.wins++
	case 409:
	default:
		h.errs++
	}
	h.attempts++
	if h.attempts == len(h.claimers) {
		close(h.done)
	}
}

// runOneHandoff takes one visitor from hello to the queue and waits until
// the claimers have settled it.
func runOneHandoff(ctx context.Context, d *dialer, o *handoffOpts, key string, cons []*hconsole, i int) (*handoff, time.Duration, error) {
	start := time.Now()
	v, err := d.dial(ctx, o.a, "/v1/widget/ws?key="+key)
	if err != nil {
		return nil, 0, err
	}
	defer v.Close()
	h := &handoff{claimers: map[int]bool{}, notified: map[int]time.Duration{}, done: make(chan struct{}),
		consoles: len(cons), heard: make(chan struct{})}
	for k := 0; k < o.claimers; k++ {
		h.claimers[(i+k)%len(cons)] = true
	}
	_, err = queueVisitor(v, func(id string) {
		h.id = id
		h.sent = time.Now()
		for _, c := range cons {
			c.mu.Lock()
			c.pending[id] = h
			c.mu.Unlock()
		}
	})
	if err != nil {
		return nil, 0, err
	}
	took := time.Since(start)
	// Keep reading the visitor socket (agent_joined, closed…) until settled.
	go func() { _ = discardLoop(v) }()
	select {
	case <-h.done:
	case <-time.After(15 * time.Second):
	case <-ctx.Done():
	}
	// The claimers settle it as soon as they hear of it; the other consoles
	// may hear of it a little later (another node, a loaded machine): they
	// have 2 s more before they count as missed.
	select {
	case <-h.heard:
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
	}
	return h, took, nil
}

func (r *handoffReport) summarise(all []*handoff, consoles int, setup *hist) {
	pairs, first, every := newHist(), newHist(), newHist()
	for _, h := range all {
		h.mu.Lock()
		r.Queued++
		var lo, hi time.Duration = -1, 0
		for _, d := range h.notified {
			pairs.record(d)
			if lo < 0 || d < lo {
				lo = d
			}
			hi = max(hi, d)
		}
		r.Missed += consoles - len(h.notified)
		if lo >= 0 {
			first.record(lo)
		}
		if len(h.notified) == consoles {
			every.record(hi)
		}
		r.ClaimsWon += h.wins
		r.ClaimErrors += h.errs
		r.Conflicts += h.attempts - h.wins - h.errs
		switch h.wins {
		case 0:
			r.NoWinner++
		case 1:
			r.OneWinner++
		default:
			r.ManyWinners++
		}
		h.mu.Unlock()
	}
	r.NotifyP50, r.NotifyP99, r.NotifyMax = ms(pairs.quantile(0.5)), ms(pairs.quantile(0.99)), ms(time.Duration(pairs.max))
	r.FirstP50, r.FirstP99 = ms(first.quantile(0.5)), ms(first.quantile(0.99))
	r.AllP50, r.AllP99 = ms(every.quantile(0.5)), ms(every.quantile(0.99))
	r.SetupP50, r.SetupP99 = ms(setup.quantile(0.5)), ms(setup.quantile(0.99))
}

func (r *handoffReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nhandoff: %.0f/s for %.0f s, %d agents (consoles alternating nodes), %d claimers per handoff; %d CPUs (%s), load at start %s\n",
		r.Rate, r.Seconds, r.Agents, r.Claimers, r.Machine.CPUs, r.Machine.Model, r.Machine.Load1)
	fmt.Fprintf(w, "handoffs: %d started, %d queued, %d failed%s\n", r.Started, r.Queued, r.Failed, ifErr(r.LastError))
	fmt.Fprintf(w, "email sent → console shows it queued: per console p50 %.2f ms, p99 %.2f ms, max %.1f ms; %d console notifications missed\n",
		r.NotifyP50, r.NotifyP99, r.NotifyMax, r.Missed)
	fmt.Fprintf(w, "  first console p50 %.2f / p99 %.2f ms; every console p50 %.2f / p99 %.2f ms\n", r.FirstP50, r.FirstP99, r.AllP50, r.AllP99)
	fmt.Fprintf(w, "hello → queued (visitor side, 4 round trips) p50 %.2f ms, p99 %.2f ms\n", r.SetupP50, r.SetupP99)
	fmt.Fprintf(w, "claims: %d won, %d refused with 409, %d other errors; conversations with one winner %d, none %d, several %d\n",
		r.ClaimsWon, r.Conflicts, r.ClaimErrors, r.OneWinner, r.NoWinner, r.ManyWinners)
	fmt.Fprintf(w, "CPU per handoff, µs:")
	for _, name := range sortedKeys(r.CPU) {
		fmt.Fprintf(w, " %s %.0f (%.0f%%)", name, r.CPU[name].USPerMsg, r.CPU[name].Percent)
	}
	fmt.Fprintf(w, "; servers total %.0f; other processes on the machine %.0f%% of a core\n", r.CPUPerMsg, r.Others)
	if r.ConsoleDrops > 0 {
		fmt.Fprintf(w, "!! %d console sockets dropped\n", r.ConsoleDrops)
	}
}

func ifErr(s string) string {
	if s == "" {
		return ""
	}
	return " (last: " + s + ")"
}
