package session

import (
	"context"
	"sync"
	"time"
)

// ConversationWatcher receives one conversation's events. Calls for one watch
// are serialised and never overlap; they must not block (enqueue and return).
type ConversationWatcher interface {
	// Entry is called with transcript entries in seq order, without gaps or
	// repeats, starting after the cursor the watch was opened with.
	Entry(convID string, e RawEntry)
	// State is called with the conversation's latest state. The first call
	// after a watch opens (or recovers from missed signals) is the current
	// state; later calls are newer states, possibly skipping some.
	State(convID string, st State)
	// Typing is best effort: it may be lost, never stored.
	Typing(convID string, role Role, active bool)
	// Gone is called once when the conversation no longer exists in Redis
	// (expired or deleted): its history cannot be recovered.
	Gone(convID string)
}

// Feed is one watcher's view of one conversation: it keeps the watcher's
// cursor (the last seq delivered) and state version, drops what the watcher
// has seen, and fills gaps from the transcript in Redis.
type Feed struct {
	hub    *Hub
	room   *room
	convID string
	w      ConversationWatcher

	mu        sync.Mutex // guards below, and serialises calls to w
	cursor    int64
	stateV    int64
	filling   bool
	wantSeq   int64 // highest seq seen while filling
	wantState int64 // highest state version seen while filling
	refill    bool  // the fill under way may have read too early: it reads once more
	closed    bool
	gone      bool
}

// Cursor returns the last seq delivered to the watcher.
func (f *Feed) Cursor() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursor
}

// Stop ends the watch. Safe to call more than once.
func (f *Feed) Stop() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.mu.Unlock()
	f.hub.leaveConversation(f)
}

func (f *Feed) entry(e RawEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.gone {
		return
	}
	if f.filling {
		f.wantSeq = max(f.wantSeq, e.Seq)
		return
	}
	switch {
	case e.Seq <= f.cursor:
	case e.Seq == f.cursor+1:
		f.cursor = e.Seq
		f.w.Entry(f.convID, e)
	default:
		f.startFillLocked(e.Seq, 0)
	}
}

func (f *Feed) state(st State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.gone {
		return
	}
	if f.filling {
		f.wantState = max(f.wantState, st.Version)
		return
	}
	if st.Version <= f.stateV {
		return
	}
	f.stateV = st.Version
	f.w.State(f.convID, st)
}

func (f *Feed) typing(role Role, active bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed && !f.gone {
		f.w.Typing(f.convID, role, active)
	}
}

// draft passes a streamed answer's progress to watchers that follow drafts.
// Best effort, like typing: the finished answer is an entry.
func (f *Feed) draft(d DraftEvent) {
	dw, ok := f.w.(DraftWatcher)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed && !f.gone {
		dw.Draft(f.convID, d)
	}
}

// kick makes the feed re-read the transcript and state: after the process
// may have missed signals (a Redis reconnect, a subscription confirmed
// after the feed stopped waiting for it). A fill under way may have read
// before what was missed, so it reads once more.
func (f *Feed) kick() {
	f.mu.Lock()
	switch {
	case f.closed || f.gone:
	case f.filling:
		f.refill = true
	default:
		f.startFillLocked(0, 0)
	}
	f.mu.Unlock()
	if f.hub.step != nil {
		f.hub.step("kick", f.convID)
	}
}

func (f *Feed) startFillLocked(wantSeq, wantState int64) {
	f.filling = true
	f.wantSeq = max(f.wantSeq, wantSeq)
	f.wantState = max(f.wantState, wantState)
	if !f.hub.track() {
		f.filling = false // the Hub is closing
		return
	}
	go f.fill()
}

// fill reads what the watcher is missing until it has caught up with every
// seq and state version seen while reading.
func (f *Feed) fill() {
	defer f.hub.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		f.mu.Lock()
		if f.closed {
			f.filling = false
			f.mu.Unlock()
			return
		}
		cursor := f.cursor
		f.refill = false
		f.mu.Unlock()

		ctx, cancel := context.WithTimeout(f.hub.ctx, 5*time.Second)
		entries, st, ok, err := f.hub.svc.catchUp(ctx, f.convID, cursor)
		cancel()
		if f.hub.step != nil {
			f.hub.step("read", f.convID)
		}
		if err != nil {
			f.hub.log.Warn("catching up a conversation feed", "conversation", f.convID, "err", err)
			select {
			case <-f.hub.ctx.Done():
			case <-time.After(backoff):
			}
			if f.hub.ctx.Err() != nil {
				f.mu.Lock()
				f.filling = false
				f.mu.Unlock()
				return
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}

		f.mu.Lock()
		if f.closed {
			f.filling = false
			f.mu.Unlock()
			return
		}
		if !ok {
			f.gone = true
			f.filling = false
			f.w.Gone(f.convID)
			f.mu.Unlock()
			return
		}
		for _, e := range entries {
			if e.Seq == f.cursor+1 {
				f.cursor = e.Seq
				f.w.Entry(f.convID, e)
			}
		}
		if st.Version > f.stateV {
			f.stateV = st.Version
			f.w.State(f.convID, st)
		}
		if f.cursor >= f.wantSeq && f.stateV >= f.wantState && !f.refill {
			f.filling = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
	}
}
