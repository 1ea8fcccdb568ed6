package socket

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Close codes Baton uses besides the standard ones.
const (
	CloseTryAgainLater = 1013 // slow consumer: reconnect and resume
)

// Conn is one WebSocket with a bounded send queue.
type Conn struct {
	ws  *websocket.Conn // read from, never written through
	raw net.Conn        // the TCP connection; only the writer writes to it
	wrc syscall.RawConn // raw's descriptor, for writes that never wait; nil: none
	br  *bufio.Reader   // gorilla's read buffer; nil if gorilla made its own
	reg *Registry

	pingSlice int    // which tick of the ping period pings this socket
	tally     *tally // its kind's counts

	mu      sync.Mutex
	queue   [][]byte
	spare   [][]byte  // the previous batch's slice, reused
	queued  int       // bytes in queue
	since   time.Time // when the queue's oldest frame came, if write waits are reported
	writing bool      // a writer (a sender writing inline, or the writer goroutine) owns the writes
	inWrite bool      // ... the writer goroutine has taken work to write: it may be blocked in the kernel
	// rest is the end of a write the kernel took only part of, inline: the
	// writer goroutine writes it before anything else. restFrames frames
	// end in it, the first queued at restSince.
	rest       []byte
	restFrames int
	restSince  time.Time
	// splits counts inline writes the kernel took only part of: the rest
	// went to the writer goroutine, which takes it at once, so a test
	// cannot see c.rest itself.
	splits  uint64
	writes  uint64 // writes begun, to tell one write from the next
	pingDue bool
	pongDue bool
	pong    []byte // the payload of the peer's last ping
	closing bool   // no more frames accepted
	// closeFrame is the close frame still to be written, on the wire; nil
	// when there is none or it has gone (closeSent: a socket sends one).
	closeFrame []byte
	closeSent  bool
	// abort: the queue is dropped, and the writer finishes the socket once
	// the close frame is written or could not be.
	abort  bool
	done   bool // the socket is finished; everything is dropped
	onDone []func()
}

// Send queues a text frame. It never blocks: when the queue is over its
// byte budget the client is too slow, and the connection is cut (with a
// 1013 close frame if one can still be written at once) so the client
// reconnects and resumes from its last seq. It reports whether the frame
// was accepted.
func (c *Conn) Send(frame []byte) bool {
	c.mu.Lock()
	if c.closing || c.done {
		c.mu.Unlock()
		return false
	}
	if c.queued+len(frame) > c.reg.opts.MaxQueueBytes {
		queued := c.queued
		cut := c.abortLocked(CloseTryAgainLater, "slow consumer", true)
		c.mu.Unlock()
		// The caller may be the node's only delivery goroutine: even the log
		// line is written elsewhere.
		go func() {
			c.reg.opts.Logger.Info("closing a slow socket", "queued_bytes", queued)
			if cut {
				c.cut()
			}
		}()
		return false
	}
	if len(c.queue) == 0 && c.tally.writeWait != nil {
		c.since = time.Now()
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	if c.writing || c.done {
		c.mu.Unlock() // the writer takes it
		return true
	}
	c.writing = true
	if c.wrc == nil || len(frame) > maxInlineFrame {
		c.mu.Unlock()
		go c.writer()
		return true
	}
	c.writeInline()
	return true
}

// maxInlineFrame bounds what a sender writes itself: a bigger frame (a
// long history, a large queue snapshot) would cost the sender copies of
// it, and most of it would wait for the writer goroutine anyway.
const maxInlineFrame = 64 << 10

// Close sends what is queued, then a close frame with code and reason, and
// ends the connection once the client answers (or after a short wait).
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.done {
		return
	}
	c.closing = true
	c.setCloseLocked(closeFrame(code, reason))
	c.startWriterLocked()
}

// CloseNow drops whatever is queued and closes at once: the close frame is
// written if it can be without waiting, then the connection ends. It never
// blocks.
func (c *Conn) CloseNow(code int, reason string) {
	c.mu.Lock()
	if c.done || c.abort {
		c.mu.Unlock()
		return
	}
	cut := c.abortLocked(code, reason, true)
	gen := c.writes
	c.mu.Unlock()
	if cut {
		// The writer is in a write: most end in microseconds, and cutting
		// then would reset a connection whose close frame is on its way.
		// Only a write still under way after abortWait is stuck.
		time.AfterFunc(abortWait, func() {
			c.mu.Lock()
			stuck := c.inWrite && c.writes == gen && !c.done
			c.mu.Unlock()
			if stuck {
				c.cut()
			}
		})
	}
}

