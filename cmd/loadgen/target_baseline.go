package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
)

// baselineTarget is two baseline nodes (see baseline_node.go), started as
// child processes unless --baseline-a/-b name running ones, so that their
// CPU is measured from /proc like Baton's.
type baselineTarget struct {
	a, b string
	d    *dialer
	ps   []proc
	dbg  map[string]string
	cmds []*exec.Cmd
}

func newBaselineTarget(ctx context.Context, o *relayOpts, d *dialer, rdb *redis.Client, stderr io.Writer) (*baselineTarget, error) {
	t := &baselineTarget{a: o.baselineA, b: o.baselineB, d: d}
	if t.a == "" || t.b == "" {
		channel := "loadgen:baseline:" + randHex(4)
		for _, which := range []*string{&t.a, &t.b} {
			addr, cmd, err := startBaselineNode(o.baton.redis, channel, stderr)
			if err != nil {
				t.close()
				return nil, err
			}
			t.cmds = append(t.cmds, cmd)
			*which = "http://" + addr
		}
	}
	t.dbg = map[string]string{"baseline-a": t.a, "baseline-b": t.b}
	t.ps = nodeProcs(ctx, t.dbg, rdb, "", func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) })
	return t, nil
}

// startBaselineNode runs this same binary as `baseline-node` and reads the
// address it listens on.
func startBaselineNode(redisURL, channel string, stderr io.Writer) (string, *exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "baseline-node", "--addr", "127.0.0.1:0", "--redis", redisURL, "--channel", channel)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l, ok := <-line:
		var m struct{ Addr string }
		if ok && json.Unmarshal([]byte(l), &m) == nil && m.Addr != "" {
			return m.Addr, cmd, nil
		}
	case <-time.After(10 * time.Second):
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return "", nil, fmt.Errorf("the baseline node did not start")
}

func (t *baselineTarget) name() string             { return "baseline" }
func (t *baselineTarget) procs() []proc            { return t.ps }
func (t *baselineTarget) debug() map[string]string { return t.dbg }

func (t *baselineTarget) close() {
	for _, c := range t.cmds {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	t.cmds = nil
}

func (t *baselineTarget) consoles(ctx context.Context, n int) ([]*console, error) {
	var out []*console
	for i := 0; i < n; i++ {
		c, err := openConsole(ctx, t.d, t.b, "baseline")
		if err != nil {
			return out, err // the caller closes those opened
		}
		out = append(out, c)
	}
	return out, nil
}

// open says hello on node A and has the agent's console on node B follow
// the new conversation, waiting for the node to acknowledge it.
func (t *baselineTarget) open(ctx context.Context, _ int, c *console) (string, *websocket.Conn, error) {
	v, err := t.d.dial(ctx, t.a, "/v1/widget/ws")
	if err != nil {
		return "", nil, err
	}
	if err := writeJSON(v, map[string]string{"type": "hello"}); err != nil {
		return "", nil, err
	}
	w, _, err := expectFrame(v, 10*time.Second, "welcome")
	if err != nil {
		_ = v.Close()
		return "", nil, err
	}
	acked := c.awaitFollow(w.ConversationID)
	if err := c.write(map[string]string{"type": "follow", "conversation_id": w.ConversationID}); err != nil {
		return "", nil, err
	}
	select {
	case <-acked:
	case <-time.After(10 * time.Second):
		return "", nil, fmt.Errorf("the baseline console never acknowledged following %s", w.ConversationID)
	}
	return w.ConversationID, v, nil
}
