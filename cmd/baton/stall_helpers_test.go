package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// The stall tests' peers: a console that never reads, idle visitors that
// only answer pings, and how busy the rest of the machine was.

// longSends posts the longest messages there are into a conversation of
// the stuck console's agent until stop, or until the console is cut: enough
// bytes to fill its socket's buffers.
func longSends(t *testing.T, e *env, token, convID string, gone, stop chan struct{}) {
	// 4,000 characters of four bytes each: 16 KB a message.
	text := quoteJSON(strings.Repeat("🙂", 4000))
	tick := time.NewTicker(stallLongEvery)
	defer tick.Stop()
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		case <-gone:
			return
		case <-tick.C:
		}
		body := fmt.Sprintf(`{"client_id":"long-%d","text":%s}`, k, text)
		req, err := http.NewRequest("POST", e.srv.URL+"/v1/agent/conversations/"+convID+"/messages", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("long message: %v", err)
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Errorf("long message: status %d", res.StatusCode)
			return
		}
	}
}

// stuckConsole signs an agent's console in and then never reads from its
// TCP connection again (its receive buffer made small), like a laptop that
// went to sleep behind a full queue. Gorilla's dialer makes the handshake
// and frames what the console writes; nothing calls its reader.
func stuckConsole(t *testing.T, e *env, token string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	ws, _, err := d.Dial(e.wsURL("/v1/agent/ws"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "auth", "token": token}))
	return ws
}

// keepAlive sends the stuck console's app-level ping every 300 ms, so its
// read deadline never ends it: only its send queue can. The first write
// that fails tells when the server cut the connection; gone is closed then.
func keepAlive(ws *websocket.Conn, start time.Time, cut chan<- time.Duration, gone, stop chan struct{}) {
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		_ = ws.SetWriteDeadline(time.Now().Add(time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
			cut <- time.Since(start)
			close(gone)
			return
		}
	}
}

// watchCut reports when e's open consoles fall to live: the server has
// closed the stuck one.
func watchCut(e *env, live int, start time.Time, cut chan<- time.Duration, stop chan struct{}) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for _, tl := range e.app.sockets.Tallies() {
			if tl.Kind == "console" && tl.Open <= int64(live) {
				select {
				case cut <- time.Since(start):
				default:
				}
				return
			}
		}
	}
}

// idleSocket is a visitor that said hello and then only answers pings; it
// records the longest wait between them.
type idleSocket struct {
	ws      *websocket.Conn
	welcome chan struct{}
	closed  chan struct{}
	mu      sync.Mutex
	last    time.Time
	worst   time.Duration
}

func dialIdle(t *testing.T, e *env, key string) *idleSocket {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(e.wsURL("/v1/widget/ws?key="+key), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	w := &idleSocket{ws: ws, welcome: make(chan struct{}), closed: make(chan struct{}), last: time.Now()}
	pong := ws.PingHandler()
	ws.SetPingHandler(func(data string) error {
		w.mu.Lock()
		now := time.Now()
		w.worst = max(w.worst, now.Sub(w.last))
		w.last = now
		w.mu.Unlock()
		return pong(data)
	})
	go func() {
		defer close(w.closed)
		welcomed := false
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if !welcomed && strings.Contains(string(data), `"type":"welcome"`) {
				welcomed = true
				close(w.welcome)
			}
		}
	}()
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "hello"}))
	return w
}

func (w *idleSocket) waitWelcome(t *testing.T) {
	t.Helper()
	select {
	case <-w.welcome:
	case <-w.closed:
		t.Fatal("an idle visitor socket closed before its welcome")
	case <-time.After(10 * time.Second):
		t.Fatal("no welcome within 10s")
	}
}

// state is the longest wait between pings (counting the current one) and
// whether the socket has closed.
func (w *idleSocket) state() (time.Duration, bool) {
	w.mu.Lock()
	g := max(w.worst, time.Since(w.last))
	w.mu.Unlock()
	select {
	case <-w.closed:
		return g, true
	default:
		return g, false
	}
}

// busyness says how much CPU the rest of the machine took during a run, so
// a run disturbed by other processes can be told apart from a slow Baton.
// Linux only (/proc); elsewhere it reports nothing.
type busyness struct {
	redisPID int
	machine  time.Duration // all CPUs, not idle
	self     time.Duration // this test process: every node, every client
	redis    time.Duration
	at       time.Time
}

func sampleBusy(redisPID int) busyness {
	b := busyness{redisPID: redisPID, at: time.Now()}
	b.machine, _ = machineBusy()
	b.self, _ = procCPU("self")
	if redisPID > 0 {
		b.redis, _ = procCPU(strconv.Itoa(redisPID))
	}
	return b
}

// others is the CPU the other processes used since b0, in cores.
func (b busyness) others(b0 busyness) float64 {
	wall := b.at.Sub(b0.at)
	if b.machine == 0 || wall <= 0 {
		return 0
	}
	other := (b.machine - b0.machine) - (b.self - b0.self) - (b.redis - b0.redis)
	return max(0, other.Seconds()/wall.Seconds())
}

// procCPU is utime+stime of /proc/PID/stat, in clock ticks of 10 ms.
func procCPU(pid string) (time.Duration, error) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: too few fields", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// machineBusy is the time all CPUs spent neither idle nor waiting, from
// /proc/stat.
func machineBusy() (time.Duration, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected format")
	}
	var busy int64
	for i, v := range f[1:9] {
		if i != 3 && i != 4 { // idle, iowait
			n, _ := strconv.ParseInt(v, 10, 64)
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond, nil
}

// redisPID is the Redis server's process id when it runs on this machine.
func redisPID(ctx context.Context, rdb redis.UniversalClient) int {
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if _, err := os.Stat("/proc/" + v); err == nil {
				pid, _ := strconv.Atoi(v)
				return pid
			}
		}
	}
	return 0
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
