package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// stepResult is one offered rate against one target.
type stepResult struct {
	Target        string  `json:"target"`
	Attempt       int     `json:"attempt"` // which try this is (see --retries)
	Rate          float64 `json:"offered_rate"`
	Seconds       float64 `json:"seconds"`
	Scheduled     int64   `json:"scheduled"`
	Sent          int64   `json:"sent"`
	Unsent        int64   `json:"unsent"` // scheduled but never written: the generator gave up (server not reading) or the pool ran dry
	Delivered     int64   `json:"delivered"`
	Lost          int64   `json:"lost"` // sent, not delivered within the grace period
	Dups          int64   `json:"duplicates"`
	Reordered     int64   `json:"reordered"`
	SentRate      float64 `json:"sent_rate"`
	DeliveredRate float64 `json:"delivered_rate"` // arrivals while the step offered load, per second

	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
	// SendLag is how late the generator wrote behind the schedule; large
	// values mean the generator (or back-pressure) and not only the server.
	SendLagP99 float64 `json:"send_lag_p99_ms"`
	SendLagMax float64 `json:"send_lag_max_ms"`
	// Echo is the same latency to the visitor's own echo, which leaves node
	// A once the message is stored: the part of the path before the other
	// node. Echoes of a step that arrive after it was accounted are left out.
	EchoP50 float64 `json:"echo_p50_ms"`
	EchoP99 float64 `json:"echo_p99_ms"`

	CPU map[string]cpuUse `json:"cpu"`
	// CPUPerMsg is the CPU of the target's processes (nodes and Redis, not
	// the generator) per delivered message, µs.
	CPUPerMsg float64 `json:"cpu_us_per_msg"`
	// Others is the CPU every other process on the machine used meanwhile,
	// in percent of one core: a figure taken while it is high is disturbed.
	Others float64            `json:"other_processes_cpu_percent"`
	Nodes  map[string]nodeFig `json:"nodes,omitempty"`

	VisitorErrors int64  `json:"visitor_errors"`
	ConsoleErrors int64  `json:"console_errors"`
	Misrouted     int64  `json:"misrouted"`
	Drops         int64  `json:"socket_drops"`
	LastError     string `json:"last_error,omitempty"`

	Ratio *ratio `json:"vs_baseline,omitempty"`
	// Peer is Baton ÷ the peer (Centrifugo) at the same rate, same run.
	Peer *ratio `json:"vs_peer,omitempty"`
	// Hops: each Baton node's own timers over the step, by node and hop
	// (--metrics-a/-b).
	Hops map[string]map[string]hopFig `json:"hops,omitempty"`
}

type cpuUse struct {
	Seconds  float64 `json:"seconds"`
	Percent  float64 `json:"percent_of_one_core"`
	USPerMsg float64 `json:"us_per_msg"`
}

type nodeFig struct {
	RSS        int64 `json:"rss_bytes"`
	Goroutines int   `json:"goroutines"`
}

// pacerAcc is one sender's count of a step.
type pacerAcc struct {
	scheduled, sent, unsent, writeErrs int64
	lag                                *hist
	last                               time.Time
}

