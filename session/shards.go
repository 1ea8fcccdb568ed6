package session

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// pubsubMode is how conversation channels are published: PUBLISH, or on a
// Redis Cluster SPUBLISH, which reaches only the shard that owns the
// conversation's slot (classic PUBLISH is forwarded to every node of the
// cluster, so adding shards would add no fan-out capacity). The merchant
// and control channels stay classic: apply.lua announces queue changes on
// the merchant's channel from the conversation's slot, which a script may
// only do with PUBLISH, and both carry little.
type pubsubMode struct {
	command string // the scripts' publishing command
	sharded bool
}

func newPubsubMode(rdb redis.UniversalClient, classic bool) pubsubMode {
	if _, ok := rdb.(*redis.ClusterClient); ok && !classic {
		return pubsubMode{command: "SPUBLISH", sharded: true}
	}
	return pubsubMode{command: "PUBLISH"}
}

// conversation publishes on a conversation's channel.
func (p pubsubMode) conversation(ctx context.Context, rdb redis.UniversalClient, channel, payload string) error {
	if p.sharded {
		return rdb.SPublish(ctx, channel, payload).Err()
	}
	return rdb.Publish(ctx, channel, payload).Err()
}

// shardSubs is the Hub's sharded side: conversation channels SSUBSCRIBEd on
// the master that owns their slot, one connection per master this node
// needs. The subscription loop and the placing goroutine decide where a
// channel goes; each connection's writer makes its calls, in the order they
// were decided, and its reader delivers what it receives to the Hub. No
// call is made under s.mu: a master that takes a connection and answers
// nothing (a long fork or script, a stalled machine) holds up only its own
// connection's calls for their timeout, not the other masters'
// subscriptions nor the confirmations their readers take the lock for.
//
// go-redis resubscribes a lost PubSub connection with one SSUBSCRIBE naming
// all its channels, which Redis refuses (CROSSSLOT) when they hash to more
// than one slot, and it would reconnect to the same address though a
// replica has taken over. So a connection that fails is closed at once, and
// its channels are placed again, one SSUBSCRIBE each, on the masters that
// own their slots by then; meanwhile their rooms are stale and catch up
// from the transcripts when confirmed, as after any lost subscription. A
// slot that moves to another shard costs only its own channels: Redis tells
// their subscribers with an SUNSUBSCRIBE they did not ask for, or refuses an
// SSUBSCRIBE with MOVED, and they wait until the slot map names the new
// owner.
//
// Lock order: shardSubs.mu, then Hub.mu (then Feed.mu).
type shardSubs struct {
	h  *Hub
	cc *redis.ClusterClient

	mu       sync.Mutex
	conns    map[string]*shardConn // by master address
	on       map[string]*shardConn // wanted channel → its connection; nil: waiting to be placed again
	moved    map[int]movedSlot     // slot → the master that gave it up; not placed there again for a while
	failures map[string]int        // by master address: placements failed since its last confirmation
	placing  bool                  // a goroutine is placing channels again
	closed   bool
}

// errShardSkipped: a channel not placed now (its master has just given its
// slot up); it waits for the placing goroutine.
var errShardSkipped = errors.New("its shard cannot take it yet")

type shardConn struct {
	addr    string
	ps      *redis.PubSub
	chans   map[string]struct{}
	leaving map[string]int // SUNSUBSCRIBEs asked for on it and not yet confirmed
	calls   []shardCall    // for the writer, in order; s.mu
	wake    chan struct{}  // tells the writer there are calls, or that the connection is dead
	dead    bool
}

// shardCall is an SSUBSCRIBE (sub) or an SUNSUBSCRIBE of one channel: never
// more than one channel a call, which would be refused when their slots
// differ.
type shardCall struct {
	channel string
	sub     bool
}

func newShardSubs(h *Hub, cc *redis.ClusterClient) *shardSubs {
	return &shardSubs{h: h, cc: cc, conns: map[string]*shardConn{}, on: map[string]*shardConn{},
		moved: map[int]movedSlot{}, failures: map[string]int{}}
}

