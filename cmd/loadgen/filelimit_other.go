//go:build !unix

package main

// raiseFileLimit has nothing to raise where there is no RLIMIT_NOFILE
// (Windows limits handles per process far above what one generator opens).
func raiseFileLimit(int) (uint64, error) { return 0, nil }
