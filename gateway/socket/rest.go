package socket

import (
	"errors"
	"net"
	"syscall"

	"github.com/gorilla/websocket"
)

// Rest waits until the socket has something for its reader, on as small a
// stack as it can, and returns; the reader then calls Read. It returns at
// once where it cannot wait this way (gorilla holds unread bytes, the
// connection is not a plain socket, another platform).
//
// Why: an idle socket's cost is mostly its reader's stack. Blocked inside
// gorilla's ReadMessage that reader uses about 1.4 KB of stack, which
// keeps it on a 4 KB stack (Go grows a 2 KB stack once less than ~1.1 KB
// is left, and shrinks one only below a quarter used); resting in the
// poller directly needs about half of that, so a reader that starts on a
// fresh goroutine and rests stays on 2 KB. Pongs would wake it, and gorilla
// would then wait for the next frame deep in ReadMessage again, so a pong
// that is wholly in the socket's buffer is taken here, as gorilla's pong
// handler would (the read deadline moves on), and the rest goes on.
//
// Only the socket's reader may call it, between Reads.
func (c *Conn) Rest() {
	rc := c.rawConn()
	if rc == nil {
		return
	}
	for c.br.Buffered() == 0 {
		pong, err := awaitReadable(rc)
		if errors.Is(err, errTornPong) {
			// Cannot happen with one reader; if it did, the stream would
			// be cut mid-frame, and so is the connection.
			_ = c.raw.Close()
			return
		}
		if err != nil || !pong {
			// Data, the end or a deadline: Read sees it.
			return
		}
		c.extendDeadline()
	}
}

// Idle reports whether the reader's next Read would wait: gorilla holds
// nothing and nothing waits in the socket (one peek). False where it cannot
// tell. Only the socket's reader may call it, between Reads.
func (c *Conn) Idle() bool {
	rc := c.rawConn()
	return rc != nil && c.br.Buffered() == 0 && !hasData(rc)
}

// rawConn is the socket's descriptor when Rest and Idle can look at it:
// gorilla reads through Baton's buffer, and the connection is a plain
// socket with no buffer of its own above the kernel's (a wrapper with one,
// like TLS, would hide bytes from the peek).
func (c *Conn) rawConn() syscall.RawConn {
	if c.br == nil {
		return nil
	}
	var sc syscall.Conn
	switch raw := c.raw.(type) {
	case *net.TCPConn:
		sc = raw
	case *net.UnixConn:
		sc = raw
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// maxPong is the largest pong frame a client sends: two header bytes, the
// mask and at most 125 bytes of payload.
const maxPong = 2 + 4 + 125

// pongSize is the length of the client pong frame at the start of b, or 0
// if b does not start with a whole one. A client's frames are masked; a
// pong is one unfragmented frame (FIN, opcode 10, no reserved bits).
func pongSize(b []byte) int {
	if len(b) < 2 || b[0] != 0x80|websocket.PongMessage || b[1]&0x80 == 0 {
		return 0
	}
	n := 2 + 4 + int(b[1]&0x7f)
	if n > maxPong || len(b) < n {
		return 0
	}
	return n
}

// errTornPong: a pong was read in part.
var errTornPong = errors.New("socket: a pong was read in part")
