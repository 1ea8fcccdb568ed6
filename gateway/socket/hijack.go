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

// hijackWriter gives gorilla an ownedConn when it hijacks the connection.
type hijackWriter struct {
	http.ResponseWriter
	conn *ownedConn
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
	h.conn = &ownedConn{Conn: c}
	return h.conn, brw, nil
}
