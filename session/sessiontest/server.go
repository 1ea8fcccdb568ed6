package sessiontest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process of the test's own, for tests that stop,
// restart or cluster Redis, which they must not do to a shared one.
type Server struct {
	t    testing.TB
	Port int
	Dir  string
	args []string
	cmd  *exec.Cmd
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is redis://host:port/0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// redisServer finds redis-server, skipping the test when it is missing
// outside CI (BATON_TEST_REDIS set means CI, where it must exist).
func redisServer(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("BATON_TEST_REDIS") != "" {
			t.Fatalf("redis-server is not installed: %v", err)
		}
		t.Skip("redis-server is not installed")
	}
	return p
}

// FreePort returns a TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartRedis runs a redis-server on a free port until the test ends. extra
// are more redis-server arguments, such as "--appendonly", "yes".
func StartRedis(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := redisServer(t)
	s := &Server{t: t, Dir: t.TempDir()}
	s.args = append([]string{"--bind", "127.0.0.1", "--save", "", "--dir", s.Dir}, extra...)
	for attempt := 0; ; attempt++ {
		s.Port = FreePort(t)
		if err := s.start(bin); err == nil {
			break
		} else if attempt == 3 {
			t.Fatalf("starting redis-server: %v", err)
		}
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(bin string) error {
	args := append([]string{"--port", strconv.Itoa(s.Port)}, s.args...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = s.Dir
	if err := s.cmd.Start(); err != nil {
		return err
	}
	return s.waitUp(5 * time.Second)
}

func (s *Server) waitUp(d time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
			return fmt.Errorf("redis-server on %d did not answer: %w", s.Port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: nothing is flushed that was not already).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port and directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(redisServer(s.t)); err != nil {
		s.t.Fatalf("restarting redis-server: %v", err)
	}
}

// Cluster is a Redis Cluster of three masters started by the test.
type Cluster struct {
	Nodes []*Server
}

// Addrs are the nodes' host:port (with replicas, those too).
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// URL is the REDIS_URL form Baton accepts for a cluster.
func (c *Cluster) URL() string { return "redis+cluster://" + strings.Join(c.Addrs(), ",") }

// Client returns a cluster client.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// StartCluster runs three cluster-enabled redis-servers and joins them with
// redis-cli --cluster create.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	return StartClusterWith(t, ClusterOptions{})
}

// StartClusterWithReplicas is StartCluster with a replica for each master
// (six servers; Nodes lists the masters first), for failover tests.
func StartClusterWithReplicas(t testing.TB) *Cluster {
	t.Helper()
	return StartClusterWith(t, ClusterOptions{Replicas: 1})
}

// ClusterOptions shape a test cluster.
type ClusterOptions struct {
	Replicas int // per master
	// NodeTimeout is how long a master may be unreachable before the
	// others take it for failed; default 2 s, so that failovers are quick.
	NodeTimeout time.Duration
}

// StartClusterWith is StartCluster as o says.
func StartClusterWith(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.NodeTimeout == 0 {
		o.NodeTimeout = 2 * time.Second
	}
	return startCluster(t, o.Replicas, strconv.FormatInt(o.NodeTimeout.Milliseconds(), 10))
}

func startCluster(t testing.TB, replicas int, nodeTimeout string) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("BATON_TEST_REDIS") != "" {
			t.Fatalf("redis-cli is not installed: %v", err)
		}
		t.Skip("redis-cli is not installed")
	}
	c := &Cluster{}
	for i := 0; i < 3*(1+replicas); i++ {
		dir := t.TempDir()
		// Replicas sync at once (not after the default 5 s delay), and may
		// take over however long their link was down.
		c.Nodes = append(c.Nodes, StartRedis(t, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--cluster-node-timeout", nodeTimeout,
			"--appendonly", "no", "--repl-diskless-sync-delay", "0", "--cluster-replica-validity-factor", "0"))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node agrees the cluster is ok.
	deadline := time.Now().Add(15 * time.Second)
	for _, n := range c.Nodes {
		rc := redis.NewClient(&redis.Options{Addr: n.Addr()})
		for {
			info, err := rc.ClusterInfo(context.Background()).Result()
			if err == nil && clusterOK(info) {
				break
			}
			if time.Now().After(deadline) {
				_ = rc.Close()
				t.Fatalf("cluster not ok on %s: %v %s", n.Addr(), err, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = rc.Close()
	}
	return c
}

func clusterOK(info string) bool {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "cluster_state:ok" {
			return true
		}
	}
	return false
}
