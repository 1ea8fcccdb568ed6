package session

import (
	"context"
	"time"
)

// How rooms get and lose their Redis subscription.
//
// One goroutine, the subscription loop, makes every SUBSCRIBE and
// UNSUBSCRIBE this node sends, one call at a time, from the rooms as they are
// when it looks; joins and the janitor's sweeps only change rooms under
// Hub.mu and wake it. Only the loop deletes a room, under the lock, at the
// moment it decides to unsubscribe it, and only if nobody has joined it
// since it was swept. A join after that makes a new room whose SUBSCRIBE the
// same loop sends after the UNSUBSCRIBE, so a channel's calls never overtake
// one another: a late UNSUBSCRIBE cannot undo a re-join's SUBSCRIBE and leave
// a room deaf (one go-redis would not resubscribe after a reconnect either,
// having dropped the channel from its set).
//
// One loop rather than a state machine per channel: go-redis sends every
// call of a PubSub on one connection under one lock, so callers gain nothing
// by making them concurrently, and one loop needs no per-channel states to
// get right. (On a cluster the loop only hands the conversation channels to
// their shards' connections, each with a writer of its own, so that one
// master that stalls cannot stall the loop: shards.go.) It also folds the rooms made while a call is under way into
// the next call: a burst of sockets reconnecting costs a few SUBSCRIBEs, not
// one each.

// subscriptions is the subscription loop; it also runs the janitor's sweeps.
func (h *Hub) subscriptions(ctx context.Context) {
	defer h.wg.Done()
	t := time.NewTicker(h.sweepEvery)
	defer t.Stop()
	// What go-redis has been asked to subscribe: its own set, which it
	// subscribes again after a reconnect. Only this goroutine uses it.
	told := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.sweep(now)
		case <-h.wake:
		case silent := <-h.renew:
			h.renewClassic(ctx, told, silent)
		}
		h.reconcile(ctx, told)
	}
}

func (h *Hub) wakeSubscriptions() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// sweep marks rooms that have had no watchers for idleAfter as leaving; the
// subscription loop unsubscribes them unless they are watched again first.
// The delay spares Redis the churn of sockets that reconnect at once.
func (h *Hub) sweep(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	marked := false
	for ch, r := range h.rooms {
		if !r.leaving && r.empty() && r.confirmed && !r.building && !r.emptyAt.IsZero() && now.Sub(r.emptyAt) > h.idleAfter {
			r.leaving = true
			h.wants[ch] = struct{}{}
			marked = true
		}
	}
	if marked {
		h.wakeSubscriptions()
	}
}

// reconcile brings go-redis's set in line with the rooms, until the rooms
// stop changing.
func (h *Hub) reconcile(ctx context.Context, told map[string]bool) {
	for ctx.Err() == nil {
		var subs, unsubs []string
		h.mu.Lock()
		for ch := range h.wants {
			r := h.rooms[ch]
			if r != nil && r.leaving {
				// The re-check: a join since the sweep cleared leaving.
				r.leaving = false
				if r.empty() && !r.building {
					delete(h.rooms, ch)
					r = nil
				}
			}
			switch {
			case r != nil && !told[ch]:
				subs = append(subs, ch)
			case r == nil && told[ch]:
				unsubs = append(unsubs, ch)
			}
		}
		clear(h.wants)
		h.mu.Unlock()
		if len(subs) == 0 && len(unsubs) == 0 {
			return
		}
		// go-redis updates its set whatever the call returns (and an
		// empty UNSUBSCRIBE would drop every channel: never send one).
		// On a cluster, conversation channels go to their shards, which
		// place them again themselves when a call fails.
		if len(unsubs) > 0 {
			classic, sharded := h.split(unsubs)
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if len(classic) > 0 {
				if err := h.unsubscribe(cctx, classic...); err != nil {
					h.log.Debug("unsubscribing idle rooms", "err", err)
				}
			}
			if len(sharded) > 0 {
				if err := h.shards.unsubscribe(cctx, sharded...); err != nil {
					h.log.Debug("unsubscribing idle rooms from their shards", "err", err)
				}
			}
			cancel()
			for _, ch := range unsubs {
				delete(told, ch)
			}
		}
		if len(subs) > 0 {
			classic, sharded := h.split(subs)
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if len(classic) > 0 {
				if err := h.subscribe(cctx, classic...); err != nil {
					// go-redis subscribes them on reconnect; the
					// confirmations then open the rooms.
					h.log.Warn("subscribing", "channels", len(classic), "err", err)
				}
			}
			if len(sharded) > 0 {
				if err := h.shards.subscribe(cctx, sharded...); err != nil {
					h.log.Warn("subscribing on the shards", "channels", len(sharded), "err", err)
				}
			}
			cancel()
			for _, ch := range subs {
				told[ch] = true
			}
		}
	}
}

