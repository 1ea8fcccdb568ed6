package socket

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// stuckPeer completes the WebSocket handshake over raw TCP and then never
// reads again (unless the test reads nc itself): what the server writes
// fills the kernel's buffers, and its next write blocks. Its receive buffer
// is made tiny so that happens soon.
func stuckPeer(t *testing.T, url string) net.Conn {
	t.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.(*net.TCPConn).SetReadBuffer(4096))
	_, err = nc.Write([]byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	require.NoError(t, err)
	// Read the response one byte at a time so that no frame is read with it.
	var head []byte
	one := make([]byte, 1)
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		_, err := nc.Read(one)
		require.NoError(t, err, "handshake response so far: %q", head)
		head = append(head, one[0])
	}
	require.True(t, strings.HasPrefix(string(head), "HTTP/1.1 101"), "handshake: %q", head)
	return nc
}

// keepTalking makes a stuck peer send a text frame every 200 ms, so that
// its read deadline never ends it: only what the server writes to it can.
func keepTalking(t *testing.T, nc net.Conn) {
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	// A masked client frame; the mask key 0 leaves the payload as it is.
	frame := append([]byte{0x81, 0x80 | 9, 0, 0, 0, 0}, "keepalive"...)
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := nc.Write(frame); err != nil {
				return
			}
		}
	}()
}

// pingWatch is a healthy client: it reads everything, answers pings (the
// dialer's default handler) and records the longest gap between them.
type pingWatch struct {
	ws     *websocket.Conn
	mu     sync.Mutex
	last   time.Time
	worst  time.Duration
	pings  int
	closed chan struct{}
}

func watchPings(t *testing.T, url string) *pingWatch {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	p := &pingWatch{ws: ws, closed: make(chan struct{})}
	pong := ws.PingHandler()
	ws.SetPingHandler(func(data string) error {
		p.mu.Lock()
		now := time.Now()
		if !p.last.IsZero() && now.Sub(p.last) > p.worst {
			p.worst = now.Sub(p.last)
		}
		p.last = now
		p.pings++
		p.mu.Unlock()
		return pong(data)
	})
	go func() {
		defer close(p.closed)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return p
}

// gap is the longest wait between pings so far, counting the wait since the
// last one.
func (p *pingWatch) gap() (time.Duration, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.worst
	if !p.last.IsZero() && time.Since(p.last) > w {
		w = time.Since(p.last)
	}
	return w, p.pings
}

// acceptInOrder hands the upgraded sockets out in the order they were
// dialled: the test dials one at a time and takes its Conn before the next.
func acceptInOrder(conns chan *Conn) func(*Conn) { return func(c *Conn) { conns <- c } }

// TestSendNeverWaitsForAStuckPeer: frames sent to a peer that never reads
// are queued until the queue is over its budget; no Send waits, and the
// socket is cut at once, not after the write timeout.
func TestSendNeverWaitsForAStuckPeer(t *testing.T) {
	conns := make(chan *Conn, 1)
	reg, url := serve(t, Options{MaxQueueBytes: 256 << 10, WriteTimeout: 5 * time.Second}, acceptInOrder(conns))
	stuckPeer(t, url)
	c := <-conns
	done := make(chan struct{})
	c.OnDone(func() { close(done) })

	// A stream of frames, one a millisecond: the kernel's buffers fill,
	// the writer blocks in its write, then the queue fills behind it.
	frame := []byte(strings.Repeat("x", 16<<10))
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var worst time.Duration
	var refusedAt time.Time
	for sent := 0; sent < 64<<20; sent += len(frame) {
		<-tick.C
		start := time.Now()
		ok := c.Send(frame)
		if d := time.Since(start); d > worst {
			worst = d
		}
		if !ok {
			refusedAt = time.Now()
			break
		}
	}
	require.False(t, refusedAt.IsZero(), "64 MiB went to a peer that reads nothing and none was refused")
	t.Logf("slowest Send %v", worst)
	require.Less(t, worst, noWait(), "a Send waited")
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatalf("the stuck socket was not cut within 1s of its queue overflowing (write timeout 5s)")
	}
	t.Logf("cut %v after the refusal; slowest Send %v", time.Since(refusedAt), worst)
	require.Eventually(t, func() bool { return reg.Len() == 0 }, time.Second, 5*time.Millisecond)
	start := time.Now()
	require.False(t, c.Send(frame), "a cut socket takes no more frames")
	c.Close(websocket.CloseNormalClosure, "bye")
	c.CloseNow(websocket.CloseNormalClosure, "bye")
	require.Less(t, time.Since(start), noWait())
}

