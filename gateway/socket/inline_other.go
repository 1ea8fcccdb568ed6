//go:build !unix

package socket

import (
	"errors"
	"net"
	"syscall"
)

// inlineWrites: on this platform every frame goes through the writer
// goroutine.
func inlineWrites(net.Conn) syscall.RawConn { return nil }

func tryWrite(syscall.RawConn, []byte) (int, error) { return 0, errors.ErrUnsupported }
