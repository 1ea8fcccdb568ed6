package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Idle mode: visitor sockets through hello, held open, and what they cost
// the server. The sockets live in worker processes (this binary again, as
// `idle-worker`), each holding at most --conns-per-process of them, because
// one process may only open so many files; the parent only measures.

type idleOpts struct {
	url, dbg    string
	baton       batonFlags
	points      []int
	hold        time.Duration
	ramp        float64
	perProcess  int
	settle      time.Duration
	jsonOut     string
	statusEvery time.Duration
}

// idlePoint is the server's figures with n sockets open.
type idlePoint struct {
	Sockets       int     `json:"sockets"`
	ServerSockets int     `json:"server_sockets"`
	RSS           int64   `json:"rss_bytes"`
	HeapInuse     int64   `json:"heap_inuse"`
	StackInuse    int64   `json:"stack_inuse"`
	Goroutines    int     `json:"goroutines"`
	RSSPerSocket  float64 `json:"rss_per_socket_bytes"` // (RSS − RSS with none) / sockets
	HeapPerSocket float64 `json:"heap_per_socket_bytes"`
	StackPerSock  float64 `json:"stack_per_socket_bytes"`
	GorPerSocket  float64 `json:"goroutines_per_socket"`
	SlopeRSS      float64 `json:"rss_slope_bytes,omitempty"` // against the previous point
	SlopeGor      float64 `json:"goroutines_slope,omitempty"`
	Failed        int     `json:"connect_failures"`
	Dropped       int     `json:"dropped_so_far"`
	ConnectSecs   float64 `json:"connect_seconds"`
}

// dropMark is the drop count at a moment of the hold.
type dropMark struct {
	Seconds float64 `json:"seconds"`
	Dropped int     `json:"dropped"`
}

type idleReport struct {
	Mode        string         `json:"mode"`
	Args        []string       `json:"args"`
	Machine     machine        `json:"machine"`
	Started     time.Time      `json:"started"`
	Empty       debugFigures   `json:"empty"`
	Points      []idlePoint    `json:"points"`
	HoldSeconds float64        `json:"hold_seconds"`
	Drops       int            `json:"drops_during_hold"`
	DropReasons map[string]int `json:"drop_reasons,omitempty"`
	DropsAt     []dropMark     `json:"drops_at,omitempty"`
	AfterHold   debugFigures   `json:"after_hold"`
	Workers     int            `json:"generator_processes"`
}

func parseIdleFlags(args []string, stderr io.Writer) (*idleOpts, error) {
	o := &idleOpts{}
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8081", "the node holding the sockets: base URL")
	fs.StringVar(&o.dbg, "debug", "", "its BATON_DEBUG_ADDR as a URL (required: RSS, goroutines)")
	o.baton.register(fs)
	points := fs.String("sockets", "1000,5000", "socket counts to measure at, ascending (the last is held)")
	fs.DurationVar(&o.hold, "hold", time.Minute, "how long to hold the last count, checking for drops")
	fs.Float64Var(&o.ramp, "ramp", 2000, "connects per second, all generator processes together")
	fs.IntVar(&o.perProcess, "conns-per-process", 15000, "sockets per generator process (this machine allows 20,000 files per process)")
	// Baton's hello watchdog lives 10 s after a socket opens; at rest is after that.
	fs.DurationVar(&o.settle, "settle", 15*time.Second, "wait after connecting before measuring (sockets at rest)")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file (- for stdout)")
	fs.DurationVar(&o.statusEvery, "status-every", 10*time.Second, "progress interval while holding")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.dbg == "" {
		return nil, errors.New("idle needs --debug (the node's BATON_DEBUG_ADDR as http://host:port)")
	}
	prev := 0
	for _, p := range strings.Split(*points, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= prev {
			return nil, fmt.Errorf("--sockets: want ascending counts, got %q", *points)
		}
		o.points = append(o.points, n)
		prev = n
	}
	if o.perProcess < 1 || o.ramp <= 0 {
		return nil, errors.New("want --conns-per-process ≥ 1 and --ramp > 0")
	}
	return o, nil
}

func runIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseIdleFlags(args, stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	creds, err := o.baton.prepare(ctx, 0)
	if err != nil {
		return err
	}
	rep := &idleReport{Mode: "idle", Args: append([]string{"loadgen", "idle"}, args...), Machine: describeMachine(), Started: time.Now().UTC()}
	empty, err := readDebug(ctx, o.dbg, true)
	if err != nil {
		return err
	}
	rep.Empty = *empty
	logf("before: %d sockets, RSS %.1f MB, %d goroutines", empty.Sockets, mb(empty.RSS), empty.Goroutines)

	maxN := o.points[len(o.points)-1]
	nWorkers := (maxN + o.perProcess - 1) / o.perProcess
	rep.Workers = nWorkers
	var workers []*idleWorker
	defer func() {
		for _, w := range workers {
			w.stop()
		}
	}()
	for i := 0; i < nWorkers; i++ {
		w, err := startIdleWorker(o, creds.WidgetKey, o.ramp/float64(nWorkers), stderr)
		if err != nil {
			return err
		}
		workers = append(workers, w)
	}

	var prev *idlePoint
	for _, n := range o.points {
		start := time.Now()
		st, err := askAll(workers, func(i int) string { return fmt.Sprintf("connect %d", share(n, len(workers), i)) })
		if err != nil {
			return err
		}
		secs := time.Since(start).Seconds()
		logf("%d sockets open (%d failed%s) in %.1f s; settling %v", st.Open, st.Failed, ifErr(st.LastErr), secs, o.settle)
		if err := sleepCtx(ctx, o.settle); err != nil {
			return err
		}
		// Sockets may have dropped while settling: count what is open now.
		if st, err = askAll(workers, func(int) string { return "status" }); err != nil {
			return err
		}
		if st.Dropped > 0 {
			logf("  !! %d sockets dropped so far %v", st.Dropped, st.Reasons)
		}
		f, err := readDebug(ctx, o.dbg, true)
		if err != nil {
			return err
		}
		p := idlePoint{Sockets: st.Open, ServerSockets: f.Sockets, RSS: f.RSS, HeapInuse: f.HeapInuse,
			StackInuse: f.StackInuse, Goroutines: f.Goroutines, Failed: st.Failed, Dropped: st.Dropped, ConnectSecs: secs}
		if st.Open > 0 {
			k := float64(st.Open)
			p.RSSPerSocket = float64(f.RSS-empty.RSS) / k
			p.HeapPerSocket = float64(f.HeapInuse-empty.HeapInuse) / k
			p.StackPerSock = float64(f.StackInuse-empty.StackInuse) / k
			p.GorPerSocket = float64(f.Goroutines-empty.Goroutines) / k
		}
		if prev != nil && st.Open > prev.Sockets {
			k := float64(st.Open - prev.Sockets)
			p.SlopeRSS = float64(f.RSS-prev.RSS) / k
			p.SlopeGor = float64(f.Goroutines-prev.Goroutines) / k
		}
		logf("  server: %d sockets, RSS %.1f MB (%.1f KB/socket), %d goroutines (%.2f/socket)",
			f.Sockets, mb(f.RSS), p.RSSPerSocket/1024, f.Goroutines, p.GorPerSocket)
		rep.Points = append(rep.Points, p)
		prev = &rep.Points[len(rep.Points)-1]
	}

	logf("holding %d sockets for %v…", prev.Sockets, o.hold)
	holdStart := time.Now()
	for time.Since(holdStart) < o.hold && ctx.Err() == nil {
		wait := min(o.statusEvery, o.hold-time.Since(holdStart))
		if err := sleepCtx(ctx, wait); err != nil {
			break
		}
		st, err := askAll(workers, func(int) string { return "status" })
		if err != nil {
			return err
		}
		rep.Drops, rep.DropReasons = st.Dropped, st.Reasons
		rep.DropsAt = append(rep.DropsAt, dropMark{time.Since(holdStart).Seconds(), st.Dropped})
		logf("  %6.1f s: %d open, %d dropped %v", time.Since(holdStart).Seconds(), st.Open, st.Dropped, st.Reasons)
	}
	rep.HoldSeconds = time.Since(holdStart).Seconds()
	if f, err := readDebug(ctx, o.dbg, true); err == nil {
		rep.AfterHold = *f
	}
	rep.print(stdout)
	return saveJSON(o.jsonOut, rep, stdout)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// share is worker i's part of n sockets.
func share(n, workers, i int) int {
	s := n / workers
	if i < n%workers {
		s++
	}
	return s
}

func (r *idleReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nidle: %d CPUs (%s), load at start %s; %d generator process(es)\n",
		r.Machine.CPUs, r.Machine.Model, r.Machine.Load1, r.Workers)
	fmt.Fprintf(w, "empty server: RSS %.1f MB, heap %.1f MB, %d goroutines\n", mb(r.Empty.RSS), mb(r.Empty.HeapInuse), r.Empty.Goroutines)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sockets\tserver sockets\tRSS MB\tRSS KB/socket\tslope KB/socket\theap KB/socket\tstack KB/socket\tgoroutines\tgoroutines/socket\tfailed\tdropped\tconnect s\t")
	for i, p := range r.Points {
		slope := "-"
		if i > 0 {
			slope = fmt.Sprintf("%.2f", p.SlopeRSS/1024)
		}
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%.2f\t%s\t%.2f\t%.2f\t%d\t%.2f\t%d\t%d\t%.1f\t\n", p.Sockets, p.ServerSockets, mb(p.RSS),
			p.RSSPerSocket/1024, slope, p.HeapPerSocket/1024, p.StackPerSock/1024, p.Goroutines, p.GorPerSocket, p.Failed, p.Dropped, p.ConnectSecs)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "held %.0f s: %d sockets dropped %v; server after the hold: %d sockets, RSS %.1f MB, %d goroutines\n",
		r.HoldSeconds, r.Drops, r.DropReasons, r.AfterHold.Sockets, mb(r.AfterHold.RSS), r.AfterHold.Goroutines)
}