// split parts channels into those on the classic subscription and those on
// the shards.
func (h *Hub) split(channels []string) (classic, sharded []string) {
	if h.shards == nil {
		return channels, nil
	}
	for _, ch := range channels {
		if h.sharded(ch) {
			sharded = append(sharded, ch)
		} else {
			classic = append(classic, ch)
		}
	}
	return classic, sharded
}

// join adds a member to the room for channel; a new room is subscribed by
// the subscription loop. A room's ids are set when it is made and never
// change, so the room's goroutines may read them without the lock.
func (h *Hub) join(channel, convID, merchantID string, add func(*room)) *room {
	h.mu.Lock()
	r := h.rooms[channel]
	if r == nil {
		r = &room{channel: channel, convID: convID, merchantID: merchantID, ready: make(chan struct{})}
		h.rooms[channel] = r
		h.wants[channel] = struct{}{}
		h.wakeSubscriptions()
	}
	add(r)
	r.emptyAt = time.Time{}
	r.leaving = false
	h.mu.Unlock()
	if h.step != nil {
		h.step("joined", channel)
	}
	return r
}

// awaitReady waits for Redis to confirm the room's subscription so that
// nothing published after the caller's next read can be missed. When it
// gives up, what the caller reads may still miss what is published before
// the confirmation: the room is marked stale, so that the confirmation,
// however late, makes every watcher of the room read again.
func (h *Hub) awaitReady(ctx context.Context, r *room) {
	t := time.NewTimer(h.readyWait)
	defer t.Stop()
	select {
	case <-r.ready:
		return
	case <-ctx.Done():
	case <-h.ctx.Done():
	case <-t.C:
		h.log.Warn("subscription not confirmed in time; its watchers catch up when it is", "channel", r.channel)
	}
	h.mu.Lock()
	if !r.confirmed {
		r.stale = true
	}
	h.mu.Unlock()
}

// markChannelsStale marks the rooms of channels stale.
func (h *Hub) markChannelsStale(channels []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range channels {
		if r := h.rooms[ch]; r != nil {
			r.stale = true
		}
	}
}

// markStale marks the rooms that may have missed signals (those which: the
// subscription they depend on was lost).
func (h *Hub) markStale(which func(*room) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.rooms {
		if which(r) {
			r.stale = true
		}
	}
}

// confirmed handles Redis's confirmation of a subscription: the room is now
// live, and if it may have missed signals (it was live before and lost the
// subscription, or a watch stopped waiting for this confirmation), its
// watchers catch up.
func (h *Hub) confirmed(channel string) {
	h.mu.Lock()
	r := h.rooms[channel]
	if r == nil {
		h.mu.Unlock()
		return
	}
	if !r.confirmed {
		r.confirmed = true
		close(r.ready)
	}
	stale := r.stale
	r.stale = false
	var feeds []*Feed
	var watchers []MerchantWatcher
	if stale {
		for f := range r.feeds {
			feeds = append(feeds, f)
		}
		for w := range r.watchers {
			watchers = append(watchers, w)
		}
		if r.merchantID != "" {
			// Changes may have gone unannounced: the next build checks
			// every entry, even if one under way now ends first.
			r.snap, r.full = nil, true
		}
	}
	h.mu.Unlock()
	if !stale {
		return
	}
	if channel == h.svc.keys.control() {
		// Any change may have been missed: forget every merchant and
		// account, and have every console socket checked again.
		h.svc.cfg.invalidateAll()
		h.svc.accounts.invalidate("", "")
		return
	}
	for _, f := range feeds {
		f.kick()
	}
	if r.merchantID != "" {
		for _, w := range watchers {
			w.Resync()
		}
		h.rebuildQueue(r)
	}
}

// unsubscribed handles Redis's confirmation of an UNSUBSCRIBE. The room the
// channel has now, if any, was made after the one unsubscribed and waits
// for the confirmation of its own SUBSCRIBE, which follows. If it is already
// open, a confirmation meant for the old room opened it (go-redis
// resubscribing after a reconnect just before the UNSUBSCRIBE): it has been
// deaf since, so its watchers read again once its own is confirmed.
func (h *Hub) unsubscribed(channel string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rooms[channel]; r != nil && r.confirmed {
		r.stale = true
	}
}
