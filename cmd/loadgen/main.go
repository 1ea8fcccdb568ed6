// Command loadgen measures Baton from the outside: it speaks only Baton's
// public protocol (the visitor and console sockets, the agent REST routes and
// the `baton` CLI for setup) and reports footprint, throughput, latency and
// CPU per message. It is a benchmark, never part of the test suite's verdict;
// docs/performance.md has the method, the commands and the figures.
//
// Modes:
//
//	idle           N visitor sockets held open: server RSS and goroutines per socket, drops
//	relay          visitor on node A → agent console on node B at open-loop rates in steps
//	handoff        visitors asking for a person at a set rate while agents claim
//	baseline       the relay shape against two bare gorilla+Redis relay nodes (the floor)
//	baseline-node  one such bare node (started by relay/baseline, or by hand)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: loadgen MODE [flags]   (loadgen MODE -h lists a mode's flags)

modes:
  idle           hold N visitor sockets; server RSS and goroutines per socket, drops
  relay          visitors on node A, agents on node B; open-loop rate steps; loss,
                 duplicates, reordering, latency from the intended send time, CPU per message
  handoff        visitors asking for a person at a set rate; agent-notified latency, claim conflicts
  baseline       the relay steps against two bare gorilla+Redis relay nodes (the machine's floor)
  baseline-node  run one bare relay node (relay --with-baseline and baseline start them)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	mode, rest := args[0], args[1:]
	switch mode {
	case "idle":
		return runIdle(ctx, rest, stdout, stderr)
	case "idle-worker": // internal: a child process of idle holding a share of the sockets
		return runIdleWorker(ctx, rest, stdin, stdout)
	case "relay":
		return runRelay(ctx, rest, stdout, stderr, false)
	case "baseline":
		return runRelay(ctx, rest, stdout, stderr, true)
	case "handoff":
		return runHandoff(ctx, rest, stdout, stderr)
	case "baseline-node":
		return runBaselineNode(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown mode %q", mode)
}
