//go:build !linux

package socket

import (
	"errors"
	"syscall"
)

// awaitReadable is Linux's; elsewhere the reader waits in Read.
func awaitReadable(syscall.RawConn) (bool, error) { return false, errors.ErrUnsupported }
