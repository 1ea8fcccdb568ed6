package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
)

// peerTarget is two Centrifugo nodes on the run's Redis, started from the
// binary --with-peer names (go install github.com/centrifugal/centrifugo/v6@v6.9.1):
// the open-source server Baton is compared with, doing the same job by its
// own protocol. A conversation is a channel; the visitor on node A
// subscribes to it and publishes into it (its publication comes back to it
// as the echo), the agent's connection on node B subscribes to all of its
// conversations. The channels keep history with recovery, because Baton
// keeps every message (see peerConfig).
type peerTarget struct {
	a, b    string
	d       *dialer
	ps      []proc
	cmds    []*exec.Cmd
	dir     string
	channel string // prefix of this run's channels
	nextSub atomic.Int64
}

// peerConfig is a Centrifugo v6 configuration for one node: the Redis
// engine, anonymous clients that may subscribe and publish, history of
// 1,000 publications for 10 minutes with forced recovery on every channel,
// and server pings rare enough that the generator need not answer any
// within a run (a reply would be a second writer on the visitor's socket).
func peerConfig(port int, redisURL, prefix string) map[string]any {
	return map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"log":         map[string]any{"level": "error"},
		"client": map[string]any{
			"insecure":        true,
			"allowed_origins": []string{"*"},
			"ping_interval":   "1h",
			"pong_timeout":    "30m",
		},
		"engine": map[string]any{"type": "redis", "redis": map[string]any{"address": []string{redisURL}, "prefix": prefix}},
		"channel": map[string]any{"without_namespace": map[string]any{
			"allow_subscribe_for_client": true,
			"allow_publish_for_client":   true,
			"history_size":               1000,
			"history_ttl":                "600s",
			"force_recovery":             true,
		}},
		"health": map[string]any{"enabled": true},
	}
}

func newPeerTarget(ctx context.Context, o *relayOpts, d *dialer, rdb *redis.Client, stderr io.Writer) (*peerTarget, error) {
	t := &peerTarget{d: d, channel: "lg" + randHex(4)}
	dir, err := os.MkdirTemp("", "loadgen-peer-")
	if err != nil {
		return nil, err
	}
	t.dir = dir
	prefix := "loadgen-peer-" + randHex(4)
	for i, which := range []*string{&t.a, &t.b} {
		addr, cmd, err := startPeerNode(ctx, o.withPeer, filepath.Join(dir, fmt.Sprintf("node%d.json", i)), o.baton.redis, prefix, stderr)
		if err != nil {
			t.close()
			return nil, err
		}
		t.cmds = append(t.cmds, cmd)
		t.ps = append(t.ps, proc{Name: "peer-" + string(rune('a'+i)), PID: cmd.Process.Pid})
		*which = "http://" + addr
	}
	if pid, err := redisPID(ctx, rdb); err == nil {
		t.ps = append(t.ps, proc{Name: "redis", PID: pid})
	} else {
		fmt.Fprintf(stderr, "note: Redis CPU is not reported: %v\n", err)
	}
	return t, nil
}

