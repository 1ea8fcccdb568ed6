package socket

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// batchConn lets the writer hand several frames to the kernel in one write:
// while a batch is open, gorilla's writes (frames, and any ping or close
// written meanwhile by another goroutine) are appended to a pooled buffer in
// the order they come; flush sends them at once. Between batches it holds no
// buffer and writes straight through.
type batchConn struct {
	net.Conn
	pool *sync.Pool

	mu       sync.Mutex
	batching bool
	buf      *[]byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		return b.Conn.Write(p)
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

// begin opens a batch.
func (b *batchConn) begin() {
	b.mu.Lock()
	b.batching = true
	b.buf = b.pool.Get().(*[]byte)
	b.mu.Unlock()
}

// flush writes the batch with one deadline and returns the buffer.
func (b *batchConn) flush(deadline time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		return nil
	}
	b.batching = false
	buf := b.buf
	b.buf = nil
	var err error
	if len(*buf) > 0 {
		_ = b.Conn.SetWriteDeadline(deadline)
		_, err = b.Conn.Write(*buf)
	}
	if cap(*buf) <= maxPooledBatch {
		*buf = (*buf)[:0]
		b.pool.Put(buf)
	}
	return err
}

// maxPooledBatch keeps one burst's huge buffer from living on in the pool.
const maxPooledBatch = 256 << 10

// hijackWriter gives gorilla a batchConn when it hijacks the connection.
type hijackWriter struct {
	http.ResponseWriter
	pool *sync.Pool
	conn *batchConn
}

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("socket: response does not support hijacking")
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &batchConn{Conn: c, pool: h.pool}
	return h.conn, brw, nil
}