// idleWorker is a child process holding sockets, driven over its stdin and
// answering one JSON line per command.
type idleWorker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

type workerStatus struct {
	Open    int            `json:"open"`
	Failed  int            `json:"failed"`
	Dropped int            `json:"dropped"`
	Reasons map[string]int `json:"drop_reasons,omitempty"`
	LastErr string         `json:"last_connect_error,omitempty"`
	Err     string         `json:"err,omitempty"`
}

func startIdleWorker(o *idleOpts, key string, ramp float64, stderr io.Writer) (*idleWorker, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "idle-worker", "--url", o.url, "--key", key, "--src", o.baton.src,
		"--origin", o.baton.origin, "--ramp", strconv.FormatFloat(ramp, 'f', -1, 64),
		"--max", strconv.Itoa(o.perProcess))
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	return &idleWorker{cmd: cmd, in: in, out: sc}, nil
}

func (w *idleWorker) ask(line string) (workerStatus, error) {
	var st workerStatus
	if _, err := io.WriteString(w.in, line+"\n"); err != nil {
		return st, fmt.Errorf("idle worker: %w", err)
	}
	if !w.out.Scan() {
		return st, fmt.Errorf("idle worker ended: %v", w.out.Err())
	}
	if err := json.Unmarshal(w.out.Bytes(), &st); err != nil {
		return st, fmt.Errorf("idle worker said %q", w.out.Text())
	}
	if st.Err != "" {
		return st, fmt.Errorf("idle worker: %s", st.Err)
	}
	return st, nil
}

// askAll sends each worker its command at once and sums the answers.
func askAll(ws []*idleWorker, line func(i int) string) (workerStatus, error) {
	type answer struct {
		st  workerStatus
		err error
	}
	ch := make(chan answer, len(ws))
	for i, w := range ws {
		go func() {
			st, err := w.ask(line(i))
			ch <- answer{st, err}
		}()
	}
	var sum workerStatus
	var first error
	for range ws {
		a := <-ch
		if a.err != nil && first == nil {
			first = a.err
		}
		sum.Open += a.st.Open
		sum.Failed += a.st.Failed
		sum.Dropped += a.st.Dropped
		for k, v := range a.st.Reasons {
			if sum.Reasons == nil {
				sum.Reasons = map[string]int{}
			}
			sum.Reasons[k] += v
		}
		if a.st.LastErr != "" {
			sum.LastErr = a.st.LastErr
		}
	}
	return sum, first
}

func (w *idleWorker) stop() {
	_ = w.in.Close() // the worker closes its sockets and exits on EOF
	done := make(chan struct{})
	go func() { _ = w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = w.cmd.Process.Kill()
		<-done
	}
}