// noWait bounds a call that must not wait for the network: the wait it
// guards against is a write timeout (seconds); what remains is the CPU,
// shared here with the race detector and other tests.
func noWait() time.Duration {
	if raceDetector {
		return 500 * time.Millisecond
	}
	return 50 * time.Millisecond
}

// TestPingsGoOnPastAStuckSocket: one socket's writer is stuck in a write to
// a peer that reads nothing, for its whole write timeout (twice the pong
// wait); the other sockets are still pinged, none goes a pong wait without
// a ping, none is closed, and the stuck one is cut when its write times out.
func TestPingsGoOnPastAStuckSocket(t *testing.T) {
	const healthy = 20
	opts := Options{MaxQueueBytes: 64 << 20, WriteTimeout: 4 * time.Second,
		PingEvery: 300 * time.Millisecond, PongWait: 2 * time.Second}
	conns := make(chan *Conn, 1)
	reg, url := serve(t, opts, acceptInOrder(conns))
	watches := make([]*pingWatch, healthy)
	for i := range watches {
		watches[i] = watchPings(t, url)
		<-conns
	}
	keepTalking(t, stuckPeer(t, url))
	stuck := <-conns
	done := make(chan struct{})
	stuck.OnDone(func() { close(done) })
	// Far more than the kernel buffers: the writer blocks in this write.
	big := []byte(strings.Repeat("y", 16<<20))
	start := time.Now()
	require.True(t, stuck.Send(big))
	for i := 0; i < 100; i++ {
		require.True(t, stuck.Send([]byte("and more")))
	}
	require.Less(t, time.Since(start), noWait(), "Send waited")

	// Watch the other sockets for the write timeout and a little more.
	deadline := time.Now().Add(opts.WriteTimeout + time.Second)
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for ; time.Now().Before(deadline); <-poll.C {
		for i, w := range watches {
			select {
			case <-w.closed:
				t.Fatalf("healthy socket %d was closed while another socket was stuck", i)
			default:
			}
			g, _ := w.gap()
			require.Less(t, g, opts.PongWait, "healthy socket %d went %v without a ping (period %v)", i, g, opts.PingEvery)
		}
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the stuck socket outlived its write timeout")
	}
	for i, w := range watches {
		g, n := w.gap()
		require.GreaterOrEqual(t, n, 10, "socket %d got %d pings", i, n)
		require.Less(t, g, opts.PongWait, "socket %d", i)
	}
	require.Equal(t, healthy, reg.Len())
}

// TestPeerPingsAndClosesAreAnswered: the writer also answers the peer's
// pings with pongs and its close frame with a close frame.
func TestPeerPingsAndClosesAreAnswered(t *testing.T) {
	conns := make(chan *Conn, 1)
	reg, url := serve(t, Options{}, acceptInOrder(conns))
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	defer ws.Close()
	c := <-conns
	pongs := make(chan string, 1)
	ws.SetPongHandler(func(data string) error { pongs <- data; return nil })
	closes := make(chan int, 1)
	ws.SetCloseHandler(func(code int, _ string) error { closes <- code; return nil })
	readErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	require.NoError(t, ws.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)))
	select {
	case data := <-pongs:
		require.Equal(t, "are you there", data)
	case <-time.After(2 * time.Second):
		t.Fatal("no pong")
	}
	require.True(t, c.Send([]byte("a frame")))
	require.NoError(t, ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseGoingAway, "leaving"), time.Now().Add(time.Second)))
	select {
	case code := <-closes:
		require.Equal(t, websocket.CloseGoingAway, code, "the close is echoed")
	case <-time.After(2 * time.Second):
		t.Fatal("no close frame in reply")
	}
	<-readErr
	require.Eventually(t, func() bool { return reg.Len() == 0 }, 2*time.Second, 5*time.Millisecond)
}

