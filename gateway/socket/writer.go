package socket

import (
	"encoding/binary"
	"time"

	"github.com/gorilla/websocket"
)

// abortWait bounds the write of a close frame when the socket is closing
// at once: on a peer that reads, it goes out at once; on one whose buffers
// are full, waiting longer would not help.
const abortWait = 50 * time.Millisecond

// closeWait is how long a socket closed gracefully waits for the client's
// close frame in reply.
const closeWait = 2 * time.Second

// work is what the writer takes from the Conn for one write.
type work struct {
	rest       []byte // the end of an inline write, first
	restFrames int
	restSince  time.Time
	pong       []byte
	pongDue    bool
	ping       bool
	batch      [][]byte
	since      time.Time // when batch's first frame was queued
	closeFrame []byte
	abort      bool
}

// startWriterLocked starts the writer unless one is running. It exists
// only while there is something to write, so an idle socket holds no
// goroutine but its reader.
func (c *Conn) startWriterLocked() {
	if !c.writing && !c.done {
		c.writing = true
		go c.writer()
	}
}

// writer is the only goroutine that writes to the connection: frames,
// pings, pongs and close frames. Everyone else queues work for it under
// c.mu and never waits for a write.
func (c *Conn) writer() {
	buf := c.reg.bufs.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledBatch {
			*buf = (*buf)[:0]
			c.reg.bufs.Put(buf)
		}
	}()
	for {
		c.mu.Lock()
		w, ok := c.takeLocked()
		if !ok {
			if c.wrc != nil {
				// The next sender writes inline, through the descriptor,
				// which a deadline that has passed would refuse.
				_ = c.raw.SetWriteDeadline(time.Time{})
			}
			c.writing = false
			finish := c.abort && !c.done
			c.mu.Unlock()
			if finish {
				c.finish()
			}
			return
		}
		c.inWrite = true
		c.writes++
		c.mu.Unlock()

		*buf = w.appendTo((*buf)[:0])
		timeout := c.reg.opts.WriteTimeout
		if w.abort {
			timeout = abortWait
		}
		_ = c.raw.SetWriteDeadline(time.Now().Add(timeout))
		_, err := c.raw.Write(*buf)
		if err == nil {
			c.count(&w)
		}
		if cap(*buf) > maxPooledBatch {
			// One burst's huge buffer does not live on with the socket.
			*buf = make([]byte, 0, 4096)
		}
		for i := range w.batch {
			w.batch[i] = nil
		}

		c.mu.Lock()
		c.inWrite = false
		if w.batch != nil && c.spare == nil {
			c.spare = w.batch[:0]
		}
		if err != nil {
			// A write that failed or timed out may have stopped mid-frame:
			// nothing more can be written. The writer stays the writer and
			// no frame is taken any more, so that between here and the
			// teardown no sender or ping starts a write after the torn frame.
			c.closing = true
			c.mu.Unlock()
			c.cut()
			return
		}
		c.mu.Unlock()
		if w.closeFrame != nil && !w.abort {
			// The reader sees the client's close reply, or this deadline.
			_ = c.ws.SetReadDeadline(time.Now().Add(closeWait))
		}
	}
}

// takeLocked takes everything there is to write; false when there is
// nothing (or the socket is finished).
func (c *Conn) takeLocked() (work, bool) {
	if c.done {
		return work{}, false
	}
	w := work{rest: c.rest, restFrames: c.restFrames, restSince: c.restSince,
		ping: c.pingDue, pongDue: c.pongDue, abort: c.abort}
	c.rest, c.restFrames = nil, 0
	if c.pongDue {
		w.pong = append([]byte(nil), c.pong...)
	}
	c.pingDue, c.pongDue = false, false
	if len(c.queue) > 0 && !c.abort {
		w.batch, w.since = c.queue, c.since
		c.queue = c.spare[:0]
		c.spare = nil
		c.queued = 0
	}
	if len(c.queue) == 0 && c.closeFrame != nil {
		w.closeFrame = c.closeFrame
		c.closeFrame = nil
		c.closeSent = true
	}
	return w, w.rest != nil || w.ping || w.pongDue || w.batch != nil || w.closeFrame != nil
}

// pendingLocked tells whether there is something to write.
func (c *Conn) pendingLocked() bool {
	return !c.done && (c.rest != nil || c.pingDue || c.pongDue || len(c.queue) > 0 || c.closeFrame != nil)
}