// step offers rate msg/s for the step duration, waits for the stragglers
// and accounts for every message. Every call (retries too) has its own
// accounting slot s, which the messages carry.
func (r *relayRun) step(ctx context.Context, rate float64, profile string) *stepResult {
	o := r.o
	s := r.nextStep
	r.nextStep++
	ps := append(r.t.procs(), proc{Name: "loadgen", PID: os.Getpid()})
	errs0, drops0 := r.errorCounts()
	// Read the nodes' timers before the schedule is set: a slow scrape
	// must not eat the head start and make the first messages late.
	metrics := r.metricsURLs()
	hops0 := scrapeHops(ctx, metrics)
	// Start a moment ahead so every sender is waiting when the step begins.
	start := time.Now().Add(50 * time.Millisecond)
	end := start.Add(o.stepDur)
	r.windows[s].end.Store(int64(end.Sub(r.epoch)))
	cpu0, t0 := sampleCPU(ps), time.Now()
	stopProfiles := r.profile(ctx, profile)

	accs := make([]*pacerAcc, o.senders)
	var wg sync.WaitGroup
	for p := range accs {
		accs[p] = &pacerAcc{lag: newHist()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.pace(ctx, p, s, rate, start, end, accs[p])
		}()
	}
	wg.Wait()
	res := &stepResult{Target: r.t.name(), Rate: rate, Seconds: o.stepDur.Seconds(), CPU: map[string]cpuUse{}}
	lag := newHist()
	last := end
	for _, a := range accs {
		res.Scheduled += a.scheduled
		res.Sent += a.sent
		res.Unsent += a.unsent
		lag.merge(a.lag)
		if a.last.After(last) {
			last = a.last
		}
	}
	// Stragglers: wait until everything sent arrived, or the grace period
	// after the last write passed.
	deadline := last.Add(o.grace)
	for r.delivered(s) < res.Sent && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	cpu1, t1 := sampleCPU(ps), time.Now()
	res.Hops = hopDeltas(hops0, scrapeHops(ctx, metrics))
	stopProfiles()
	r.closed.Store(int64(s + 1))

	all := newHist()
	var inWindow int64
	for _, rd := range r.readers {
		rd.mu.Lock()
		a := rd.acc[s]
		all.merge(a.lat)
		res.Delivered += a.delivered
		res.Dups += a.dups
		res.Reordered += a.reordered
		inWindow += a.inWindow
		rd.mu.Unlock()
	}
	res.Lost = max(0, res.Sent-res.Delivered)
	res.SentRate = float64(res.Sent) / o.stepDur.Seconds()
	res.DeliveredRate = float64(inWindow) / o.stepDur.Seconds()
	res.P50, res.P99, res.P999, res.Max = ms(all.quantile(0.5)), ms(all.quantile(0.99)), ms(all.quantile(0.999)), ms(time.Duration(all.max))
	res.SendLagP99, res.SendLagMax = ms(lag.quantile(0.99)), ms(time.Duration(lag.max))
	r.echoMu.Lock()
	res.EchoP50, res.EchoP99 = ms(r.echo[s].quantile(0.5)), ms(r.echo[s].quantile(0.99))
	r.echoMu.Unlock()
	wall := t1.Sub(t0).Seconds()
	res.Others = othersPercent(ps, cpu0, cpu1, t1.Sub(t0))
	for _, p := range ps {
		c0, ok0 := cpu0[p.Name]
		c1, ok1 := cpu1[p.Name]
		if !ok0 || !ok1 {
			continue
		}
		u := cpuUse{Seconds: (c1 - c0).Seconds(), Percent: 100 * (c1 - c0).Seconds() / wall}
		if res.Delivered > 0 {
			u.USPerMsg = float64((c1 - c0).Microseconds()) / float64(res.Delivered)
		}
		res.CPU[p.Name] = u
		if p.Name != "loadgen" {
			res.CPUPerMsg += u.USPerMsg
		}
	}
	res.Nodes = map[string]nodeFig{}
	for name, u := range r.t.debug() {
		if f, err := readDebug(ctx, u, false); err == nil {
			res.Nodes[name] = nodeFig{RSS: f.RSS, Goroutines: f.Goroutines}
		}
	}
	if r.proto != nil {
		for _, p := range r.t.procs() {
			if rss, err := procRSS(p.PID); err == nil && p.Name != "redis" {
				res.Nodes[p.Name] = nodeFig{RSS: rss}
			}
		}
	}
	errs1, drops1 := r.errorCounts()
	res.VisitorErrors = errs1[0] - errs0[0]
	res.ConsoleErrors = errs1[1] - errs0[1]
	res.Misrouted = errs1[2] - errs0[2]
	res.Drops = drops1 - drops0
	if res.VisitorErrors+res.ConsoleErrors > 0 {
		res.LastError = r.lastError()
	}
	if n := r.exhausted.Load(); n > 0 {
		res.LastError = strings.TrimSpace(res.LastError + fmt.Sprintf(" (conversation pool ran dry %d times)", n))
	}
	return res
}

