package gateway_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/socket/sockettest"
)

// settled is how a socket ended: the frames it got, its close code (1006
// without a close frame) and when it closed.
type settled struct {
	frames []map[string]any
	code   int
	after  time.Duration
}

// settle waits until c is closed (or the deadline passes) without failing
// anything itself, so that subtests can judge the outcome.
func settle(c *client, start time.Time, deadline time.Time) (settled, bool) {
	select {
	case <-c.Closed():
	case <-time.After(time.Until(deadline)):
		return settled{frames: c.Snapshot()}, false
	}
	out := settled{frames: c.Snapshot(), code: websocket.CloseAbnormalClosure, after: time.Since(start)}
	var ce *websocket.CloseError
	if errors.As(c.CloseErr(), &ce) {
		out.code = ce.Code
	}
	return out, true
}

func errorFrame(frames []map[string]any, code string) map[string]any {
	for _, f := range frames {
		if f["type"] == "error" && f["code"] == code {
			return f
		}
	}
	return nil
}

// TestSocketsThatNeverStart: a visitor socket that never says hello gets
// an error frame hello_timeout and a close with 1008 after about 10
// seconds, whether it stays silent or keeps sending other frames (the
// console socket's auth_timeout is agentconsole's). The two sockets wait
// side by side, so the test takes ~10s in all.
func TestSocketsThatNeverStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Silent Shop")
	start := time.Now()
	deadline := start.Add(13 * time.Second)

	silent := e.visitor(s.m.WidgetKey)
	chatty := e.visitor(s.m.WidgetKey)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(700 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-chatty.Closed():
				return
			case <-tick.C:
				if chatty.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"typing","active":true}`)) != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	for _, tc := range []struct {
		name string
		c    *client
		code string
	}{
		{"visitor, silent", silent, "hello_timeout"},
		{"visitor, sending frames but never hello", chatty, "hello_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, closed := settle(tc.c, start, deadline)
			require.True(t, closed, "still open after %s; frames %v", time.Since(start), got.frames)
			require.Greater(t, got.after, 8*time.Second, "closed too early")
			require.Less(t, got.after, 12*time.Second, "closed too late")
			f := errorFrame(got.frames, tc.code)
			// The error frame and the 1008 close come before the deadline.
			require.NotNil(t, f, "no error %s before the close (close code %d); frames %v", tc.code, got.code, got.frames)
			require.NotEmpty(t, f["message"])
			require.Equal(t, websocket.ClosePolicyViolation, got.code)
		})
	}
}

// TestQuietVisitorIsHeardAfterEachRest: a visitor that is not chatty has
// its reader rest between frames on a fresh goroutine (visitor.loop,
// socket.Conn.Rest), a chatty one does not; either way every frame is read,
// answered and in order, through the changes from one to the other.
func TestQuietVisitorIsHeardAfterEachRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.shop("Quiet Shop")
	v := e.visitor(s.m.WidgetKey)
	hello(v)
	n := 0
	burst := func(k int, gap time.Duration) {
		start := n + 1
		for i := 0; i < k; i++ {
			n++
			v.Send(map[string]any{"type": "message", "client_id": cid("q", n), "text": "hello"})
			time.Sleep(gap)
		}
		var seqs []int64
		for i := start; i <= n; i++ {
			seqs = append(seqs, num(sockettest.EchoOf(v, cid("q", i))["seq"]))
		}
		require.IsIncreasing(t, seqs)
	}
	burst(1, 0) // rests after it
	time.Sleep(300 * time.Millisecond)
	burst(2, 0) // one wakes it, the other follows from gorilla's buffer
	time.Sleep(300 * time.Millisecond)
	burst(6, 20*time.Millisecond) // chatty from the fourth on: no rest between them
	time.Sleep(300 * time.Millisecond)
	v.Send(map[string]any{"type": "typing", "active": true})
	burst(1, 0) // after a chatty run, quiet again: rests
	time.Sleep(300 * time.Millisecond)
	burst(1, 0)
}
