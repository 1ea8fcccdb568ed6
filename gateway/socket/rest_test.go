package socket

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// clientFrame is one masked, unfragmented frame as a client sends it.
func clientFrame(op byte, payload string) []byte {
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b := append([]byte{0x80 | op, 0x80 | byte(len(payload))}, mask[:]...)
	for i := 0; i < len(payload); i++ {
		b = append(b, payload[i]^mask[i%4])
	}
	return b
}

func TestPongSize(t *testing.T) {
	pong := clientFrame(websocket.PongMessage, "hello")
	tests := []struct {
		name string
		b    []byte
		want int
	}{
		{"a whole pong", pong, 11},
		{"a pong with nothing in it", clientFrame(websocket.PongMessage, ""), 6},
		{"a pong and what follows", append(append([]byte(nil), pong...), clientFrame(websocket.TextMessage, "hi")...), 11},
		{"a pong in part", pong[:8], 0},
		{"only its first byte", pong[:1], 0},
		{"nothing", nil, 0},
		{"an unmasked pong", []byte{0x8a, 0x00}, 0},
		{"a ping", clientFrame(websocket.PingMessage, "x"), 0},
		{"a text frame", clientFrame(websocket.TextMessage, "x"), 0},
		{"a pong without FIN", append([]byte{0x0a}, pong[1:]...), 0},
		{"a pong with a reserved bit", append([]byte{0xca}, pong[1:]...), 0},
		{"a pong claiming 126 bytes", append([]byte{0x8a, 0x80 | 126}, make([]byte, 200)...), 0},
		{"a pong of 125 bytes", clientFrame(websocket.PongMessage, strings.Repeat("p", 125)), maxPong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, pongSize(tt.b))
		})
	}
}

// serveRest hands each upgraded Conn to handle, which reads it as it
// likes; the socket ends when handle returns.
func serveRest(t *testing.T, opts Options, handle func(*Conn)) string {
	t.Helper()
	_, u := serveConns(t, opts, func(c *Conn) {
		handle(c)
		c.CloseNow(websocket.CloseNormalClosure, "")
	})
	return u
}

type read struct {
	data string
	err  error
}

// TestRestTakesPongsAndWakesForData: a socket that rests stays open on its
// pongs alone, well past its pong deadline, without waking its reader, and
// wakes for the first frame.
func TestRestTakesPongsAndWakesForData(t *testing.T) {
	rested := make(chan struct{})
	reads := make(chan read, 1)
	url := serveRest(t, Options{PingEvery: 50 * time.Millisecond, PongWait: 250 * time.Millisecond}, func(c *Conn) {
		c.Rest()
		close(rested)
		data, _, err := c.Read()
		reads <- read{string(data), err}
	})
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	defer ws.Close()
	pings := make(chan struct{}, 100)
	ws.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	// Four pong deadlines: the socket would be cut in the first unless the
	// rest took the pongs and moved the deadline on.
	select {
	case <-rested:
		t.Fatal("the rest ended without a frame for the reader")
	case <-time.After(time.Second):
	}
	require.GreaterOrEqual(t, len(pings), 5, "the socket was pinged while it rested")
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("hello")))
	select {
	case <-rested:
	case <-time.After(2 * time.Second):
		t.Fatal("a frame did not end the rest")
	}
	r := <-reads
	require.NoError(t, r.err)
	require.Equal(t, "hello", r.data)
}