// sharded tells the conversation channels, which go to the shards.
func (h *Hub) sharded(channel string) bool {
	return h.shards != nil && strings.HasPrefix(channel, h.svc.keys.prefix+"{c:")
}

// shardCallTimeout bounds one SSUBSCRIBE or SUNSUBSCRIBE, its dial
// included: each call has its own, so that a master that does not answer
// cannot use up the time of calls to the others.
const shardCallTimeout = 2 * time.Second

// subscribe places channels on their masters' connections; it does not
// wait for the calls, whose failures the connections' writers handle.
func (s *shardSubs) subscribe(_ context.Context, channels ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	mapFailed := false
	for _, ch := range channels {
		err := s.place(ch)
		if err != nil && first == nil {
			first = err
		}
		mapFailed = mapFailed || err != nil && !errors.Is(err, errShardSkipped)
	}
	s.countMapFailure(mapFailed)
	return first
}

// place gives ch to the connection of the master that owns its slot now,
// opening one if there is none, unless that master gave the slot up and
// the slot map does not know yet. s.mu is held.
func (s *shardSubs) place(ch string) error {
	s.on[ch] = nil
	if s.closed {
		return nil
	}
	// The slot map is go-redis's, read again in the background: no I/O
	// here once it is loaded.
	ctx, cancel := context.WithTimeout(s.h.ctx, shardCallTimeout)
	defer cancel()
	master, err := s.cc.MasterForKey(ctx, ch)
	if err != nil {
		s.placeSoon()
		return err
	}
	addr := master.Options().Addr
	slot := clusterSlot(ch)
	if from, ok := s.moved[slot]; ok {
		if from.addr == addr && time.Since(from.at) < movedTrust {
			s.placeSoon()
			return errShardSkipped
		}
		delete(s.moved, slot)
	}
	c := s.conns[addr]
	if c == nil {
		if !s.h.track() {
			return nil // the Hub is closing
		}
		// No channels yet: go-redis makes no call, the writer dials.
		c = &shardConn{addr: addr, ps: master.SSubscribe(ctx), chans: map[string]struct{}{},
			leaving: map[string]int{}, wake: make(chan struct{}, 1)}
		s.conns[addr] = c
		go s.write(c)
	}
	s.on[ch] = c
	c.chans[ch] = struct{}{}
	c.call(shardCall{channel: ch, sub: true})
	return nil
}

// call hands the connection's writer one more call. s.mu is held.
func (c *shardConn) call(sc shardCall) {
	c.calls = append(c.calls, sc)
	c.nudge()
}

func (c *shardConn) nudge() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// write makes a connection's calls in the order they were asked for, and
// starts its reader after the first has dialed. It owns the PubSub's end:
// it closes it once the connection is dropped, outside s.mu, because
// go-redis may be redialing under the PubSub's own lock then.
func (s *shardSubs) write(c *shardConn) {
	defer s.h.wg.Done()
	defer func() { _ = c.ps.Close() }()
	reading := false
	for {
		s.mu.Lock()
		calls, dead := c.calls, c.dead
		c.calls = nil
		s.mu.Unlock()
		if dead {
			return
		}
		for _, sc := range calls {
			ctx, cancel := context.WithTimeout(s.h.ctx, shardCallTimeout)
			var err error
			if sc.sub {
				err = c.ps.SSubscribe(ctx, sc.channel)
			} else {
				err = c.ps.SUnsubscribe(ctx, sc.channel)
			}
			cancel()
			if err != nil {
				s.failed(c, err)
				return
			}
			if s.isDead(c) {
				return
			}
			if !reading {
				reading = true
				if !s.h.track() {
					return // the Hub is closing
				}
				go s.receive(c)
			}
		}
		if len(calls) > 0 {
			continue
		}
		select {
		case <-c.wake:
		case <-s.h.ctx.Done():
			return
		}
	}
}

func (s *shardSubs) isDead(c *shardConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.dead
}

// failed handles a call that failed: the connection is dropped, and its
// channels placed again after the backoff.
func (s *shardSubs) failed(c *shardConn, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.dead {
		return // dropped already; the call failed on the closed connection
	}
	if s.failures[c.addr] == 0 {
		s.h.log.Warn("a redis shard does not take subscriptions; trying again", "shard", c.addr, "err", err)
	}
	s.failures[c.addr]++
	s.drop(c)
	s.placeSoon()
}