// TestCloseNowWithAnIdlePeer: CloseNow on a socket whose peer reads sends
// the close frame (it can be written at once) and ends the socket without
// waiting for the peer's reply.
func TestCloseNowWithAnIdlePeer(t *testing.T) {
	conns := make(chan *Conn, 1)
	reg, url := serve(t, Options{}, acceptInOrder(conns))
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	defer ws.Close()
	c := <-conns
	done := make(chan struct{})
	c.OnDone(func() { close(done) })
	require.True(t, c.Send([]byte("dropped or sent")))
	c.CloseNow(websocket.CloseInternalServerErr, "internal error")
	var err2 error
	for err2 == nil {
		_, _, err2 = ws.ReadMessage()
	}
	require.True(t, websocket.IsCloseError(err2, websocket.CloseInternalServerErr), "got %v", err2)
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("CloseNow left the socket open")
	}
	require.Equal(t, 0, reg.Len())
}

// TestFramesOfEveryLengthClass: a frame of each header length (7-bit,
// 16-bit, 64-bit) arrives whole and in order.
func TestFramesOfEveryLengthClass(t *testing.T) {
	conns := make(chan *Conn, 1)
	_, url := serve(t, Options{}, acceptInOrder(conns))
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	defer ws.Close()
	c := <-conns
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 70000, 300 << 10}
	for _, n := range sizes {
		require.True(t, c.Send([]byte(strings.Repeat("z", n))))
	}
	for _, n := range sizes {
		typ, data, err := ws.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, websocket.TextMessage, typ)
		require.Len(t, data, n)
	}
}

// TestOneCloseFrame: a graceful close followed by CloseNow sends one close
// frame, the first, and nothing after it, whether that frame was already
// out or still waiting for the writer.
func TestOneCloseFrame(t *testing.T) {
	for _, tc := range []struct {
		name        string
		waitForOurs bool // CloseNow only once the first close frame has arrived
	}{{"close frame out", true}, {"close frame queued", false}} {
		t.Run(tc.name, func(t *testing.T) {
			conns := make(chan *Conn, 1)
			_, url := serve(t, Options{}, acceptInOrder(conns))
			nc := stuckPeer(t, url) // it does read here
			c := <-conns
			require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
			c.Close(websocket.CloseServiceRestart, "restarting")
			var raw []byte
			if tc.waitForOurs {
				raw = make([]byte, 2+2+len("restarting"))
				_, err := io.ReadFull(nc, raw)
				require.NoError(t, err)
			}
			c.CloseNow(websocket.CloseInternalServerErr, "internal error")
			rest, err := io.ReadAll(nc)
			require.NoError(t, err, "the server ends the connection")
			frames := parseServerFrames(t, append(raw, rest...))
			require.Len(t, frames, 1, "frames: %q", frames)
			require.Equal(t, byte(0x80|websocket.CloseMessage), frames[0][0])
			require.Equal(t, websocket.FormatCloseMessage(websocket.CloseServiceRestart, "restarting"), frames[0][2:])
		})
	}
}

// parseServerFrames splits unmasked frames, each with its header.
func parseServerFrames(t *testing.T, raw []byte) [][]byte {
	var out [][]byte
	for len(raw) > 0 {
		require.GreaterOrEqual(t, len(raw), 2)
		n, head := int(raw[1]&0x7f), 2
		switch n {
		case 126:
			n, head = int(binary.BigEndian.Uint16(raw[2:])), 4
		case 127:
			n, head = int(binary.BigEndian.Uint64(raw[2:])), 10
		}
		require.GreaterOrEqual(t, len(raw), head+n, "a frame cut short")
		out = append(out, raw[:head+n])
		raw = raw[head+n:]
	}
	return out
}
