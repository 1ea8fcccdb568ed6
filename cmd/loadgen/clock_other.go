//go:build !linux

package main

import "time"

// pacerClock falls back to time.Sleep off Linux (about 1 ms of jitter).
type pacerClock struct{}

func newPacerClock() *pacerClock { return &pacerClock{} }

func (c *pacerClock) sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

func (c *pacerClock) close() {}