// startPeerNode writes a node's configuration, starts it and waits for its
// health check.
func startPeerNode(ctx context.Context, bin, cfgPath, redisURL, prefix string, stderr io.Writer) (string, *exec.Cmd, error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cfg, err := json.MarshalIndent(peerConfig(port, redisURL, prefix), "", "  ")
	if err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("--with-peer %s: %w", bin, err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		res, err := http.Get("http://" + addr + "/health")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return addr, cmd, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return "", nil, fmt.Errorf("the peer node (%s --config %s) did not answer /health within 15 s", bin, cfgPath)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (t *peerTarget) name() string             { return "peer" }
func (t *peerTarget) procs() []proc            { return t.ps }
func (t *peerTarget) debug() map[string]string { return nil }

func (t *peerTarget) close() {
	for _, c := range t.cmds {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	t.cmds = nil
	if t.dir != "" {
		_ = os.RemoveAll(t.dir)
	}
}

// connect opens a client connection to node base and waits for the
// connect reply.
func (t *peerTarget) connect(ctx context.Context, base string) (*websocket.Conn, error) {
	c, err := t.d.dial(ctx, base, "/connection/websocket")
	if err != nil {
		return nil, err
	}
	if err := writeJSON(c, map[string]any{"id": 1, "connect": map[string]any{"name": "loadgen"}}); err != nil {
		_ = c.Close()
		return nil, err
	}
	if _, err := peerReply(c, 10*time.Second, 1); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("connect to %s: %w", base, err)
	}
	return c, nil
}

func (t *peerTarget) consoles(ctx context.Context, n int) ([]*console, error) {
	var out []*console
	for i := 0; i < n; i++ {
		c, err := t.connect(ctx, t.b)
		if err != nil {
			return out, err
		}
		out = append(out, &console{conn: c})
	}
	return out, nil
}

// open connects the visitor to node A and subscribes it to a new channel,
// then subscribes the agent's connection on node B to it and waits for that
// reply (which the console's reader passes on, see frames).
func (t *peerTarget) open(ctx context.Context, _ int, c *console) (string, *websocket.Conn, error) {
	id := t.nextSub.Add(1) + 1                        // 1 is the connect command's
	ch := t.channel + "_" + strconv.FormatInt(id, 10) // ":" would name a namespace
	v, err := t.connect(ctx, t.a)
	if err != nil {
		return "", nil, err
	}
	if err := writeJSON(v, map[string]any{"id": 2, "subscribe": map[string]any{"channel": ch}}); err != nil {
		_ = v.Close()
		return "", nil, err
	}
	if _, err := peerReply(v, 10*time.Second, 2); err != nil {
		_ = v.Close()
		return "", nil, fmt.Errorf("visitor subscribe %s: %w", ch, err)
	}
	key := strconv.FormatInt(id, 10)
	acked := c.awaitFollow(key)
	if err := c.write(map[string]any{"id": id, "subscribe": map[string]any{"channel": ch}}); err != nil {
		_ = v.Close()
		return "", nil, err
	}
	select {
	case <-acked:
	case <-time.After(10 * time.Second):
		_ = v.Close()
		return "", nil, fmt.Errorf("the peer never confirmed the agent's subscription to %s", ch)
	}
	return ch, v, nil
}

// peerReply reads until the reply to command id; an error reply is an
// error. Only for setup, before the socket's reader starts.
func peerReply(c *websocket.Conn, timeout time.Duration, id int64) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return nil, err
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var r struct {
				ID    int64           `json:"id"`
				Error json.RawMessage `json:"error"`
			}
			if json.Unmarshal(line, &r) != nil || r.ID != id {
				continue
			}
			if len(r.Error) > 0 {
				return nil, fmt.Errorf("peer error %s", r.Error)
			}
			return line, nil
		}
	}
}

// The peer's protocol around the relay's own frames: a publish command
// carries the visitor's frame as its data, and a push carries it back.
var (
	peerPushData = []byte(`"data":`)
	peerPush     = []byte(`{"push":`)
	peerErr      = []byte(`"error":`)
)

// head starts the publish command that carries a relay frame into channel;
// tail ends it.
func (t *peerTarget) head(dst []byte, channel string) []byte {
	dst = append(dst, `{"id":3,"publish":{"channel":"`...)
	dst = append(dst, channel...)
	return append(dst, `","data":`...)
}

func (t *peerTarget) tail(dst []byte) []byte { return append(dst, `}}`...) }

// frames splits what the peer sends (several replies and pushes may share
// one WebSocket frame, a line each) and hands on the relay frame inside
// each push; a subscribe reply on an agent's connection (c non-nil)
// confirms the subscription open waits for, and an error reply is passed
// on as an error frame.
func (t *peerTarget) frames(c *console, handle func([]byte, time.Time)) func([]byte, time.Time) {
	return func(data []byte, at time.Time) {
		for len(data) > 0 {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			switch {
			case bytes.HasPrefix(line, peerPush):
				if i := bytes.Index(line, peerPushData); i >= 0 {
					handle(line[i+len(peerPushData):], at)
				}
			case bytes.Contains(line, peerErr):
				handle(append([]byte(`{"type":"error","peer":`), append(line, '}')...), at)
			case c != nil && bytes.Contains(line, []byte(`"subscribe":`)):
				var r struct {
					ID int64 `json:"id"`
				}
				if json.Unmarshal(line, &r) == nil {
					c.followed(strconv.FormatInt(r.ID, 10))
				}
			}
		}
	}
}

// peerProto is what a relay run needs of a target whose protocol is not
// Baton's.
type peerProto interface {
	head(dst []byte, channel string) []byte
	tail(dst []byte) []byte
	frames(c *console, handle func([]byte, time.Time)) func([]byte, time.Time)
}