// pace is sender p of the step: it writes the messages of the global
// schedule i = p, p+senders, …, message i due at start + i/rate, on slot
// i mod conversations. It is open-loop: a message is stamped with the time
// it was due, however late it goes out, so a stall is counted in full
// (no coordinated omission).
func (r *relayRun) pace(ctx context.Context, p, s int, rate float64, start, end time.Time, acc *pacerAcc) {
	clk := newPacerClock()
	defer clk.close()
	o := r.o
	giveUp := end.Add(o.grace)
	buf := make([]byte, 0, o.size+128)
	var woke time.Time
	for i := int64(p); ; i += int64(o.senders) {
		due := start.Add(time.Duration(float64(i) * 1e9 / rate))
		if !due.Before(end) {
			return
		}
		acc.scheduled++
		// Never early; at most one wake per batch window, after which
		// everything due goes out at once.
		if wake := maxTime(due, woke.Add(o.batchWindow)); time.Now().Before(due) {
			clk.sleepUntil(wake)
			woke = time.Now()
		}
		now := time.Now()
		if now.After(giveUp) || ctx.Err() != nil {
			acc.unsent++
			continue
		}
		slot := int(i % int64(len(r.slots)))
		conv := r.slots[slot]
		if conv.sent >= conv.budget || conv.broken {
			if conv = r.rotate(slot); conv == nil {
				acc.unsent++
				continue
			}
		}
		conv.sent++
		buf = r.frame(buf[:0], conv, conv.sent, s, due.Sub(r.epoch))
		_ = conv.visitor.SetWriteDeadline(giveUp)
		if err := conv.visitor.WriteMessage(websocket.TextMessage, buf); err != nil {
			conv.broken = true
			acc.writeErrs++
			acc.unsent++
			r.lastErr.Store("write: " + err.Error())
			continue
		}
		acc.sent++
		acc.lag.record(now.Sub(due))
		acc.last = time.Now()
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// rotate gives slot the next unused conversation of the pool: its current
// one is full (or its socket broke). Only the slot's sender calls it.
func (r *relayRun) rotate(slot int) *rconv {
	i := r.nextFree.Add(1) - 1
	if i >= int64(len(r.convs)) {
		r.exhausted.Add(1)
		return nil
	}
	r.slots[slot] = r.convs[i]
	return r.convs[i]
}

func (r *relayRun) delivered(s int) int64 {
	var n int64
	for _, rd := range r.readers {
		rd.mu.Lock()
		n += rd.acc[s].delivered
		rd.mu.Unlock()
	}
	return n
}

// errorCounts are visitor errors, console errors, misrouted messages, and
// socket drops so far.
func (r *relayRun) errorCounts() ([3]int64, int64) {
	c := [3]int64{r.visitorErrs.Load(), 0, 0}
	for _, rd := range r.readers {
		rd.mu.Lock()
		c[1] += rd.errs
		c[2] += rd.misrouted
		rd.mu.Unlock()
	}
	return c, r.visitorDrops.Load() + r.consoleDrops.Load()
}

func (r *relayRun) lastError() string {
	s, _ := r.lastErr.Load().(string)
	for _, rd := range r.readers {
		rd.mu.Lock()
		if rd.lastErr != "" {
			s = rd.lastErr
		}
		rd.mu.Unlock()
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// profile fetches a CPU profile of each node for the step's length, into
// pattern (with %s for the node). It returns a function that waits for them.
func (r *relayRun) profile(ctx context.Context, pattern string) func() {
	if pattern == "" {
		return func() {}
	}
	secs := max(1, int(r.o.stepDur.Seconds())-1)
	var wg sync.WaitGroup
	for name, base := range r.t.debug() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := strings.TrimSuffix(base, "/") + fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs)
			req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer res.Body.Close()
			f, err := os.Create(fmt.Sprintf(pattern, name))
			if err != nil {
				return
			}
			defer f.Close()
			_, _ = io.Copy(f, res.Body)
		}()
	}
	return wg.Wait
}

// metricsURLs are the Baton nodes' metrics listeners by node name; none for
// the baseline and the peer, which have no such timers.
func (r *relayRun) metricsURLs() map[string]string {
	out := map[string]string{}
	if r.t.name() != "baton" {
		return out
	}
	for i, u := range splitList(r.o.metricsA) {
		out[nodeName("baton-a", i)] = u
	}
	for i, u := range splitList(r.o.metricsB) {
		out[nodeName("baton-b", i)] = u
	}
	return out
}
