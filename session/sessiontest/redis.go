// Package sessiontest gives tests a Redis and a key prefix of their own.
//
// BATON_TEST_REDIS (redis://host:port/db) names the Redis to use; when it
// is set and cannot be reached the test fails, which is how CI proves it ran
// against real Redis. Without it, a Redis on 127.0.0.1:6379 is used when one
// answers, and otherwise an embedded miniredis, so `go test ./...` works on a
// machine with only Go. The choice is printed once per test binary.
package sessiontest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Backend describes where tests' Redis lives.
type Backend struct {
	URL      string
	Embedded bool
	mini     *miniredis.Miniredis
}

var (
	backendOnce sync.Once
	backend     Backend
	backendErr  error
)

func pick() (Backend, error) {
	if u := os.Getenv("BATON_TEST_REDIS"); u != "" {
		if err := ping(u); err != nil {
			return Backend{}, fmt.Errorf("BATON_TEST_REDIS=%s does not answer: %w", u, err)
		}
		return Backend{URL: u}, nil
	}
	const local = "redis://127.0.0.1:6379/0"
	if ping(local) == nil {
		return Backend{URL: local}, nil
	}
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return Backend{}, err
	}
	return Backend{URL: "redis://" + m.Addr() + "/0", Embedded: true, mini: m}, nil
}

func ping(url string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	opt.DialTimeout = 300 * time.Millisecond
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Shared returns the backend for this test binary, choosing it on first use.
func Shared(t testing.TB) Backend {
	t.Helper()
	backendOnce.Do(func() {
		backend, backendErr = pick()
		if backendErr == nil {
			kind := "real Redis"
			if backend.Embedded {
				kind = "embedded miniredis (no Redis on 127.0.0.1:6379 and BATON_TEST_REDIS unset)"
			}
			fmt.Fprintf(os.Stderr, "sessiontest: tests use %s at %s\n", kind, backend.URL)
		}
	})
	if backendErr != nil {
		t.Fatalf("sessiontest: %v", backendErr)
	}
	return backend
}

// Redis returns a client and a key prefix unique to this test. Keys under
// the prefix are deleted when the test ends.
func Redis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	b := Shared(t)
	opt, err := redis.ParseURL(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	prefix := Prefix()
	t.Cleanup(func() {
		Cleanup(c, prefix)
		_ = c.Close()
	})
	return c, prefix
}

// Prefix returns a fresh key prefix.
func Prefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "bt" + hex.EncodeToString(b) + ":"
}

// Cleanup deletes every key under prefix, one key per command so that it
// also works on a cluster node, where keys of different slots cannot meet.
func Cleanup(c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	pipe := c.Pipeline()
	n := 0
	for iter.Next(ctx) {
		pipe.Unlink(ctx, iter.Val())
		if n++; n%500 == 0 {
			_, _ = pipe.Exec(ctx)
		}
	}
	_, _ = pipe.Exec(ctx)
}

// CleanupCluster deletes every key under prefix on every master.
func CleanupCluster(c *redis.ClusterClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		Cleanup(m, prefix)
		return nil
	})
}
