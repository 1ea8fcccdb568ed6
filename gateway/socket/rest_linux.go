//go:build linux && !386

// (linux/386 reaches recvfrom through socketcall: it rests in Read.)

package socket

import (
	"syscall"
	"unsafe"
)

// awaitReadable parks until the socket has data (or an error, or its read
// deadline passes) without reading any, except a whole pong frame at the
// front, which it takes and reports (pong true) so that the caller moves
// the deadline on. It peeks before parking: the poller only wakes a reader
// for data that arrives after it looked.
func awaitReadable(rc syscall.RawConn) (pong bool, err error) {
	var torn bool
	err = rc.Read(func(fd uintptr) bool {
		var b [maxPong]byte
		for {
			n, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
				syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return false // nothing yet: park
			case e != 0 || n == 0:
				return true // an error or the end: Read reports it
			}
			size := pongSize(b[:n])
			if size == 0 {
				return true // a frame for gorilla
			}
			// The peek saw all of it and nobody else reads this socket,
			// so the read takes exactly the pong.
			m, _, e := syscall.Syscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(size))
			switch {
			case e == syscall.EINTR:
				continue
			case e != 0:
				return true // nothing taken: Read reports it
			case int(m) != size:
				torn = true
			}
			pong = true
			return true
		}
	})
	if err == nil && torn {
		err = errTornPong
	}
	return pong, err
}

// hasData reports whether the socket has data waiting (or an error or the
// end, which a Read should see at once), without waiting or reading.
func hasData(rc syscall.RawConn) bool {
	var has bool
	err := rc.Read(func(fd uintptr) bool {
		var b [1]byte
		for {
			_, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
				syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
			if e == syscall.EINTR {
				continue
			}
			has = e != syscall.EAGAIN
			return true // never park
		}
	})
	return has || err != nil
}
