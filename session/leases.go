package session

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// leases are this node's members of Redis sorted sets scored by expiry,
// renewed while held, so that a node that dies lets its members lapse
// instead of leaving them for good: a visitor's open sockets in its
// conversation's keys (the step that stores an agent's words reads them to
// know whether the visitor is still there or is owed an email), and an
// agent's open consoles in the merchant's set (routing reads them).
type leases struct {
	svc        *Service
	what       string // for logs
	ttl, renew time.Duration
	key        func(group string) string
	// expire gives the set itself a lifetime (the conversation's keys must
	// all have one); a merchant's set is permanent and only trimmed.
	expire bool

	mu   sync.Mutex
	held map[string]string // member -> group
}

func newLeases(s *Service, what string, key func(string) string, expire bool) *leases {
	return &leases{svc: s, what: what, ttl: 30 * time.Second, renew: 10 * time.Second, key: key, expire: expire,
		held: map[string]string{}}
}

// take writes member into group's set and keeps it there until the
// returned function is called.
func (l *leases) take(ctx context.Context, group, member string) (release func(), err error) {
	pipe := l.svc.rdb.Pipeline()
	l.write(ctx, pipe, group, []string{member}, l.svc.now())
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.held[member] = group
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.held, member)
			l.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_ = l.svc.rdb.ZRem(ctx, l.key(group), member).Err()
		})
	}, nil
}

// write queues what renews members of group: their new expiry, the removal
// of members that lapsed (other nodes' too), and the set's lifetime.
func (l *leases) write(ctx context.Context, pipe redis.Pipeliner, group string, members []string, now time.Time) {
	key := l.key(group)
	exp := float64(now.Add(l.ttl).UnixMilli())
	zs := make([]redis.Z, len(members))
	for i, m := range members {
		zs[i] = zmember(exp, m)
	}
	pipe.ZAdd(ctx, key, zs...)
	pipe.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now.UnixMilli(), 10))
	if l.expire {
		pipe.PExpire(ctx, key, 2*l.ttl)
	}
}

func (l *leases) run(ctx context.Context) { every(ctx, l.renew, l.renewAll) }

// renewAll renews every lease this node holds, in one round trip.
func (l *leases) renewAll(ctx context.Context) {
	l.mu.Lock()
	byGroup := map[string][]string{}
	for m, g := range l.held {
		byGroup[g] = append(byGroup[g], m)
	}
	l.mu.Unlock()
	if len(byGroup) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	now := l.svc.now()
	pipe := l.svc.rdb.Pipeline()
	for g, members := range byGroup {
		l.write(ctx, pipe, g, members, now)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		l.svc.log.WarnContext(ctx, "renewing "+l.what+" leases", "err", err)
	}
}

// every runs f each period until ctx ends (the node's background passes).
func every(ctx context.Context, period time.Duration, f func(context.Context)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// VisitorOnline records an open visitor socket of a stored conversation,
// as a lease in the conversation's own keys; call the returned function
// when it closes.
func (s *Service) VisitorOnline(ctx context.Context, convID string) (closed func(), err error) {
	return s.visitors.take(ctx, convID, s.nodeID+"|"+newID("v", 6))
}
