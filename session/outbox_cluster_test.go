package session_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
	"github.com/batonchat/baton/session/sessiontest"
)

// TestHelpdeskOnRedisCluster runs the outbox on a three-master Redis
// Cluster: the handoff step, the compare-and-set, the schedule's promotion
// into the stream and XAUTOCLAIM each stay in one slot, and conversations
// spread over every master still get one ticket each, through retries, a
// dead letter and a node that dies after the helpdesk answered.
func TestHelpdeskOnRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cl := sessiontest.StartCluster(t)
	prefix := sessiontest.Prefix()
	client := func() *redis.ClusterClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	admin := client()
	t.Cleanup(func() { sessiontest.CleanupCluster(admin, prefix) })

	desk := newDesk()
	doomed := client()
	var once sync.Once
	var mu sync.Mutex
	refuse := map[string]bool{}
	desk.steer = func(n int, r session.TicketRequest) deskFault {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case refuse[r.Visitor.Email]:
			return deskFault{err: &session.TicketError{Permanent: true, Status: 422, Reason: "refused"}}
		case n%5 == 1:
			return deskFault{err: &session.TicketError{Status: 503, MayExist: true, RetryAfter: 50 * time.Millisecond, Reason: "503"}}
		case n == 3:
			return deskFault{afterMake: func() { once.Do(func() { _ = doomed.Close() }) }}
		}
		return deskFault{}
	}
	o := fastOutbox()
	a := node(t, doomed, prefix, desk, o)
	b := node(t, client(), prefix, desk, o)
	m := helpdeskShop(t, b, session.MethodZendesk)

	const n = 12
	// The last one is refused for good until an admin retries it; by its
	// visitor's address, set before its handoff (set after, by its ticket's
	// id, a quick worker made the ticket first now and then).
	last := fmt.Sprintf("k%d@example.com", n-1)
	mu.Lock()
	refuse[last] = true
	mu.Unlock()
	ids := make([]string, n)
	for i := range ids {
		front := b
		if i == 0 {
			front = a // its Redis goes at the fourth call, after this
		}
		ids[i] = handOff(t, front, m, fmt.Sprintf("k%d@example.com", i))
	}
	for _, id := range ids[:n-1] {
		waitTicket(t, b, m, id, session.TicketCreated)
		require.Len(t, desk.tickets("baton-"+id), 1, "conversation %s", id)
	}
	waitTicket(t, b, m, ids[n-1], session.TicketFailed)
	mu.Lock()
	refuse[last] = false
	mu.Unlock()
	_, err := b.RetryHandoff(context.Background(), m.ID, ids[n-1])
	require.NoError(t, err)
	waitTicket(t, b, m, ids[n-1], session.TicketCreated)
	require.Len(t, desk.tickets("baton-"+ids[n-1]), 1)

	// The keys really are spread over the masters.
	masters := map[string]bool{}
	for _, id := range ids {
		slot := admin.ClusterKeySlot(context.Background(), prefix+"{c:"+id+"}:m").Val()
		for _, s := range admin.ClusterSlots(context.Background()).Val() {
			if int64(s.Start) <= slot && slot <= int64(s.End) {
				masters[s.Nodes[0].Addr] = true
			}
		}
	}
	require.Greater(t, len(masters), 1)
}
