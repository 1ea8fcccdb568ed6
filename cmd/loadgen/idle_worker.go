package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// runIdleWorker holds visitor sockets for the idle mode's parent. Commands
// on stdin, one per line: "connect N" (open sockets until N are held),
// "status"; each answered with one JSON line. EOF closes everything.
func runIdleWorker(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("idle-worker", flag.ContinueOnError)
	url := fs.String("url", "", "node base URL")
	key := fs.String("key", "", "widget key")
	src := fs.String("src", "", "source addresses")
	origin := fs.String("origin", "", "Origin header")
	ramp := fs.Float64("ramp", 1000, "connects per second")
	maxConns := fs.Int("max", 15000, "most sockets this process will hold")
	if err := fs.Parse(args); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	if _, err := raiseFileLimit(*maxConns); err != nil {
		return enc.Encode(workerStatus{Err: err.Error()})
	}
	// Small client buffers: the generator holds thousands of sockets too.
	d, err := newDialer(*src, *origin, 512)
	if err != nil {
		return enc.Encode(workerStatus{Err: err.Error()})
	}
	h := &holder{d: d, url: *url, key: *key, reasons: map[string]int{}, limit: rate.NewLimiter(rate.Limit(*ramp), max(1, int(*ramp/50)))}
	defer h.closeAll()
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		st := workerStatus{}
		switch f[0] {
		case "connect":
			n, err := strconv.Atoi(f[1])
			if err != nil || n > *maxConns {
				st.Err = fmt.Sprintf("bad count %q (at most %d)", f[1], *maxConns)
				break
			}
			h.connectTo(ctx, n)
		case "status":
		default:
			st.Err = "unknown command " + f[0]
		}
		if st.Err == "" {
			st = h.status()
		}
		if err := enc.Encode(st); err != nil {
			return err
		}
	}
	return nil
}

// holder keeps the sockets and notices any that end.
type holder struct {
	d     *dialer
	url   string
	key   string
	limit *rate.Limiter

	mu      sync.Mutex
	conns   []*websocket.Conn
	failed  int
	lastErr string
	reasons map[string]int // why sockets dropped
	dropped atomic.Int64
	closing atomic.Bool
}

func (h *holder) status() workerStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	drops := int(h.dropped.Load())
	reasons := map[string]int{}
	for k, v := range h.reasons {
		reasons[k] = v
	}
	return workerStatus{Open: len(h.conns) - drops, Failed: h.failed, Dropped: drops, Reasons: reasons, LastErr: h.lastErr}
}

// connectTo opens sockets at the ramp rate until n are held (failures are
// retried twice, then counted).
func (h *holder) connectTo(ctx context.Context, n int) {
	h.mu.Lock()
	need := n - len(h.conns)
	h.mu.Unlock()
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 256; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				h.connectOne(ctx)
			}
		}()
	}
	for i := 0; i < need && ctx.Err() == nil; i++ {
		if h.limit.Wait(ctx) != nil {
			break
		}
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
}

func (h *holder) connectOne(ctx context.Context) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var c *websocket.Conn
		if c, err = h.helloSocket(ctx); err == nil {
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
			go func() {
				err := discardLoop(c)
				_ = c.Close()
				if !h.closing.Load() {
					h.dropped.Add(1)
					h.mu.Lock()
					h.reasons[dropReason(err)]++
					h.mu.Unlock()
				}
			}()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.mu.Lock()
	h.failed++
	h.lastErr = err.Error()
	h.mu.Unlock()
}

// dropReason names why a held socket ended: the server's close code, or
// the connection simply ending (EOF: closed without a close frame).
func dropReason(err error) string {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("close %d", ce.Code)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof (no close frame)"
	case err == nil:
		return "unknown"
	}
	return err.Error()
}

func (h *holder) helloSocket(ctx context.Context) (*websocket.Conn, error) {
	c, err := h.d.dial(ctx, h.url, "/v1/widget/ws?key="+h.key)
	if err != nil {
		return nil, err
	}
	if err := writeJSON(c, map[string]string{"type": "hello"}); err != nil {
		_ = c.Close()
		return nil, err
	}
	if _, _, err := expectFrame(c, 15*time.Second, "welcome"); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func (h *holder) closeAll() {
	h.closing.Store(true)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		_ = c.Close()
	}
}
