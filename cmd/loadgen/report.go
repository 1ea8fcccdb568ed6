package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// relayReport is a relay (or baseline) run: its settings and every step.
type relayReport struct {
	Mode          string        `json:"mode"`
	Args          []string      `json:"args"`
	Machine       machine       `json:"machine"`
	Started       time.Time     `json:"started"`
	Finished      time.Time     `json:"finished"`
	Conversations int           `json:"conversations"`
	Agents        int           `json:"agents"`
	StepSeconds   float64       `json:"step_seconds"`
	Size          int           `json:"message_chars"`
	Steps         []*stepResult `json:"steps"`
	Late          int64         `json:"late_after_grace"`
}

// ratio compares a Baton step with the baseline's step at the same rate.
type ratio struct {
	P50       float64 `json:"p50"`
	P99       float64 `json:"p99"`
	CPUPerMsg float64 `json:"cpu_per_msg"`
}

func (r *relayReport) ratios() {
	base, peer := map[float64]*stepResult{}, map[float64]*stepResult{}
	for _, s := range r.Steps {
		switch s.Target {
		case "baseline":
			base[s.Rate] = s
		case "peer":
			peer[s.Rate] = s
		}
	}
	for _, s := range r.Steps {
		if s.Target != "baton" {
			continue
		}
		if b := base[s.Rate]; b != nil {
			s.Ratio = vs(s, b)
		}
		if p := peer[s.Rate]; p != nil {
			s.Peer = vs(s, p)
		}
	}
}

func vs(s, other *stepResult) *ratio {
	return &ratio{P50: div(s.P50, other.P50), P99: div(s.P99, other.P99), CPUPerMsg: div(s.CPUPerMsg, other.CPUPerMsg)}
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func stepHeader() string {
	return fmt.Sprintf("%-10s %7s %7s %7s %6s %6s %4s %5s %7s %7s %7s %7s %6s %6s  %s",
		"target", "offered", "sent/s", "deliv/s", "lost", "unsent", "dup", "reord",
		"p50ms", "p99ms", "p99.9ms", "maxms", "lag99", "other%", "cpu µs/msg (node a, node b, redis = total; loadgen)")
}

// line is the step as one row of the progress table.
func (s *stepResult) line() string {
	target := s.Target
	if s.Attempt > 1 {
		target += fmt.Sprintf("#%d", s.Attempt)
	}
	return fmt.Sprintf("%-10s %7.0f %7.0f %7.0f %6d %6d %4d %5d %7.2f %7.2f %7.2f %7.1f %6.2f %6.0f  %s%s",
		target, s.Rate, s.SentRate, s.DeliveredRate, s.Lost, s.Unsent, s.Dups, s.Reordered,
		s.P50, s.P99, s.P999, s.Max, s.SendLagP99, s.Others, s.cpuText(), s.problems())
}

func (s *stepResult) cpuText() string {
	var parts []string
	for _, name := range sortedKeys(s.CPU) {
		if name == "loadgen" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%.1f", s.CPU[name].USPerMsg))
	}
	t := strings.Join(parts, " + ") + fmt.Sprintf(" = %.1f", s.CPUPerMsg)
	if l, ok := s.CPU["loadgen"]; ok {
		t += fmt.Sprintf("; %.1f", l.USPerMsg)
	}
	return t
}

func (s *stepResult) problems() string {
	var p []string
	if s.VisitorErrors > 0 {
		p = append(p, fmt.Sprintf("%d visitor errors", s.VisitorErrors))
	}
	if s.ConsoleErrors > 0 {
		p = append(p, fmt.Sprintf("%d console errors", s.ConsoleErrors))
	}
	if s.Misrouted > 0 {
		p = append(p, fmt.Sprintf("%d misrouted", s.Misrouted))
	}
	if s.Drops > 0 {
		p = append(p, fmt.Sprintf("%d sockets dropped", s.Drops))
	}
	if len(p) == 0 && s.LastError == "" {
		return ""
	}
	out := "  !! " + strings.Join(p, ", ")
	if s.LastError != "" {
		out += " last: " + s.LastError
	}
	if strings.Contains(s.LastError, "rate_limited") || strings.Contains(s.LastError, "too_many_") {
		out += " (turn the servers' visitor limits off: BATON_VISITOR_RATE_LIMIT=0, BATON_VISITOR_FRAME_LIMIT=0," +
			" BATON_SOCKETS_PER_ADDRESS=0, BATON_NEW_CONVERSATIONS_PER_ADDRESS=0 and BATON_NEW_CONVERSATIONS_PER_MERCHANT=0 where they exist)"
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (r *relayReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s: %d conversations, %d agents, %.0f s steps, %d-character messages; %d CPUs (%s), load at start %s\n",
		r.Mode, r.Conversations, r.Agents, r.StepSeconds, r.Size, r.Machine.CPUs, r.Machine.Model, r.Machine.Load1)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\toffered/s\tsent/s\tdelivered/s\tlost\tunsent\tdup\treordered\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\techo p50 / p99\tsend lag p99\tCPU µs/msg\tvs baseline p99 / CPU\tvs peer p50 / p99 / CPU\tothers' CPU %\t")
	for _, s := range r.Steps {
		vb, vp := "", ""
		if s.Ratio != nil {
			vb = fmt.Sprintf("%.1f× / %.1f×", s.Ratio.P99, s.Ratio.CPUPerMsg)
		}
		if s.Peer != nil {
			vp = fmt.Sprintf("%.2f× / %.2f× / %.2f×", s.Peer.P50, s.Peer.P99, s.Peer.CPUPerMsg)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f / %.2f\t%.2f\t%.1f\t%s\t%s\t%.0f\t\n",
			s.Target, s.Rate, s.SentRate, s.DeliveredRate, s.Lost, s.Unsent, s.Dups, s.Reordered,
			s.P50, s.P99, s.P999, s.Max, s.EchoP50, s.EchoP99, s.SendLagP99, s.CPUPerMsg, vb, vp, s.Others)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nCPU per delivered message, µs (share of one core):")
	for _, s := range r.Steps {
		var parts []string
		for _, name := range sortedKeys(s.CPU) {
			u := s.CPU[name]
			parts = append(parts, fmt.Sprintf("%s %.1f (%.0f%%)", name, u.USPerMsg, u.Percent))
		}
		fmt.Fprintf(w, "  %-8s %6.0f/s: %s\n", s.Target, s.Rate, strings.Join(parts, ", "))
	}
	if hasHops(r.Steps) {
		fmt.Fprintln(w, "\nIn-node hops, ms: mean / p50 / p99 (count):")
		for _, s := range r.Steps {
			for _, l := range hopsText(s.Hops) {
				fmt.Fprintf(w, "  %-8s %6.0f/s %s\n", s.Target, s.Rate, l)
			}
		}
	}
	for _, s := range r.Steps {
		if p := s.problems(); p != "" {
			fmt.Fprintf(w, "  %-8s %6.0f/s%s\n", s.Target, s.Rate, p)
		}
	}
	if r.Late > 0 {
		fmt.Fprintf(w, "%d messages arrived after their step's grace period (counted as lost there)\n", r.Late)
	}
}

func hasHops(steps []*stepResult) bool {
	for _, s := range steps {
		if len(s.Hops) > 0 {
			return true
		}
	}
	return false
}

// saveJSON writes v to path ("-" is stdout, "" nothing).
func saveJSON(path string, v any, stdout io.Writer) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
