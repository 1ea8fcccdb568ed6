package session

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// visitorLeases record which conversations have a visitor socket open on
// this node, as leases in the conversation's own keys (renewed while
// open), so that the step that stores an agent's words knows whether the
// visitor can still read them there, or is owed an email.
type visitorLeases struct {
	svc    *Service
	mu     sync.Mutex
	leases map[string]string // member -> conversation
}

const (
	visitorLeaseTTL   = 30 * time.Second
	visitorLeaseRenew = 10 * time.Second
)

func newVisitorLeases(s *Service) *visitorLeases {
	return &visitorLeases{svc: s, leases: map[string]string{}}
}

// VisitorOnline records an open visitor socket of a stored conversation;
// call the returned function when it closes.
func (s *Service) VisitorOnline(ctx context.Context, convID string) (closed func(), err error) {
	member := s.nodeID + "|" + newID("v", 6)
	if err := s.renewVisitor(ctx, convID, []string{member}); err != nil {
		return nil, err
	}
	c := s.visitors
	c.mu.Lock()
	c.leases[member] = convID
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			delete(c.leases, member)
			c.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_ = s.rdb.ZRem(ctx, s.keys.visitorSockets(convID), member).Err()
		})
	}, nil
}

func (s *Service) renewVisitor(ctx context.Context, convID string, members []string) error {
	now := s.now()
	exp := float64(now.Add(visitorLeaseTTL).UnixMilli())
	key := s.keys.visitorSockets(convID)
	zs := make([]redis.Z, len(members))
	for i, m := range members {
		zs[i] = zmember(exp, m)
	}
	pipe := s.rdb.Pipeline()
	pipe.ZAdd(ctx, key, zs...)
	pipe.ZRemRangeByScore(ctx, key, "-inf", itoa(now.UnixMilli()))
	pipe.PExpire(ctx, key, 2*visitorLeaseTTL)
	_, err := pipe.Exec(ctx)
	return err
}

func (c *visitorLeases) run(ctx context.Context) {
	t := time.NewTicker(visitorLeaseRenew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.renew(ctx)
		}
	}
}

func (c *visitorLeases) renew(ctx context.Context) {
	c.mu.Lock()
	byConv := map[string][]string{}
	for m, conv := range c.leases {
		byConv[conv] = append(byConv[conv], m)
	}
	c.mu.Unlock()
	if len(byConv) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	now := c.svc.now()
	exp := float64(now.Add(visitorLeaseTTL).UnixMilli())
	pipe := c.svc.rdb.Pipeline()
	for conv, members := range byConv {
		key := c.svc.keys.visitorSockets(conv)
		zs := make([]redis.Z, len(members))
		for i, m := range members {
			zs[i] = zmember(exp, m)
		}
		pipe.ZAdd(ctx, key, zs...)
		pipe.PExpire(ctx, key, 2*visitorLeaseTTL)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		c.svc.log.Warn("renewing visitor leases", "err", err)
	}
}
