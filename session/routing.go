package session

import (
	"context"
	_ "embed"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Routing: who gets a queued conversation. In manual mode agents claim
// from the queue; in auto mode a conversation goes at once to the
// available agent with the fewest conversations under their capacity, and
// whenever an agent gets a free slot or becomes available, the oldest
// queued conversation goes to them. Either way a conversation whose agent
// has had no console for reassign_after_s, or has not written within
// reassign_after_s of being given it, goes to someone else (or back to the
// queue).

//go:embed scripts/assign.lua
var assignSource string

//go:embed scripts/unawait.lua
var unawaitSource string

type unawaitArgs struct {
	Set    string `lua:"set,key"`
	Member string `lua:"member"`
	Score  int64  `lua:"score"`
}

type unawaitReply struct {
	Removed bool `lua:"removed"`
}

// RoutingMode says whether conversations are handed out by themselves.
type RoutingMode string

const (
	RoutingManual RoutingMode = "manual"
	RoutingAuto   RoutingMode = "auto"
)

// Routing is a merchant's routing settings.
type Routing struct {
	Mode           RoutingMode `json:"mode"`
	Capacity       int         `json:"capacity"`         // conversations an agent has at once, unless their own capacity says otherwise
	ReassignAfterS int         `json:"reassign_after_s"` // 0: never
}

// DefaultRouting is what a merchant starts with.
func DefaultRouting() Routing { return Routing{Mode: RoutingManual, Capacity: 3, ReassignAfterS: 120} }

// Validate checks r, naming the field at fault.
func (r *Routing) Validate() error {
	switch {
	case r.Mode != RoutingManual && r.Mode != RoutingAuto:
		return newErr(KindInvalid, "invalid_routing", "mode must be manual or auto")
	case r.Capacity < 1 || r.Capacity > maxCapacity:
		return newErr(KindInvalid, "invalid_routing", "capacity must be 1 to %d", maxCapacity)
	case r.ReassignAfterS != 0 && (r.ReassignAfterS < 10 || r.ReassignAfterS > 86400):
		return newErr(KindInvalid, "invalid_routing", "reassign_after_s must be 0 (never) or 10 to 86400")
	}
	return nil
}

func (r Routing) reassignAfter() time.Duration { return time.Duration(r.ReassignAfterS) * time.Second }

// SetRouting stores a merchant's routing settings; switching to auto hands
// out what waits at once.
func (s *Service) SetRouting(ctx context.Context, merchantID string, r Routing) (*Routing, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if _, err := s.Merchant(ctx, merchantID); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(r)
	if err := s.writeConfig(ctx, merchantID, cRouting, b); err != nil {
		return nil, err
	}
	s.assignSoon(merchantID)
	return &r, nil
}

// assignArgs and assignReply are assign.lua's layout.
type assignArgs struct {
	Queue    string `lua:"queue,key"`
	Reserved string `lua:"reserved,key"`
	Presence string `lua:"presence,key"`
	Consoles string `lua:"consoles,key"`
	Agents   string `lua:"agents,key"`
	Idle     string `lua:"idle,key"`
	Cool     string `lua:"cool,key"`
	Now      int64  `lua:"now"`
	Capacity int64  `lua:"capacity"` // the merchant's default
	Lease    int64  `lua:"lease"`    // ms a handed-out conversation stays reserved
	Sets     string `lua:"sets"`     // the agents' sets' key, without the agent id
	Scan     int64  `lua:"scan"`     // how many queued conversations to look at
	Max      int64  `lua:"max"`      // how many to hand out in one call
}

type assignReply struct {
	Assigned []string `lua:"assigned"` // member, agent id, agent name, ...
}

// Limits of one assignment round.
const (
	assignLease = 10 * time.Second
	assignScan  = 200
	assignMax   = 50
)

// assigner runs assignment rounds for merchants, at most one per merchant
// at a time on a node; a trigger that comes while one runs makes it run
// once more (single-flight, like the queue snapshots).
type assigner struct {
	mu      sync.Mutex
	running map[string]bool
	again   map[string]bool
	wg      sync.WaitGroup
}

// assignSoon runs an assignment round for the merchant if it routes
// automatically: after anything that may have freed a slot or queued a
// conversation.
func (s *Service) assignSoon(merchantID string) {
	a := &s.assign
	a.mu.Lock()
	if a.running == nil {
		a.running, a.again = map[string]bool{}, map[string]bool{}
	}
	if a.running[merchantID] {
		a.again[merchantID] = true
		a.mu.Unlock()
		return
	}
	a.running[merchantID] = true
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			ctx, cancel := context.WithTimeout(s.runCtx(), 10*time.Second)
			if err := s.assignRound(ctx, merchantID); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "assigning queued conversations", "merchant", merchantID, "err", err)
			}
			cancel()
			a.mu.Lock()
			if !a.again[merchantID] || s.runCtx().Err() != nil {
				delete(a.running, merchantID)
				delete(a.again, merchantID)
				a.mu.Unlock()
				return
			}
			delete(a.again, merchantID)
			a.mu.Unlock()
		}
	}()
}

