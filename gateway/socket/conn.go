package socket

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Close codes Baton uses besides the standard ones.
const (
	CloseTryAgainLater = 1013 // slow consumer: reconnect and resume
)

// Conn is one WebSocket with a bounded send queue.
type Conn struct {
	ws    *websocket.Conn
	reg   *Registry
	batch *batchConn // the connection under ws

	pingSlice int // which tick of the ping period pings this socket

	mu        sync.Mutex
	queue     [][]byte
	spare     [][]byte // the previous batch's slice, reused
	queued    int      // bytes in queue
	writing   bool     // a writer goroutine is draining the queue
	closing   bool     // no more frames accepted; a close frame follows the queue
	closeCode int
	closeText string
	done      bool // the socket is finished; everything is dropped
	onDone    []func()
}

// Send queues a text frame. It never blocks: when the queue is over its
// byte budget the client is too slow, and the connection is closed with
// 1013 so the client reconnects and resumes from its last seq. It reports
// whether the frame was accepted.
func (c *Conn) Send(frame []byte) bool {
	c.mu.Lock()
	if c.closing || c.done {
		c.mu.Unlock()
		return false
	}
	if c.queued+len(frame) > c.reg.opts.MaxQueueBytes {
		c.mu.Unlock()
		c.reg.opts.Logger.Info("closing a slow socket", "queued_bytes", c.queued)
		c.CloseNow(CloseTryAgainLater, "slow consumer")
		return false
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	c.startWriterLocked()
	c.mu.Unlock()
	return true
}

func (c *Conn) startWriterLocked() {
	if !c.writing {
		c.writing = true
		go c.writer()
	}
}

// writer drains the queue and exits when it is empty, so an idle socket
// holds no goroutine but its reader.
func (c *Conn) writer() {
	for {
		c.mu.Lock()
		if c.done {
			c.writing = false
			c.mu.Unlock()
			return
		}
		if len(c.queue) == 0 {
			c.writing = false
			if c.closing {
				code, text := c.closeCode, c.closeText
				c.mu.Unlock()
				c.sendClose(code, text)
				return
			}
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue = c.spare[:0]
		c.queued = 0
		c.mu.Unlock()

		err := c.writeBatch(batch)
		for i := range batch {
			batch[i] = nil
		}
		c.mu.Lock()
		c.spare = batch[:0]
		c.mu.Unlock()
		if err != nil {
			c.finish()
			return
		}
	}
}

// writeBatch frames every queued message and sends them in one write.
func (c *Conn) writeBatch(batch [][]byte) error {
	deadline := time.Now().Add(c.reg.opts.WriteTimeout)
	_ = c.ws.SetWriteDeadline(deadline)
	if len(batch) == 1 || c.batch == nil {
		for _, f := range batch {
			if err := c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
				return err
			}
		}
		return nil
	}
	c.batch.begin()
	for _, f := range batch {
		if err := c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
			_ = c.batch.flush(deadline)
			return err
		}
	}
	return c.batch.flush(deadline)
}

// Close sends what is queued, then a close frame with code and reason, and
// ends the connection once the client answers (or after a short wait).
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	if c.closing || c.done {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.closeCode, c.closeText = code, reason
	c.startWriterLocked()
	c.mu.Unlock()
}

// CloseNow drops whatever is queued and closes at once.
func (c *Conn) CloseNow(code int, reason string) {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.queue = nil
	c.queued = 0
	c.mu.Unlock()
	c.sendClose(code, reason)
}

func (c *Conn) sendClose(code int, reason string) {
	if len(reason) > 120 {
		reason = reason[:120]
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
		time.Now().Add(c.reg.opts.WriteTimeout))
	// The reader sees the client's close reply, or this deadline.
	_ = c.ws.SetReadDeadline(time.Now().Add(2 * time.Second))
}

// OnDone registers f to run once when the connection is finished.
func (c *Conn) OnDone(f func()) {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		f()
		return
	}
	c.onDone = append(c.onDone, f)
	c.mu.Unlock()
}

// finish tears the connection down; safe to call more than once.
func (c *Conn) finish() {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	c.queue = nil
	fs := c.onDone
	c.onDone = nil
	c.mu.Unlock()
	_ = c.ws.Close()
	c.reg.remove(c)
	for _, f := range fs {
		f()
	}
}

// Read returns the next text frame. Binary frames are returned with
// binary=true so the caller can refuse them with a clear error. Any error
// finishes the connection.
func (c *Conn) Read() (data []byte, binary bool, err error) {
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			c.finish()
			return nil, false, err
		}
		c.extendDeadline()
		switch typ {
		case websocket.TextMessage:
			return data, false, nil
		case websocket.BinaryMessage:
			return data, true, nil
		}
	}
}

// SetReadDeadline bounds the wait for the next frame (the hello, the auth).
func (c *Conn) SetReadDeadline(t time.Time) { _ = c.ws.SetReadDeadline(t) }

func (c *Conn) extendDeadline() {
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if !closing {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.reg.opts.PongWait))
	}
}

// ping is called by the registry's timer. A ping that cannot be written in
// time ends nothing by itself: a client that stops answering is ended by its
// read deadline, a slow one by its send queue.
func (c *Conn) ping(deadline time.Time) {
	err := c.ws.WriteControl(websocket.PingMessage, nil, deadline)
	if errors.Is(err, websocket.ErrCloseSent) || errors.Is(err, net.ErrClosed) {
		c.finish()
	}
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// IsTimeout reports whether err is a read deadline passing.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// CloseCode returns the code of a close frame the client sent, or 0.
func CloseCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}
