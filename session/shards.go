package session

import (
	"context"
	"errors"
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
// needs. Only the subscription loop subscribes and unsubscribes; a
// connection's own goroutine delivers what it receives to the Hub.
//
// go-redis resubscribes a lost PubSub connection with one SSUBSCRIBE naming
// all its channels, which Redis refuses (CROSSSLOT) when they hash to more
// than one slot, and it would reconnect to the same address though a
// replica has taken over. So a connection that fails is closed at once, and
// its channels are placed again, one SSUBSCRIBE each, on the masters that
// own their slots by then; meanwhile their rooms are stale and catch up
// from the transcripts when confirmed, as after any lost subscription. A
// slot that moves to another shard is handled the same way: Redis tells its
// subscribers with an SUNSUBSCRIBE they did not ask for.
type shardSubs struct {
	h  *Hub
	cc *redis.ClusterClient

	mu       sync.Mutex
	conns    map[string]*shardConn // by master address
	on       map[string]*shardConn // wanted channel → its connection; nil: waiting to be placed again
	failures int                   // placements failed in a row, for the backoff
	placing  bool                  // a goroutine is placing channels again
	closed   bool
}

// errShardSkipped: a channel not placed because its master could not be
// reached moments ago in the same round; it waits for the next.
var errShardSkipped = errors.New("its shard was unreachable moments ago")

type shardConn struct {
	addr    string
	ps      *redis.PubSub
	chans   map[string]struct{}
	leaving map[string]int // SUNSUBSCRIBEs sent on it and not yet confirmed
	dead    bool
}

func newShardSubs(h *Hub, cc *redis.ClusterClient) *shardSubs {
	return &shardSubs{h: h, cc: cc, conns: map[string]*shardConn{}, on: map[string]*shardConn{}}
}

// sharded tells the conversation channels, which go to the shards.
func (h *Hub) sharded(channel string) bool {
	return h.shards != nil && strings.HasPrefix(channel, h.svc.keys.prefix+"{c:")
}

func (s *shardSubs) subscribe(ctx context.Context, channels ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	failed := map[string]bool{}
	for _, ch := range channels {
		if err := s.place(ctx, ch, failed); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// place subscribes ch on the master that owns its slot now, unless that
// master failed earlier in the same round (failed): a master that does not
// answer would otherwise cost a dial timeout per channel. s.mu is held.
func (s *shardSubs) place(ctx context.Context, ch string, failed map[string]bool) error {
	s.on[ch] = nil
	if s.closed {
		return nil
	}
	master, err := s.cc.MasterForKey(ctx, ch)
	if err != nil {
		s.placeSoon()
		return err
	}
	addr := master.Options().Addr
	if failed[addr] {
		return errShardSkipped
	}
	c := s.conns[addr]
	fresh := c == nil
	if fresh {
		c = &shardConn{addr: addr, ps: master.SSubscribe(ctx), chans: map[string]struct{}{}, leaving: map[string]int{}}
		s.conns[addr] = c
	}
	s.on[ch] = c
	c.chans[ch] = struct{}{}
	err = c.ps.SSubscribe(ctx, ch)
	if fresh {
		s.h.wg.Add(1)
		go s.receive(c)
	}
	if err != nil {
		failed[addr] = true
		s.drop(c)
		s.placeSoon()
	}
	return err
}

func (s *shardSubs) unsubscribe(ctx context.Context, channels ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for _, ch := range channels {
		c := s.on[ch]
		delete(s.on, ch)
		if c == nil {
			continue // waiting to be placed: nothing to undo
		}
		delete(c.chans, ch)
		c.leaving[ch]++
		// Never an empty SUNSUBSCRIBE: it would drop every channel.
		if err := c.ps.SUnsubscribe(ctx, ch); err != nil {
			if first == nil {
				first = err
			}
			s.drop(c)
			s.placeSoon()
		}
	}
	return first
}

// drop closes a connection and leaves its channels to be placed again,
// their rooms marked stale. s.mu is held.
func (s *shardSubs) drop(c *shardConn) {
	if c.dead {
		return
	}
	c.dead = true
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
	_ = c.ps.Close()
	s.h.markStale(func(r *room) bool {
		for _, ch := range orphans {
			if r.channel == ch {
				return true
			}
		}
		return false
	})
}

// placeSoon starts placing the channels that have no connection, after a
// backoff that grows while placements keep failing. s.mu is held.
func (s *shardSubs) placeSoon() {
	s.failures++
	if s.placing {
		return
	}
	s.placing = true
	s.h.wg.Add(1)
	go s.placeLoop()
}

func (s *shardSubs) placeLoop() {
	defer s.h.wg.Done()
	for {
		s.mu.Lock()
		wait := min(25*time.Millisecond<<min(s.failures, 7), 2*time.Second)
		s.mu.Unlock()
		select {
		case <-s.h.ctx.Done():
			return
		case <-time.After(wait):
		}
		// The slots' owners may have changed (a failover): go-redis reads
		// them again, in the background; a channel placed on a master that
		// no longer owns its slot is refused (MOVED) and placed once more.
		s.cc.ReloadState(s.h.ctx)
		ctx, cancel := context.WithTimeout(s.h.ctx, 5*time.Second)
		s.mu.Lock()
		failed := map[string]bool{}
		for ch, c := range s.on {
			if c == nil {
				_ = s.place(ctx, ch, failed)
			}
		}
		left := false
		for _, c := range s.on {
			if c == nil && !s.closed {
				left = true
				break
			}
		}
		if !left {
			s.placing = false
		}
		s.mu.Unlock()
		cancel()
		if !left {
			return
		}
	}
}

// receive is a connection's reader, until it fails or is dropped.
func (s *shardSubs) receive(c *shardConn) {
	defer s.h.wg.Done()
	err := pump(s.h.ctx, c.ps, func(msg any) {
		switch m := msg.(type) {
		case *redis.Subscription:
			switch m.Kind {
			case "ssubscribe":
				s.mu.Lock()
				ours := s.on[m.Channel] == c
				if ours {
					s.failures = 0
				}
				s.mu.Unlock()
				if ours { // not a late one of a connection since replaced
					s.h.confirmed(m.Channel)
				}
			case "sunsubscribe":
				s.unsubscribed(c, m.Channel)
			}
		case *redis.Message:
			s.h.dispatch(m.Channel, m.Payload)
		}
	})
	if s.h.ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.dead {
		s.h.log.Warn("redis shard subscription lost; its conversations catch up from the transcripts",
			"shard", c.addr, "channels", len(c.chans), "err", err)
		s.drop(c)
		s.placeSoon()
	}
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
	if s.on[ch] != c {
		s.mu.Unlock()
		return
	}
	delete(c.chans, ch)
	s.on[ch] = nil
	s.placeSoon()
	s.mu.Unlock()
	s.h.markStale(func(r *room) bool { return r.channel == ch })
	s.h.log.Info("a conversation's slot moved to another shard; subscribing there", "channel", ch)
}

// close closes every connection (the Hub is stopping).
func (s *shardSubs) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, c := range s.conns {
		c.dead = true
		_ = c.ps.Close()
	}
	clear(s.conns)
}
