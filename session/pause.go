package session

import "time"

// A linger is a fraction of a millisecond, and time.Sleep cannot wait that
// little: a Go process with nothing else to do parks in epoll_wait, whose
// timeout is in whole milliseconds, so a 0.5 ms sleep took 1.10 ms (p50 of
// 2,000, go1.26.8 on the 2-core benchmark box) and a 0.1 ms one 1.10 ms too.
// The batcher's 0.5 ms linger was thus a 1.1 ms one whenever the node was
// otherwise idle between messages, which at 5,000 msg/s it mostly is. A
// pauser waits the time asked for; where the platform offers nothing
// better it sleeps.
type pauser interface {
	pause(d time.Duration)
}

type sleeper struct{}

func (sleeper) pause(d time.Duration) { time.Sleep(d) }
