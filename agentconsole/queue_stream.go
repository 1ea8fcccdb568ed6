package agentconsole

import (
	"sync"
	"time"

	"github.com/batonchat/baton/session"
)

// legacyQueueEvery is the least time between two full queue frames to a
// console that does not follow deltas. Every change makes a snapshot, and
// a burst of handoffs to a large team would otherwise queue one frame of
// the whole queue per change on every socket (cut with 1013 at 1 MiB); the
// last snapshot of a burst always goes, so the console ends on the latest.
const legacyQueueEvery = 200 * time.Millisecond

// queueStream is how the queue reaches one console: a versioned snapshot,
// then queue_delta frames (queue_deltas in the auth frame), or the
// contract's full queue frames, at most one per legacyQueueEvery.
type queueStream struct {
	deltas bool // set once, before the merchant is watched

	mu     sync.Mutex // queue frames are sent under it, so they leave in order
	last   *session.QueueSnapshot
	sent   bool        // a snapshot went out
	at     int64       // the version the console holds
	sentAt time.Time   // full frames: when the last went
	timer  *time.Timer // full frames: the next is due
	done   bool
}

func (q *queueStream) finish() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.done = true
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
}

// QueueChanged implements session.MerchantWatcher. Snapshots come from the
// node's builder, one at a time, and once from WatchMerchant, which may
// race it: an older one than the last seen is dropped.
func (s *consoleSocket) QueueChanged(snap *session.QueueSnapshot) {
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done || (q.last != nil && snap.Version() < q.last.Version()) {
		return
	}
	q.last = snap
	if q.deltas {
		if q.sent {
			if snap.Version() == q.at {
				return
			}
			if frames, ok := snap.DeltasAfter(q.at); ok {
				for _, f := range frames {
					s.send(f)
				}
				q.at = snap.Version()
				return
			}
		}
		s.sendVersioned()
		return
	}
	if q.timer != nil || (q.sent && snap.Version() == q.at) {
		return // the frame due takes the latest snapshot; or nothing changed
	}
	if wait := legacyQueueEvery - time.Since(q.sentAt); wait > 0 {
		q.timer = time.AfterFunc(wait, s.flushQueue)
		return
	}
	s.sendFull()
}

// sendFull sends the last snapshot as the contract's queue frame; q.mu
// held.
func (s *consoleSocket) sendFull() {
	q := &s.queue
	q.sentAt, q.sent, q.at = time.Now(), true, q.last.Version()
	s.send(q.last.Frame())
}

// sendVersioned sends the last snapshot whole, with its version; q.mu held.
func (s *consoleSocket) sendVersioned() {
	q := &s.queue
	q.sent, q.at = true, q.last.Version()
	s.send(q.last.VersionedFrame())
}

func (s *consoleSocket) flushQueue() {
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	q.timer = nil
	if q.done || q.last == nil || q.last.Version() == q.at {
		return
	}
	s.sendFull()
}

// queueSync answers a console that saw a gap in the versions (or wants the
// queue again): the latest snapshot, whole. Before the first there is
// nothing to send; it is on its way.
func (s *consoleSocket) queueSync() {
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done || q.last == nil {
		return
	}
	if q.deltas {
		s.sendVersioned()
		return
	}
	s.sendFull()
}
