//go:build unix

package socket

import (
	"net"
	"syscall"
)

// inlineWrites is the descriptor of a plain socket, for writes that never
// wait; nil for anything else (TLS, a pipe in a test), whose frames the
// writer goroutine writes.
func inlineWrites(raw net.Conn) syscall.RawConn {
	var sc syscall.Conn
	switch raw := raw.(type) {
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

// tryWrite writes as much of b as the kernel takes without waiting, and
// says how much; err only when the connection failed. A write the poller
// refuses (the connection closed, a deadline passed) writes nothing and is
// left to the writer goroutine, which finds out.
func tryWrite(rc syscall.RawConn, b []byte) (n int, err error) {
	_ = rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return true // the rest would wait: never park
			case e != nil:
				err = e
				return true
			case m <= 0:
				return true
			}
			n += m
		}
		return true
	})
	return n, err
}
