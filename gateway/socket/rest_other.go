//go:build !linux || 386

package socket

import (
	"errors"
	"syscall"
)

// awaitReadable and hasData are Linux's; elsewhere the reader waits in
// Read (and Idle says true only where it can tell).
func awaitReadable(syscall.RawConn) (bool, error) { return false, errors.ErrUnsupported }

func hasData(syscall.RawConn) bool { return true }
