//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit lifts the soft open-file limit to the hard one and checks
// that need descriptors fit, with room for the process's own files. Go does
// the raise itself at start on Linux; this makes the check explicit and says
// what to do when it fails.
func raiseFileLimit(need int) (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			return 0, fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", r.Max, err)
		}
	}
	const spare = 200
	cur := uint64(r.Cur) // int64 on some systems
	if uint64(need)+spare > cur {
		return cur, fmt.Errorf("this process may open %d files; %d sockets need %d: run more generator processes (idle: --conns-per-process)",
			cur, need, need+spare)
	}
	return cur, nil
}