// count tallies the frames a write has put on the wire.
func (c *Conn) count(w *work) {
	frames := len(w.batch) + w.restFrames
	if frames == 0 {
		return
	}
	c.tally.out.Add(uint64(frames))
	if c.tally.writeWait != nil {
		since := w.since
		if w.restFrames > 0 {
			since = w.restSince
		}
		c.tally.writeWait(time.Since(since))
	}
}

// writeInline is Send's way when no writer is running (the sender has just
// become it; c.mu is held, and released): the sender writes what there is
// itself, in one write that never waits, and leaves only what the kernel
// would not take at once to the writer goroutine. A frame to a socket that
// keeps up, the usual case, thus costs no goroutine, and no wakeup of an
// idle processor to run one (profiles at 10,000 msg/s had starting and
// scheduling the writers at a quarter of the agents' node). A sender never
// waits for a peer: a slow one's frames go to the writer, as before.
func (c *Conn) writeInline() {
	// Not inWrite: this write never blocks, so a slow-consumer cut or
	// CloseNow meanwhile is no reason to reset the connection; the close
	// frame goes out after it, through the writer goroutine. And Send takes
	// no frame once closing, so no close frame is ever written here.
	w, _ := c.takeLocked() // a frame at least: the sender's own
	c.mu.Unlock()

	buf := c.reg.bufs.Get().(*[]byte)
	*buf = w.appendTo((*buf)[:0])
	n, err := tryWrite(c.wrc, *buf)
	if err == nil && n == len(*buf) {
		c.count(&w)
	}
	for i := range w.batch {
		w.batch[i] = nil
	}

	c.mu.Lock()
	if w.batch != nil && c.spare == nil {
		c.spare = w.batch[:0]
	}
	switch {
	case c.done:
		// Finished meanwhile (drained, or its reader saw it end): the rest
		// is for no one.
	case err != nil:
		// Part of a frame may have gone: nothing more can be written. The
		// sender stays the writer (no one else writes) and no frame is taken
		// any more; the teardown runs the OnDone callbacks, which must not
		// run on a goroutine that called Send (it may hold the locks they
		// take, or be the node's only delivery goroutine).
		c.closing = true
		c.mu.Unlock()
		c.putBuf(buf)
		go c.cut()
		return
	case n < len(*buf):
		c.rest = append([]byte(nil), (*buf)[n:]...)
		c.restFrames, c.restSince = len(w.batch), w.since
		c.splits++
	}
	c.putBuf(buf)
	if c.pendingLocked() {
		c.mu.Unlock()
		go c.writer() // still the writer: it takes over
		return
	}
	c.writing = false
	finish := c.abort && !c.done
	c.mu.Unlock()
	if finish {
		go c.finish() // not on the sender's goroutine, as above
	}
}

func (c *Conn) putBuf(buf *[]byte) {
	if cap(*buf) <= maxPooledBatch {
		*buf = (*buf)[:0]
		c.reg.bufs.Put(buf)
	}
}

// appendTo frames the work for the wire, control frames first (they may
// come between messages) and the close frame last.
func (w *work) appendTo(b []byte) []byte {
	b = append(b, w.rest...) // the end of a frame already begun
	if w.pongDue {
		b = appendFrame(b, websocket.PongMessage, w.pong)
	}
	if w.ping {
		b = appendFrame(b, websocket.PingMessage, nil)
	}
	for _, f := range w.batch {
		b = appendFrame(b, websocket.TextMessage, f)
	}
	return append(b, w.closeFrame...)
}

// appendFrame appends one unfragmented, unmasked frame (RFC 6455 5.2: a
// server never masks).
func appendFrame(b []byte, opcode int, payload []byte) []byte {
	const fin = 0x80
	n := len(payload)
	switch {
	case n < 126:
		b = append(b, fin|byte(opcode), byte(n))
	case n <= 0xffff:
		b = append(b, fin|byte(opcode), 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, fin|byte(opcode), 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

func frameBytes(opcode int, payload []byte) []byte { return appendFrame(nil, opcode, payload) }

// closeFrame is a close frame with code and reason, the reason cut to fit
// a control frame.
func closeFrame(code int, reason string) []byte {
	if len(reason) > 120 {
		reason = reason[:120]
	}
	return frameBytes(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason))
}

// maxPooledBatch keeps one burst's huge buffer from living on in the pool.
const maxPooledBatch = 256 << 10
