package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/sessiontest"
)

// TestMain lets the test binary stand in for loadgen when the tool runs
// itself as a child (baseline nodes, idle workers).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "baseline-node" || os.Args[1] == "idle-worker") {
		if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs each mode briefly against two real `baton serve`
// processes on the test Redis: a few hundred relayed messages (with
// conversations rotated through a tiny transcript cap, and the baseline
// nodes alongside), a small idle run and a small handoff run. It checks the
// tool's bookkeeping, not Baton's speed: nothing lost, nothing twice.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("process tests skipped in -short")
	}
	b := sessiontest.Shared(t)
	if b.Embedded {
		t.Skip("baton processes need a Redis they can reach")
	}
	rdb, prefix := sessiontest.Redis(t)
	bin := buildBaton(t)
	env := []string{"REDIS_URL=" + b.URL, "BATON_SECRET=loadgen-smoke-secret-0123", "BATON_KEY_PREFIX=" + prefix}
	a, bnode := startNode(t, bin, env), startNode(t, bin, env)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// relay: the merchant and agents made through the CLI (--baton-bin).
	out := filepath.Join(dir, "relay.json")
	runTool(t, ctx, "relay", "--a", a.url, "--b", bnode.url, "--debug-a", a.debug, "--debug-b", bnode.debug,
		"--baton-bin", bin, "--redis", b.URL, "--prefix", prefix, "--src", "none",
		"--conversations", "10", "--agents", "2", "--steps", "600", "--step-duration", "500ms",
		"--settle", "0s", "--grace", "3s", "--transcript-cap", "30", "--with-baseline", "--json", out,
		"--retries", "1", "--max-others", "-1") // every step counts as disturbed: each runs twice
	var rel relayReport
	readJSON(t, out, &rel)
	require.Len(t, rel.Steps, 2)
	for _, s := range rel.Steps {
		require.Positive(t, s.Attempt)
		require.EqualValues(t, 300, s.Scheduled, "%s", s.Target)
		require.Equal(t, s.Scheduled, s.Sent, "%s: every message sent", s.Target)
		require.Equal(t, s.Sent, s.Delivered, "%s: every message delivered", s.Target)
		require.Zero(t, s.Lost, s.Target)
		require.Zero(t, s.Dups, s.Target)
		require.Zero(t, s.Misrouted+s.VisitorErrors+s.ConsoleErrors+s.Drops, "%s: %s", s.Target, s.LastError)
		require.Positive(t, s.P99, s.Target)
		require.Positive(t, s.EchoP99, "%s: the visitors' echoes are timed", s.Target)
	}
	require.Contains(t, rel.Steps[0].CPU, "baton-a")
	require.Contains(t, rel.Steps[0].CPU, "redis")
	require.NotNil(t, rel.Steps[0].Ratio)

	// relay over node lists (scale-out runs): visitors and agents on both
	// nodes, each process charged once though it is named in both lists.
	out = filepath.Join(dir, "relay-lists.json")
	runTool(t, ctx, "relay", "--a", a.url+","+bnode.url, "--b", bnode.url+","+a.url,
		"--debug-a", a.debug+","+bnode.debug, "--debug-b", bnode.debug+","+a.debug,
		"--baton-bin", bin, "--redis", b.URL, "--prefix", prefix, "--src", "none",
		"--conversations", "8", "--agents", "4", "--steps", "400", "--step-duration", "500ms",
		"--settle", "0s", "--grace", "3s", "--json", out)
	var lists relayReport
	readJSON(t, out, &lists)
	require.Len(t, lists.Steps, 1)
	s := lists.Steps[0]
	require.EqualValues(t, 200, s.Scheduled)
	require.Equal(t, s.Scheduled, s.Delivered, "every message delivered")
	require.Zero(t, s.Lost+s.Dups+s.Misrouted+s.VisitorErrors+s.ConsoleErrors+s.Drops, s.LastError)
	require.Contains(t, s.CPU, "baton-a")
	require.Contains(t, s.CPU, "baton-a2")
	require.NotContains(t, s.CPU, "baton-b", "node B is baton-a2, counted once")

	// idle and handoff: a merchant and agents made directly (cheap bcrypt).
	svc := session.New(session.Options{Redis: rdb, Prefix: prefix, BcryptCost: bcrypt.MinCost})
	m, err := svc.CreateMerchant(ctx, "Smoke Shop", nil, "")
	require.NoError(t, err)
	var agents []string
	for i := 0; i < 3; i++ {
		email := fmt.Sprintf("smoke%d@loadgen.example", i)
		_, err := svc.CreateAgent(ctx, m.ID, email, fmt.Sprintf("Smoke %d", i), "smoke-password", false)
		require.NoError(t, err)
		agents = append(agents, "--agent", email+":smoke-password")
	}

	out = filepath.Join(dir, "idle.json")
	runTool(t, ctx, "idle", "--url", a.url, "--debug", a.debug, "--key", m.WidgetKey,
		"--sockets", "20,40", "--hold", "1s", "--settle", "0s", "--status-every", "500ms", "--json", out)
	var idle idleReport
	readJSON(t, out, &idle)
	require.Len(t, idle.Points, 2)
	require.Equal(t, 40, idle.Points[1].Sockets)
	require.GreaterOrEqual(t, idle.Points[1].ServerSockets, 40)
	require.Zero(t, idle.Drops)

	out = filepath.Join(dir, "handoff.json")
	runTool(t, ctx, append([]string{"handoff", "--a", a.url, "--b", bnode.url, "--key", m.WidgetKey,
		"--redis", b.URL, "--agents", "3", "--claimers", "2", "--rate", "20", "--duration", "1s", "--json", out}, agents...)...)
	var h handoffReport
	readJSON(t, out, &h)
	require.Equal(t, 20, h.Started)
	require.Equal(t, h.Started, h.Queued, h.LastError)
	require.Zero(t, h.Missed)
	require.Equal(t, h.Queued, h.OneWinner, "exactly one winner each")
	require.Equal(t, h.Queued, h.Conflicts, "the other claimer gets 409")
	require.Zero(t, h.ClaimErrors)
}

