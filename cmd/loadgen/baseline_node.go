package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
)

// The baseline node is the floor a relay can reach on this machine: a bare
// gorilla WebSocket server in the shape of gorilla's chat example (a reader
// and a writer goroutine per socket, a buffered send channel) that relays
// each visitor message with one Redis PUBLISH, and one SUBSCRIBE per process
// fanned out locally. No storage, no sequence numbers, no statuses, no
// authentication: everything Baton does beyond that is what Baton costs.
//
// It speaks just enough of Baton's frames for the relay driver: a visitor
// says hello and gets a welcome with a conversation id, then sends message
// frames; a console says auth, then follow {conversation_id} (answered with
// following), and receives {"type":"message","conversation_id","message"}.

type baselineNode struct {
	rdb     *redis.Client
	channel string
	nodeID  string
	nextID  atomic.Int64
	sockets atomic.Int64

	mu        sync.RWMutex
	followers map[string][]*bclient // conversation → sockets watching it
}

// bclient is one socket, gorilla chat style.
type bclient struct {
	conn    *websocket.Conn
	send    chan []byte
	console bool
	conv    string // a visitor's conversation, set by its hello
}

var baselineUpgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 1024,
	CheckOrigin:     func(*http.Request) bool { return true },
}

const (
	bWriteWait  = 10 * time.Second
	bPongWait   = 60 * time.Second
	bPingPeriod = bPongWait * 9 / 10
)

func runBaselineNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("baseline-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	redisURL := fs.String("redis", "redis://127.0.0.1:6379/0", "Redis to relay through")
	channel := fs.String("channel", "loadgen:baseline", "the one pub/sub channel (give every node of a pair the same)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rdb, err := newRedisClient(*redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	n := &baselineNode{rdb: rdb, channel: *channel, nodeID: randHex(3), followers: map[string][]*bclient{}}
	sub := rdb.Subscribe(ctx, *channel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		return fmt.Errorf("subscribing: %w", err)
	}
	go n.fanout(sub.Channel(redis.WithChannelSize(1 << 16)))

	mux := http.NewServeMux()
	mux.HandleFunc("/v1/widget/ws", n.visitor)
	mux.HandleFunc("/v1/agent/ws", n.console)
	mux.HandleFunc("/debug/baton", n.figures)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// The parent reads this line to learn the address.
	_ = json.NewEncoder(stdout).Encode(map[string]any{"addr": ln.Addr().String(), "pid": os.Getpid()})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

func (n *baselineNode) upgrade(w http.ResponseWriter, r *http.Request, console bool) *bclient {
	conn, err := baselineUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil
	}
	c := &bclient{conn: conn, send: make(chan []byte, 256), console: console}
	n.sockets.Add(1)
	go c.writePump()
	return c
}

// readLoop reads frames until the socket ends, then unregisters it.
func (n *baselineNode) readLoop(c *bclient, handle func([]byte)) {
	var followed []string
	defer func() {
		n.mu.Lock()
		for _, id := range followed {
			n.unfollowLocked(id, c)
		}
		n.mu.Unlock()
		close(c.send)
		n.sockets.Add(-1)
	}()
	c.conn.SetReadLimit(64 << 10)
	_ = c.conn.SetReadDeadline(time.Now().Add(bPongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(bPongWait)) })
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(bPongWait))
		var f struct {
			Type           string `json:"type"`
			ConversationID string `json:"conversation_id"`
		}
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch f.Type {
		case "hello": // visitor: a new conversation, watched by this socket for its echoes
			id := "b" + n.nodeID + "-" + strconv.FormatInt(n.nextID.Add(1), 10)
			c.conv = id
			n.follow(id, c)
			followed = append(followed, id)
			c.push([]byte(`{"type":"welcome","conversation_id":"` + id + `","status":"assistant","last_seq":0}`))
		case "auth":
			c.push([]byte(`{"type":"ready"}`))
		case "follow":
			n.follow(f.ConversationID, c)
			followed = append(followed, f.ConversationID)
			c.push([]byte(`{"type":"following","conversation_id":"` + f.ConversationID + `"}`))
		default:
			handle(data)
		}
	}
}

