package socket

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ownedConn is the TCP connection under gorilla's Conn. Gorilla writes the
// handshake through it; after that every write belongs to the socket's
// writer, which writes to the TCP connection directly. The few frames
// gorilla still writes by itself from the reader (the close frame for a
// frame over the read limit or a protocol error) are handed to the writer
// here instead of being written from the reader, and gorilla's write
// deadlines, which would move the writer's, are ignored.
type ownedConn struct {
	net.Conn
	owner atomic.Pointer[Conn]
}

func (o *ownedConn) Write(p []byte) (int, error) {
	c := o.owner.Load()
	if c == nil {
		return o.Conn.Write(p)
	}
	// Gorilla writes each control frame with one Write; with its ping and
	// close handlers replaced, only close frames come this way.
	if len(p) >= 2 && int(p[0]&0x0f) == websocket.CloseMessage {
		c.closeWithFrame(append([]byte(nil), p...))
	}
	return len(p), nil
}

func (o *ownedConn) SetWriteDeadline(t time.Time) error {
	if o.owner.Load() != nil {
		return nil
	}
	return o.Conn.SetWriteDeadline(t)
}

func (o *ownedConn) SetDeadline(t time.Time) error {
	if o.owner.Load() != nil {
		return o.Conn.SetReadDeadline(t)
	}
	return o.Conn.SetDeadline(t)
}

// hijackWriter gives gorilla an ownedConn when it hijacks the connection,
// and a read buffer of ours (gorilla reads through the hijacked reader when
// the upgrader sets no read buffer size), so that the socket can tell
// whether gorilla holds unread bytes before it rests (Conn.Rest).
type hijackWriter struct {
	http.ResponseWriter
	conn *ownedConn
	br   *bufio.Reader
}

// readBufferSize: chat frames are small, so a half-kilobyte buffer reads
// most in one call, and idle sockets hold less.
const readBufferSize = 512

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("socket: response does not support hijacking")
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &ownedConn{Conn: c}
	if brw.Reader.Buffered() > 0 {
		// The client sent before the handshake was done: gorilla refuses
		// that, and must see it.
		return h.conn, brw, nil
	}
	h.br = bufio.NewReaderSize(h.conn, readBufferSize)
	return h.conn, bufio.NewReadWriter(h.br, brw.Writer), nil
}