func runTool(t *testing.T, ctx context.Context, args ...string) {
	t.Helper()
	var stdout, stderr strings.Builder
	err := run(ctx, args, strings.NewReader(""), &stdout, &stderr)
	t.Logf("loadgen %s:\n%s%s", args[0], stderr.String(), stdout.String())
	require.NoError(t, err)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

func buildBaton(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "baton")
	out, err := exec.Command("go", "build", "-o", bin, "../baton").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// node is a `baton serve` process with its debug listener.
type node struct {
	url, debug string
}

// startNode runs baton serve on free ports and reads both addresses from
// its JSON log.
func startNode(t *testing.T, bin string, env []string) *node {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "BATON_ADDR=127.0.0.1:0", "BATON_DEBUG_ADDR=127.0.0.1:0",
		"BATON_LOG_FORMAT=json", "BATON_VISITOR_RATE_LIMIT=0", "BATON_VISITOR_FRAME_LIMIT=0",
		"BATON_SOCKETS_PER_ADDRESS=0", "BATON_NEW_CONVERSATIONS_PER_ADDRESS=0", "BATON_NEW_CONVERSATIONS_PER_MERCHANT=0")
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var (
		mu   sync.Mutex
		logs strings.Builder
	)
	n := &node{}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Addr == "" {
				continue
			}
			mu.Lock()
			if strings.HasPrefix(rec.Msg, "debug endpoints") {
				n.debug = "http://" + rec.Addr
			} else if rec.Msg == "baton is listening" {
				n.url = "http://" + rec.Addr
			}
			both := n.url != "" && n.debug != ""
			mu.Unlock()
			if both {
				close(ready)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("baton logs:\n%s", logs.String())
			mu.Unlock()
		}
	})
	select {
	case <-ready:
	case <-time.After(15 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("baton did not start:\n%s", logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	return n
}
