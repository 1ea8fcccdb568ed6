package socket

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// TestInlineWriteLeavesTheRestToTheWriter: a sender writes a frame itself
// when no writer runs, but only what the kernel takes at once; the end of
// a frame the kernel took part of is the writer goroutine's to finish,
// before anything queued behind it. With a small send buffer and a client
// that reads nothing for a while, frames up to the inline bound go out in
// parts: every frame must still arrive whole, in order, and the senders
// never wait.
func TestInlineWriteLeavesTheRestToTheWriter(t *testing.T) {
	conns := make(chan *Conn, 1)
	_, url := serve(t, Options{MaxQueueBytes: 64 << 20, WriteTimeout: 10 * time.Second}, func(c *Conn) { conns <- c })
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	defer ws.Close()
	c := <-conns
	if c.wrc == nil {
		t.Skip("no inline writes on this platform")
	}
	require.NoError(t, c.raw.(*net.TCPConn).SetWriteBuffer(4096))

	frame := func(i int) []byte { return bytes.Repeat([]byte{'a' + byte(i%26)}, maxInlineFrame-100+i) }
	const n = 12
	start := time.Now()
	for i := range n {
		require.True(t, c.Send(frame(i)))
		if i%3 == 2 {
			time.Sleep(20 * time.Millisecond) // let the writer finish some, so that senders write inline again
			ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, got, err := ws.ReadMessage()
			require.NoError(t, err)
			require.Equal(t, frame(i/3), got, "frame %d whole and in order", i/3)
		}
	}
	require.Less(t, time.Since(start), 2*time.Second, "no sender waited for the client")
	c.mu.Lock()
	splits := c.splits
	c.mu.Unlock()
	require.NotZero(t, splits, "some frame went out in parts (the send buffer is 4 KiB)")
	for i := n / 3; i < n; i++ {
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, got, err := ws.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, frame(i), got, "frame %d whole and in order", i)
	}
	// And a small frame afterwards goes inline, whole.
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.writing
	}, 5*time.Second, time.Millisecond, "the writer goroutine is done")
	require.True(t, c.Send([]byte("last")))
	_, got, err := ws.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, "last", string(got))
}

// TestInlineWriteThatFailsTearsDownElsewhere: a sender whose inline write
// finds the connection broken (the peer reset it, and no reader has seen
// that yet) must not run the OnDone callbacks itself: OnDone promises they
// never run on a goroutine that called Send, whose caller may hold the
// locks they take. Here the sender holds such a lock; were the callbacks
// run on its goroutine, it would wait for itself forever.
func TestInlineWriteThatFailsTearsDownElsewhere(t *testing.T) {
	conns := make(chan *Conn, 1)
	release := make(chan struct{})
	defer close(release)
	// No reader: only the sender can find the connection broken.
	_, url := serveConns(t, Options{}, func(c *Conn) { conns <- c; <-release })
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	c := <-conns
	if c.wrc == nil {
		t.Skip("no inline writes on this platform")
	}
	require.True(t, c.Send([]byte("first")))
	_, got, err := ws.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, "first", string(got))
	require.NoError(t, ws.NetConn().(*net.TCPConn).SetLinger(0))
	require.NoError(t, ws.NetConn().Close()) // a reset

	var held sync.Mutex
	torn := make(chan struct{})
	c.OnDone(func() { held.Lock(); held.Unlock(); close(torn) })
	sent := make(chan int)
	go func() {
		held.Lock()
		defer held.Unlock()
		i := 0
		for ; i < 1000 && c.Send([]byte("after the reset")); i++ {
			time.Sleep(time.Millisecond) // until the reset has arrived
		}
		sent <- i
	}()
	select {
	case i := <-sent:
		require.Less(t, i, 1000, "a send found the connection broken")
	case <-time.After(10 * time.Second):
		t.Fatal("a sender ran the OnDone callbacks itself, under its own lock")
	}
	select {
	case <-torn:
	case <-time.After(5 * time.Second):
		t.Fatal("the broken connection was not torn down")
	}
	require.False(t, c.Send([]byte("later")), "a torn-down connection takes no frame")
}