// assignRound hands out what it can, until nothing more goes.
func (s *Service) assignRound(ctx context.Context, merchantID string) error {
	m, err := s.Merchant(ctx, merchantID)
	if err != nil || m.Routing.Mode != RoutingAuto {
		return err
	}
	for range 20 {
		r, err := s.assignScript.run(ctx, s.rdb, &assignArgs{Queue: s.keys.queue(merchantID), Reserved: s.keys.reserved(merchantID),
			Presence: s.keys.presence(merchantID), Consoles: s.keys.consoles(merchantID), Agents: s.keys.merchantAgents(merchantID),
			Idle: s.keys.idle(merchantID), Cool: s.keys.cooldown(merchantID), Now: s.now().UnixMilli(),
			Capacity: int64(m.Routing.Capacity), Lease: assignLease.Milliseconds(), Sets: s.keys.assigned(merchantID, ""),
			Scan: assignScan, Max: assignMax})
		if err != nil {
			return err
		}
		if len(r.Assigned) == 0 {
			return nil
		}
		for i := 0; i+2 < len(r.Assigned); i += 3 {
			member, agentID, name := r.Assigned[i], r.Assigned[i+1], r.Assigned[i+2]
			conv, _, _ := strings.Cut(member, "|")
			s.give(ctx, Actor{ID: agentID, MerchantID: merchantID, Name: name}, conv, member)
		}
		if len(r.Assigned)/3 < assignMax {
			return nil
		}
	}
	return nil
}

// give makes an assignment the script decided: the claim, in the
// conversation's own step; when that is refused (the visitor left, someone
// claimed it by hand) the reservation and the counted slot are taken back.
func (s *Service) give(ctx context.Context, a Actor, convID, member string) {
	c, err := s.claim(ctx, a, convID, false)
	pipe := s.rdb.Pipeline()
	pipe.ZRem(ctx, s.keys.reserved(a.MerchantID), member)
	if err != nil || c == nil || string(c.AgentID) != a.ID {
		pipe.SRem(ctx, s.keys.assigned(a.MerchantID, a.ID), convID)
		if err != nil {
			s.log.DebugContext(ctx, "an assignment was refused", "conversation", convID, "agent", a.ID, "err", err)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.WarnContext(ctx, "settling an assignment", "conversation", convID, "err", err)
	}
}

// Reassignment runs once in a while on one node of the deployment at a
// time (onePass), and one node per merchant at a time.

// routingEvery is how often the routing pass runs: handing out what a
// missed trigger left, and taking conversations from agents who are gone
// or silent.
const routingEvery = 5 * time.Second

func (s *Service) routingLoop(ctx context.Context) {
	every(ctx, routingEvery, func(ctx context.Context) {
		if _, err := s.onePass(ctx, "routing", routingEvery-time.Second, s.routingPass); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "routing pass", "err", err)
		}
	})
}

// onePass runs pass unless another node has run it in the last ttl (or
// Redis cannot say), and tells whether it ran: one node of the deployment
// visits the merchants each period, so what a pass costs Redis does not
// grow with the nodes, and a node that dies mid-pass leaves the next period
// to another. The merchants' own locks, taken inside the pass, still keep
// two nodes off one merchant should a pass outlast its lock.
func (s *Service) onePass(ctx context.Context, what string, ttl time.Duration, pass func(context.Context) error) (bool, error) {
	won, err := s.rdb.SetNX(ctx, s.keys.passLock(what), s.nodeID, ttl).Result()
	if err != nil || !won {
		return false, err
	}
	return true, pass(ctx)
}

// routingChunk is how many merchants one pipeline of the routing pass
// reads at once.
const routingChunk = 256