func (s *shardSubs) unsubscribe(_ context.Context, channels ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range channels {
		c := s.on[ch]
		delete(s.on, ch)
		if c == nil {
			continue // waiting to be placed: nothing to undo
		}
		delete(c.chans, ch)
		c.leaving[ch]++
		c.call(shardCall{channel: ch})
	}
	return nil
}

// drop gives a connection up and leaves its channels to be placed again,
// their rooms marked stale; its writer closes it. s.mu is held.
func (s *shardSubs) drop(c *shardConn) {
	if c.dead {
		return
	}
	c.dead = true
	c.nudge()
	if s.conns[c.addr] == c {
		delete(s.conns, c.addr)
	}
	var orphans []string
	for ch := range c.chans {
		if s.on[ch] == c {
			s.on[ch] = nil
			orphans = append(orphans, ch)
		}
	}
	s.h.markChannelsStale(orphans)
}

// orphan leaves one channel of a connection to be placed again elsewhere:
// its slot moved away from the connection's master. s.mu is held.
func (s *shardSubs) orphan(c *shardConn, ch string) {
	delete(c.chans, ch)
	if s.on[ch] != c {
		return
	}
	s.on[ch] = nil
	s.moved[clusterSlot(ch)] = movedSlot{c.addr, time.Now()}
	s.h.markChannelsStale([]string{ch})
	s.placeSoon()
}

// placeSoon starts placing the channels that have no connection, after a
// backoff that grows while placements keep failing. s.mu is held.
func (s *shardSubs) placeSoon() {
	if s.placing || s.closed {
		return
	}
	if !s.h.track() {
		return // the Hub is closing
	}
	s.placing = true
	go s.placeLoop()
}

func (s *shardSubs) placeLoop() {
	defer s.h.wg.Done()
	idle := 0 // rounds in a row that placed nothing
	for {
		s.mu.Lock()
		wait := placeWait(s.failures, idle)
		s.mu.Unlock()
		select {
		case <-s.h.ctx.Done():
			return
		case <-time.After(wait):
		}
		// The slots' owners may have changed (a failover, a slot moved):
		// go-redis reads them again, in the background, and the node does
		// every second anyway; a channel whose slot map is not fresh yet
		// waits for the next round.
		s.cc.ReloadState(s.h.ctx)
		s.mu.Lock()
		placed, mapFailed := 0, false
		for ch, c := range s.on {
			if c != nil {
				continue
			}
			switch err := s.place(ch); {
			case err == nil && s.on[ch] != nil:
				placed++
			case err != nil && !errors.Is(err, errShardSkipped):
				mapFailed = true
			}
		}
		s.countMapFailure(mapFailed)
		left := false
		for _, c := range s.on {
			if c == nil && !s.closed {
				left = true
				break
			}
		}
		if placed > 0 {
			idle = 0
		} else {
			idle++
		}
		if !left {
			s.placing = false
			// Every channel has a master: the slot map's failures are over,
			// and so are those of a master the node no longer uses (one
			// that failed over): nothing would confirm on it to clear them.
			for addr := range s.failures {
				if s.conns[addr] == nil {
					delete(s.failures, addr)
				}
			}
		}
		s.mu.Unlock()
		if !left {
			return
		}
	}
}

// countMapFailure counts a failed read of the slot map once per placement
// round or subscribe call, however many channels it failed for. s.mu is
// held.
func (s *shardSubs) countMapFailure(failed bool) {
	if failed {
		s.failures[""]++
	}
}

// movedSlot is a master that gave a slot up, and when.
type movedSlot struct {
	addr string
	at   time.Time
}

// movedTrust is how long a master that gave a slot up is not asked for it
// again while the slot map still names it. After that the map is believed:
// the slot may have come back before the map ever showed it gone, and a
// master that does not own it answers MOVED again.
const movedTrust = 5 * time.Second

