//go:build !linux

package session

func newPauser() pauser { return sleeper{} }