// routingPass visits every merchant whose routing needs it, in a few round
// trips for all of them (configurations, locks, then what reassignment
// reads), not a few for each: one node runs it every routingEvery. A
// merchant whose reads fail (its shard failing over, say) waits for the
// next pass; the others go on.
func (s *Service) routingPass(ctx context.Context) error {
	ids, err := s.rdb.SMembers(ctx, s.keys.merchants()).Result()
	if err != nil {
		return err
	}
	for chunk := range slices.Chunk(ids, routingChunk) {
		s.routeChunk(ctx, chunk)
	}
	return nil
}

// takeLocks asks for the what-lock of every merchant in ids in one round
// trip, for ttl, and tells which this node got (none whose request
// failed).
func (s *Service) takeLocks(ctx context.Context, what string, ttl time.Duration, ids []string) []bool {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.BoolCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.SetNX(ctx, s.keys.merchantLock(id, what), s.nodeID, ttl)
	}
	_, _ = pipe.Exec(ctx) // each lock's own error is read below
	got := make([]bool, len(ids))
	for i, c := range cmds {
		got[i] = c.Err() == nil && c.Val()
	}
	return got
}

// openConsoles reads the merchant's consoles open now ("agent|key" each;
// onlineAgents reads them), on c: the client or a pipeline.
func (s *Service) openConsoles(ctx context.Context, c redis.Cmdable, merchantID string, now time.Time) *redis.StringSliceCmd {
	return c.ZRangeByScore(ctx, s.keys.consoles(merchantID), &redis.ZRangeBy{Min: itoa(now.UnixMilli()), Max: "+inf"})
}

func (s *Service) routeChunk(ctx context.Context, ids []string) {
	ms := s.merchantsOf(ctx, ids)
	ms = slices.DeleteFunc(ms, func(m *Merchant) bool {
		return m.Routing.Mode == RoutingManual && m.Routing.ReassignAfterS == 0
	})
	if len(ms) == 0 {
		return
	}
	mids := make([]string, len(ms))
	for i, m := range ms {
		mids[i] = m.ID
	}
	locks := s.takeLocks(ctx, "routing", routingEvery-time.Second, mids)
	var won, reassigning []*Merchant
	for i, m := range ms {
		if locks[i] {
			won = append(won, m)
			if m.Routing.ReassignAfterS > 0 {
				reassigning = append(reassigning, m)
			}
		}
	}
	for _, m := range won {
		if m.Routing.Mode == RoutingAuto {
			s.assignSoon(m.ID)
		}
	}
	if len(reassigning) > 0 {
		s.reassign(ctx, reassigning)
	}
}

// reassignReads is what reassignment reads of one merchant.
type reassignReads struct {
	agents *redis.StringSliceCmd
	loads  []*redis.IntCmd
	online *redis.StringSliceCmd
	gone   *redis.MapStringStringCmd
	late   *redis.ZSliceCmd
}

// reassign takes conversations from agents who have had no console for
// reassign_after_s, and from those who did not write within
// reassign_after_s of being given one (they get no new ones for as long).
// What it reads of all the merchants takes two round trips; a merchant any
// of whose reads failed is left for the next pass (half a picture could
// make online agents look gone).
func (s *Service) reassign(ctx context.Context, ms []*Merchant) {
	now := s.now()
	reads := s.readForReassign(ctx, ms, now)
	for i, m := range ms {
		if err := reads[i].err(); err != nil {
			s.log.WarnContext(ctx, "reassigning: reading the merchant's agents; next pass", "merchant", m.ID, "err", err)
			continue
		}
		s.reassignOne(ctx, m, now, &reads[i])
	}
}

// readForReassign reads what reassignment needs of each merchant, in two
// round trips for all.
func (s *Service) readForReassign(ctx context.Context, ms []*Merchant, now time.Time) []reassignReads {
	reads := make([]reassignReads, len(ms))
	pipe := s.rdb.Pipeline()
	for i, m := range ms {
		reads[i] = reassignReads{
			agents: pipe.HKeys(ctx, s.keys.merchantAgents(m.ID)),
			online: s.openConsoles(ctx, pipe, m.ID, now),
			gone:   pipe.HGetAll(ctx, s.keys.goneSince(m.ID)),
			late: pipe.ZRangeByScoreWithScores(ctx, s.keys.awaitingReply(m.ID),
				&redis.ZRangeBy{Min: "-inf", Max: itoa(now.Add(-m.Routing.reassignAfter()).UnixMilli())}),
		}
	}
	_, _ = pipe.Exec(ctx) // each read's own error is checked below
	pipe = s.rdb.Pipeline()
	for i, m := range ms {
		if reads[i].agents.Err() != nil {
			continue
		}
		for _, aid := range reads[i].agents.Val() {
			reads[i].loads = append(reads[i].loads, pipe.SCard(ctx, s.keys.assigned(m.ID, aid)))
		}
	}
	if pipe.Len() > 0 {
		_, _ = pipe.Exec(ctx)
	}
	return reads
}