func (n *baselineNode) visitor(w http.ResponseWriter, r *http.Request) {
	c := n.upgrade(w, r, false)
	if c == nil {
		return
	}
	n.readLoop(c, func(data []byte) {
		var m struct {
			Type     string `json:"type"`
			ClientID string `json:"client_id"`
			Text     string `json:"text"`
		}
		if json.Unmarshal(data, &m) != nil || m.Type != "message" || c.conv == "" {
			return
		}
		entry, _ := json.Marshal(struct {
			ClientID string `json:"client_id"`
			Role     string `json:"role"`
			Text     string `json:"text"`
		}{m.ClientID, "visitor", m.Text})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := n.rdb.Publish(ctx, n.channel, c.conv+" "+string(entry)).Err()
		cancel()
		if err != nil {
			c.push([]byte(`{"type":"error","code":"unavailable","message":"publish failed"}`))
		}
	})
}

func (n *baselineNode) console(w http.ResponseWriter, r *http.Request) {
	if c := n.upgrade(w, r, true); c != nil {
		n.readLoop(c, func([]byte) {})
	}
}

func (n *baselineNode) follow(id string, c *bclient) {
	n.mu.Lock()
	n.followers[id] = append(n.followers[id], c)
	n.mu.Unlock()
}

// unfollowLocked drops c from id's followers. n.mu must be held.
func (n *baselineNode) unfollowLocked(id string, c *bclient) {
	fs := n.followers[id]
	for i, f := range fs {
		if f == c {
			fs = append(fs[:i], fs[i+1:]...)
			break
		}
	}
	if len(fs) == 0 {
		delete(n.followers, id)
	} else {
		n.followers[id] = fs
	}
}

// fanout delivers every published message to this node's sockets that
// follow its conversation.
func (n *baselineNode) fanout(msgs <-chan *redis.Message) {
	const head = `{"type":"message","conversation_id":"`
	for m := range msgs {
		conv, entry, ok := strings.Cut(m.Payload, " ")
		if !ok {
			continue
		}
		n.mu.RLock()
		for _, c := range n.followers[conv] {
			var b []byte
			if c.console {
				b = make([]byte, 0, len(head)+len(conv)+len(entry)+16)
				b = append(b, head...)
				b = append(b, conv...)
				b = append(b, `","message":`...)
				b = append(b, entry...)
				b = append(b, '}')
			} else {
				b = append([]byte(`{"type":"message",`), entry[1:]...)
			}
			c.push(b)
		}
		n.mu.RUnlock()
	}
}

// push queues a frame; a client whose queue is full is too slow and is
// dropped, as in gorilla's chat hub. Pushes come from the socket's own
// reader or from fanout under n.mu, and the reader unfollows under n.mu
// before it closes send, so send is never closed here.
func (c *bclient) push(b []byte) {
	select {
	case c.send <- b:
	default:
		_ = c.conn.Close()
	}
}

func (c *bclient) writePump() {
	ticker := time.NewTicker(bPingPeriod)
	defer func() {
		ticker.Stop()
		_ = c.conn.Close()
	}()
	for {
		select {
		case b, ok := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(bWriteWait))
			if !ok {
				_ = c.conn.WriteMessage(websocket.CloseMessage, []byte{})
				return
			}
			if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				return
			}
		case <-ticker.C:
			_ = c.conn.SetWriteDeadline(time.Now().Add(bWriteWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

// figures answers like Baton's /debug/baton, so idle and relay read both
// the same way.
func (n *baselineNode) figures(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cpu, _ := cpuTime(os.Getpid())
	var rss int64
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseInt(f[1], 10, 64)
			rss = pages * int64(os.Getpagesize())
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"pid": os.Getpid(), "sockets": n.sockets.Load(), "goroutines": runtime.NumGoroutine(),
		"rss_bytes": rss, "heap_inuse": ms.HeapInuse, "stack_inuse": ms.StackInuse,
		"cpu_user_sec": cpu.Seconds(), "cpu_sys_sec": 0,
	})
}