// TestRestHandsOnWhatFollowsAPong: frames that arrive with a pong, before
// the rest begins or while it lasts, whole or in parts, reach the reader in
// order.
func TestRestHandsOnWhatFollowsAPong(t *testing.T) {
	pong := clientFrame(websocket.PongMessage, "p")
	text := func(s string) []byte { return clientFrame(websocket.TextMessage, s) }
	tests := []struct {
		name   string
		before [][]byte // written before the server rests
		after  [][]byte // written while it rests, one write each, a moment apart
	}{
		{"a pong and a frame in one write, while it rests", nil, [][]byte{append(append([]byte(nil), pong...), text("one")...)}},
		{"a pong and a frame there before it rests", [][]byte{append(append([]byte(nil), pong...), text("one")...)}, nil},
		{"pongs, then a frame", nil, [][]byte{pong, pong, text("one")}},
		{"a pong in two parts, then a frame", nil, [][]byte{pong[:3], append(append([]byte(nil), pong[3:]...), text("one")...)}},
		{"a frame in two parts", nil, [][]byte{text("one")[:4], text("one")[4:]}},
		{"a frame and another", nil, [][]byte{append(text("one"), text("two")...)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready := make(chan struct{})
			reads := make(chan read, 4)
			url := serveRest(t, Options{PongWait: 5 * time.Second}, func(c *Conn) {
				<-ready
				for {
					c.Rest()
					data, _, err := c.Read()
					reads <- read{string(data), err}
					if err != nil {
						return
					}
				}
			})
			ws, _, err := websocket.DefaultDialer.Dial(url, nil)
			require.NoError(t, err)
			defer ws.Close()
			raw := ws.NetConn()
			for _, b := range tt.before {
				_, err := raw.Write(b)
				require.NoError(t, err)
			}
			time.Sleep(20 * time.Millisecond) // in the server's socket before it looks
			close(ready)
			for _, b := range tt.after {
				time.Sleep(20 * time.Millisecond) // resting by now
				_, err := raw.Write(b)
				require.NoError(t, err)
			}
			want := []string{"one"}
			if strings.Contains(tt.name, "another") {
				want = append(want, "two")
			}
			for _, w := range want {
				select {
				case r := <-reads:
					require.NoError(t, r.err)
					require.Equal(t, w, r.data)
				case <-time.After(2 * time.Second):
					t.Fatalf("%q did not reach the reader", w)
				}
			}
		})
	}
}

// TestRestEndsAtTheDeadline: a silent socket's rest ends when its read
// deadline passes, and its Read reports the timeout.
func TestRestEndsAtTheDeadline(t *testing.T) {
	reads := make(chan read, 1)
	took := make(chan time.Duration, 1)
	url := serveRest(t, Options{PingEvery: time.Hour, PongWait: time.Hour}, func(c *Conn) {
		c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		start := time.Now()
		c.Rest()
		took <- time.Since(start)
		data, _, err := c.Read()
		reads <- read{string(data), err}
	})
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	defer ws.Close()
	select {
	case d := <-took:
		require.GreaterOrEqual(t, d, 100*time.Millisecond)
	case <-time.After(5 * time.Second):
		t.Fatal("the rest outlived its deadline")
	}
	r := <-reads
	require.Error(t, r.err)
	require.True(t, IsTimeout(r.err), "got %v", r.err)
}

// TestIdleSaysWhetherReadWouldWait: Idle is false while a frame waits in
// gorilla's buffer or in the socket, true when nothing does.
func TestIdleSaysWhetherReadWouldWait(t *testing.T) {
	type step struct {
		read string
		idle bool
	}
	steps := make(chan step, 4)
	next := make(chan struct{})
	url := serveRest(t, Options{PongWait: 5 * time.Second}, func(c *Conn) {
		for i := 0; i < 3; i++ {
			if i == 2 {
				<-next // "three" is in the socket by now
				time.Sleep(50 * time.Millisecond)
				steps <- step{"", c.Idle()}
			}
			data, _, err := c.Read()
			if err != nil {
				return
			}
			steps <- step{string(data), c.Idle()}
		}
	})
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	defer ws.Close()
	_, err = ws.NetConn().Write(append(clientFrame(websocket.TextMessage, "one"), clientFrame(websocket.TextMessage, "two")...))
	require.NoError(t, err)
	require.Equal(t, step{"one", false}, <-steps, "two is in gorilla's buffer")
	require.Equal(t, step{"two", true}, <-steps, "nothing more was sent")
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("three")))
	close(next)
	require.Equal(t, step{"", false}, <-steps, "three is in the socket")
	require.Equal(t, step{"three", true}, <-steps)
}