// err is the first of the reads' errors.
func (r *reassignReads) err() error {
	for _, c := range []redis.Cmder{r.agents, r.online, r.gone, r.late} {
		if c.Err() != nil {
			return c.Err()
		}
	}
	for _, c := range r.loads {
		if c.Err() != nil {
			return c.Err()
		}
	}
	return nil
}

func (s *Service) reassignOne(ctx context.Context, m *Merchant, now time.Time, r *reassignReads) {
	after := m.Routing.reassignAfter()
	agents, loads, gone, late := r.agents.Val(), r.loads, r.gone, r.late
	on := onlineAgents(r.online.Val())
	for i, aid := range agents {
		since, _ := strconv.ParseInt(gone.Val()[aid], 10, 64)
		switch {
		case on[aid] || loads[i].Val() == 0:
			if since != 0 {
				_ = s.rdb.HDel(ctx, s.keys.goneSince(m.ID), aid).Err()
			}
		case since == 0:
			_ = s.rdb.HSet(ctx, s.keys.goneSince(m.ID), aid, now.UnixMilli()).Err()
		case now.Sub(time.UnixMilli(since)) >= after:
			// The reads may be a moment old (the merchants before this one
			// were acted on first): look again before taking anything.
			if s.hasConsole(ctx, m.ID, aid) {
				continue
			}
			s.log.InfoContext(ctx, "reassigning the conversations of an agent without a console", "merchant", m.ID, "agent", aid)
			s.releaseAll(ctx, m.ID, aid)
			_ = s.rdb.HDel(ctx, s.keys.goneSince(m.ID), aid).Err()
		}
	}
	for _, z := range late.Val() {
		convID, _ := z.Member.(string)
		c, _, err := s.loadConversation(ctx, convID)
		// Only this assignment's entry goes: by now the conversation may be
		// someone else's, whose entry has the same member (removing it
		// unconditionally let a second silent agent keep it for good).
		unawait := func() {
			_, _ = s.unawaitScript.run(ctx, s.rdb, &unawaitArgs{Set: s.keys.awaitingReply(m.ID), Member: convID, Score: int64(z.Score)})
		}
		if err != nil || c.Status != StatusAssigned || c.assignedAt != int64(z.Score) || c.repliedAt == c.assignedAt {
			unawait()
			continue
		}
		agent := string(c.AgentID)
		s.log.InfoContext(ctx, "reassigning a conversation its agent did not answer", "merchant", m.ID, "agent", agent, "conversation", convID)
		// The silent agent gets no new conversation for as long.
		_ = s.rdb.ZAdd(ctx, s.keys.cooldown(m.ID), zmember(float64(now.Add(after).UnixMilli()), agent)).Err()
		if _, err := s.Release(ctx, Actor{ID: agent, MerchantID: m.ID, Admin: true}, convID); err != nil {
			s.log.WarnContext(ctx, "reassigning an unanswered conversation", "conversation", convID, "err", err)
		}
		unawait()
	}
}

// Load is how many conversations the actor has now, and how many
// auto-assignment gives them at once (their own capacity, else the
// merchant's).
func (s *Service) Load(ctx context.Context, a Actor) (load, capacity int, err error) {
	m, err := s.Merchant(ctx, a.MerchantID)
	if err != nil {
		return 0, 0, err
	}
	convs, err := s.AssignedTo(ctx, a)
	if err != nil {
		return 0, 0, err
	}
	ag, err := s.Agent(ctx, a.MerchantID, a.ID)
	if err != nil {
		return 0, 0, err
	}
	capacity = m.Routing.Capacity
	if ag.Capacity > 0 {
		capacity = ag.Capacity
	}
	return len(convs), capacity, nil
}

// hasConsole reads whether an agent has a console open now; when Redis
// cannot say, it answers yes (nothing is taken from them on a guess).
func (s *Service) hasConsole(ctx context.Context, mid, aid string) bool {
	online, err := s.openConsoles(ctx, s.rdb, mid, s.now()).Result()
	return err != nil || onlineAgents(online)[aid]
}
