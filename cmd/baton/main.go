// Command baton runs the Baton webchat gateway and manages its merchants and
// agents. It only wires the packages together; see docs/architecture.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // office hours need every IANA zone, also in a scratch image
)

const usage = `usage:
  baton serve
  baton merchant create --name NAME [--origin URL]...
  baton merchant rotate-identity-secret --merchant ID [--grace 24h]
  baton agent create --merchant ID --email EMAIL --name NAME [--admin]   (password on stdin)

environment:
  BATON_ADDR                 listen address (default 127.0.0.1:8080)
  REDIS_URL                  redis://host:port/db, a comma list or redis+cluster://h1:p1,h2:p2
                             for a Redis Cluster; without it serve runs a demo on an embedded store
  BATON_SECRET               signs agent tokens; required with REDIS_URL
  BATON_SECRET_PREVIOUS      the secret BATON_SECRET replaces: its tokens still verify while it rotates
  BATON_VISITOR_RATE_LIMIT   messages per minute per visitor socket (default 120, 0 = off)
  BATON_VISITOR_FRAME_LIMIT  frames of any kind per second per visitor socket, against floods (default 20, 0 = off)
  BATON_KEY_PREFIX           Redis key prefix (default baton:)
  BATON_DRAIN_TIMEOUT        how long SIGTERM waits for sockets to move (default 10s)
  BATON_LOG_LEVEL            debug, info, warn, error (default info)
  BATON_LOG_FORMAT           text or json (default text)
  BATON_REDIS_BATCHING       0 sends each message's Redis step on its own round trip (default: concurrent ones share)
  BATON_REDIS_LINGER         longest a shared round trip waits for company above 7,500 msg/s (default 250us, 0 = never)
  BATON_REDIS_SHARDED_PUBSUB 0 keeps conversations on classic pub/sub on a Redis Cluster (default: SPUBLISH/SSUBSCRIBE; needs Redis 7)
  BATON_DEBUG_ADDR           opt-in pprof and /debug/baton listener for load tests (keep private)
  BATON_METRICS_ADDR         listener serving Prometheus metrics at /metrics (default: none)
  BATON_METRICS_MERCHANTS    merchants with their own queue series; the rest are summed as "other" (default 50)
  BATON_HELPDESK_TIMEOUT     bound on each call to Zendesk or Gorgias (default 15s)
  BATON_HELPDESK_WORKERS     tickets one node makes at once (default 4)
  BATON_HELPDESK_RETRY_BASE  first delay before retrying a ticket; doubles each time (default 2s)
  BATON_HELPDESK_RETRY_MAX   longest delay between retries (default 10m)
  BATON_HELPDESK_MAX_ATTEMPTS  attempts before a ticket becomes a dead letter (default 30)
  BATON_HELPDESK_BASE_URLS   URL prefixes an integration's base_url may use (comma list)
  BATON_WEBHOOK_BASE_URLS    URL prefixes webhook endpoints may use beyond public https addresses
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "baton: %v\n\n%s", err, usage)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "baton: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	switch args[0] {
	case "serve":
		cfg, err := loadConfig(getenv)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, stderr)
	case "merchant":
		switch {
		case len(args) >= 2 && args[1] == "create":
			return merchantCreate(ctx, args[2:], getenv, stdout)
		case len(args) >= 2 && args[1] == "rotate-identity-secret":
			return merchantRotate(ctx, args[2:], getenv, stdout)
		}
		return usageError{"merchant: create or rotate-identity-secret"}
	case "agent":
		if len(args) < 2 || args[1] != "create" {
			return usageError{"agent: only create is known"}
		}
		return agentCreate(ctx, args[2:], getenv, stdin, stdout)
	case "help", "-h", "--help":
		_, err := io.WriteString(stdout, usage)
		return err
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}