// placeWait is how long a placement round waits: 25 ms, doubled for each
// failure of the worst master (or of the slot map, under ""), at most 2 s;
// and doubled for each round in a row that placed nothing, up to 400 ms
// from that alone: a slot whose move the slot map does not show yet fails
// nothing, and would otherwise be asked for every 25 ms until it does,
// while go-redis reloads the map at most every 200 ms anyway.
func placeWait(failures map[string]int, idle int) time.Duration {
	worst := min(idle, 4)
	for _, n := range failures {
		worst = max(worst, n)
	}
	return min(25*time.Millisecond<<min(worst, 7), 2*time.Second)
}

// receive is a connection's reader, until it fails or is dropped. An error
// reply (a MOVED for an SSUBSCRIBE that reached a master which no longer
// owns the slot) concerns one call, not the connection.
func (s *shardSubs) receive(c *shardConn) {
	defer s.h.wg.Done()
	for {
		err := pump(s.h.ctx, c.ps, s.h.quietAfter, func(msg any) { s.handle(c, msg) })
		if s.h.ctx.Err() != nil {
			return
		}
		var reply redis.Error
		if errors.As(err, &reply) && !errors.Is(err, redis.ErrClosed) {
			s.refused(c, err)
			continue
		}
		s.mu.Lock()
		if !c.dead {
			s.h.log.Warn("redis shard subscription lost; its conversations catch up from the transcripts",
				"shard", c.addr, "channels", len(c.chans), "err", err)
			s.failures[c.addr]++
			s.drop(c)
			s.placeSoon()
		}
		s.mu.Unlock()
		return
	}
}

func (s *shardSubs) handle(c *shardConn, msg any) {
	switch m := msg.(type) {
	case *redis.Subscription:
		switch m.Kind {
		case "ssubscribe":
			s.mu.Lock()
			// Under the lock: a drop of this connection between the check
			// and the confirmation would otherwise see its stale mark
			// cleared by it, and the next confirmation not catch up.
			if s.on[m.Channel] == c { // not a late one of a connection since replaced
				delete(s.failures, c.addr)
				s.h.confirmed(m.Channel)
			}
			s.mu.Unlock()
		case "sunsubscribe":
			s.unsubscribed(c, m.Channel)
		}
	case *redis.Message:
		s.h.dispatch(m.Channel, m.Payload)
	}
}

// refused handles an error reply on a connection. A MOVED names the slot
// that moved: its channels there are placed again once the slot map knows
// the new owner. Any other is logged; the connection goes on.
func (s *shardSubs) refused(c *shardConn, err error) {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "MOVED "); ok {
		slotText, _, _ := strings.Cut(rest, " ")
		slot, perr := strconv.Atoi(slotText)
		if perr == nil {
			s.mu.Lock()
			for ch := range c.chans {
				if clusterSlot(ch) == slot {
					s.orphan(c, ch)
				}
			}
			s.moved[slot] = movedSlot{c.addr, time.Now()}
			s.mu.Unlock()
			return
		}
	}
	s.h.log.Warn("a shard refused a subscription call", "shard", c.addr, "err", err)
}

// unsubscribed handles an SUNSUBSCRIBE: the confirmation of one this node
// sent, or Redis telling it the channel's slot moved to another shard.
func (s *shardSubs) unsubscribed(c *shardConn, ch string) {
	s.mu.Lock()
	if c.leaving[ch] > 0 {
		c.leaving[ch]--
		if c.leaving[ch] == 0 {
			delete(c.leaving, ch)
		}
		s.mu.Unlock()
		s.h.unsubscribed(ch)
		return
	}
	moved := s.on[ch] == c
	s.orphan(c, ch)
	s.mu.Unlock()
	if moved {
		s.h.log.Info("a conversation's slot moved to another shard; subscribing there", "channel", ch)
	}
}

// close gives every connection up (the Hub is stopping); their writers
// close them.
func (s *shardSubs) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, c := range s.conns {
		c.dead = true
		c.nudge()
	}
	clear(s.conns)
}

// clusterSlot is Redis Cluster's slot of a key or shard channel: CRC16
// (XMODEM) of its hash tag, if it has one, else of all of it, mod 16384.
func clusterSlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}