// abortLocked turns the socket to closing at once: the queue is dropped and
// the writer writes the close frame, then finishes the socket. When the
// writer is in a write (perhaps blocked on a peer that reads nothing) and
// cutIfBusy is set, nothing more can be written without waiting: it returns
// true, and the caller must cut the connection, outside c.mu.
func (c *Conn) abortLocked(code int, reason string, cutIfBusy bool) bool {
	c.closing = true
	c.abort = true
	c.queue = nil
	c.queued = 0
	if c.closeFrame == nil {
		c.setCloseLocked(closeFrame(code, reason))
	}
	if c.inWrite && cutIfBusy {
		return true
	}
	c.startWriterLocked()
	return false
}

// peerClosed answers the peer's close frame (gorilla's close handler, on
// the reader): the writer echoes its code once its current write is done,
// unless a close frame of ours is already out.
func (c *Conn) peerClosed(code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done || c.abort {
		return
	}
	c.setCloseLocked(frameBytes(websocket.CloseMessage, websocket.FormatCloseMessage(code, "")))
	c.abortLocked(code, "", false)
}

// closeWithFrame sends a close frame gorilla made on the reader (a frame
// over the read limit, a protocol error) and ends the socket.
func (c *Conn) closeWithFrame(frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done || c.abort {
		return
	}
	c.setCloseLocked(frame)
	c.abortLocked(0, "", false)
}

// setCloseLocked makes frame the close frame to send, unless one has gone
// already: after its close frame a socket sends nothing more.
func (c *Conn) setCloseLocked(frame []byte) {
	if !c.closeSent {
		c.closeFrame = frame
	}
}

// ping asks the writer for a ping. The registry's timer never waits
// on a socket: a writer in a write sends the ping after it; one stuck there
// past its deadline is cut, the socket being dead anyway.
func (c *Conn) ping() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.done {
		return
	}
	c.pingDue = true
	c.startWriterLocked()
}

// pongTo answers the peer's ping (gorilla's ping handler, on the reader).
// Only the last ping is answered when several come before the writer runs,
// as RFC 6455 allows.
func (c *Conn) pongTo(data string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.done {
		return
	}
	c.pongDue = true
	c.pong = append(c.pong[:0], data...)
	c.startWriterLocked()
}

// OnDone registers f to run once when the connection is finished. It may
// run on any goroutine (the reader's, the writer's, or one that cut the
// connection), never on one that called Send.
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

// cut ends a connection whose peer cannot take a write or whose stream is
// broken mid-frame. Linger 0 makes the kernel drop what it still holds for
// the peer (a reset) instead of retrying a peer that reads nothing for
// minutes.
func (c *Conn) cut() {
	if tc, ok := c.raw.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
	c.finish()
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
			c.readEnded()
			return nil, false, err
		}
		c.extendDeadline()
		switch typ {
		case websocket.TextMessage:
			c.tally.in.Add(1)
			return data, false, nil
		case websocket.BinaryMessage:
			c.tally.in.Add(1)
			return data, true, nil
		}
	}
}

// readEnded finishes the connection once its reader has stopped, unless
// the writer still has a close frame to send (the reply to the peer's
// close, gorilla's 1009): the writer then finishes it after that write.
func (c *Conn) readEnded() {
	c.mu.Lock()
	abort := c.abort
	c.mu.Unlock()
	if !abort {
		c.finish()
	}
}

// SetReadDeadline bounds the wait for the next frame (the hello, the auth).
func (c *Conn) SetReadDeadline(t time.Time) { _ = c.ws.SetReadDeadline(t) }

// extendDeadline moves the read deadline on, unless the socket is closing.
// The deadline is set under the lock: set after it, it could overwrite the
// close reply's shorter wait that the writer sets once closing is marked.
func (c *Conn) extendDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.reg.opts.PongWait))
	}
}

// IsTimeout reports whether err is a read deadline passing.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
