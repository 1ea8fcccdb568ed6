package session

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Actor is the agent acting, as their verified token says.
type Actor struct {
	ID         string
	MerchantID string
	Name       string
	Admin      bool
}

// conversationOf loads a conversation and hides it unless it is the actor's
// merchant's.
func (s *Service) conversationOf(ctx context.Context, merchantID, convID string) (*Conversation, error) {
	if !validID(convID) {
		return nil, ErrNotFound
	}
	c, _, err := s.loadConversation(ctx, convID)
	if err != nil {
		return nil, err
	}
	if c.MerchantID != merchantID {
		return nil, ErrNotFound
	}
	return c, nil
}

// Conversation returns one of the merchant's conversations with its whole
// transcript in seq order.
func (s *Service) Conversation(ctx context.Context, merchantID, convID string) (*Conversation, []RawEntry, error) {
	c, err := s.conversationOf(ctx, merchantID, convID)
	if err != nil {
		return nil, nil, err
	}
	entries, err := s.readEntries(ctx, convID, 0)
	return c, entries, err
}

// listLimit bounds how many conversations one listing reads.
const listLimit = 500

// Conversations lists the merchant's conversations with the given status
// (all recent ones when status is empty), queued ones oldest first, the
// rest most recently updated first.
func (s *Service) Conversations(ctx context.Context, merchantID string, status Status) ([]*Conversation, error) {
	if status != "" && !status.Valid() {
		return nil, newErr(KindInvalid, "invalid_status", "unknown status %q", status)
	}
	if status == StatusQueued {
		snap, err := s.queueSnapshot(ctx, merchantID, nil, nil)
		if err != nil {
			return nil, err
		}
		return snap.Conversations, nil
	}
	pipe := s.rdb.Pipeline()
	var recent *redis.StringSliceCmd
	active := pipe.ZRevRange(ctx, s.keys.active(merchantID), 0, listLimit-1)
	if status == "" || status.Terminal() {
		recent = pipe.ZRevRange(ctx, s.keys.recent(merchantID), 0, listLimit-1)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, err
	}
	ids := active.Val()
	if recent != nil {
		ids = append(ids, recent.Val()...)
	}
	convs, err := s.loadMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*Conversation, 0, len(convs))
	seen := make(map[string]bool, len(convs))
	for _, c := range convs {
		if c.MerchantID != merchantID || seen[c.ID] || (status != "" && c.Status != status) {
			continue
		}
		seen[c.ID] = true
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].UpdatedAt.After(out[j].UpdatedAt.Time) })
	return out, nil
}

// loadMany reads many conversations in one pipelined round trip, skipping
// those that no longer exist.
func (s *Service) loadMany(ctx context.Context, ids []string) ([]*Conversation, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.keys.convMeta(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, err
	}
	out := make([]*Conversation, 0, len(ids))
	for i, id := range ids {
		if c, ok := conversationFromMeta(id, cmds[i].Val()); ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// AssignedTo lists the conversations assigned to the actor now.
func (s *Service) AssignedTo(ctx context.Context, a Actor) ([]*Conversation, error) {
	key := s.keys.assigned(a.MerchantID, a.ID)
	ids, err := s.rdb.SMembers(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	convs, err := s.loadMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	keep := make(map[string]bool, len(convs))
	out := make([]*Conversation, 0, len(convs))
	for _, c := range convs {
		if c.MerchantID == a.MerchantID && c.Status == StatusAssigned && string(c.AgentID) == a.ID {
			keep[c.ID] = true
			out = append(out, c)
		}
	}
	// A queued conversation in the set may be an assignment in flight: the
	// assign script and a claim write the index before the conversation's
	// step, so removing it here would lose the agent's slot (seen as a load
	// of 0 right after agent_joined). Only what can no longer become this
	// agent's is stale: gone, ended, or someone else's.
	queued := make(map[string]bool, len(convs))
	for _, c := range convs {
		if c.MerchantID == a.MerchantID && c.Status == StatusQueued {
			queued[c.ID] = true
		}
	}
	var stale []any
	for _, id := range ids {
		if !keep[id] && !queued[id] {
			stale = append(stale, id)
		}
	}
	if len(stale) > 0 {
		_ = s.rdb.SRem(ctx, key, stale...).Err()
	}
	return out, nil
}

// IsAssigned reports whether the conversation is assigned to the actor now,
// from Redis: for the rare frame that arrives before the console has heard
// of its own claim.
func (s *Service) IsAssigned(ctx context.Context, a Actor, convID string) (bool, error) {
	if !validID(convID) {
		return false, nil
	}
	v, err := s.rdb.HMGet(ctx, s.keys.convMeta(convID), fMerchant, fStatus, fAgent).Result()
	if err != nil {
		return false, err
	}
	return v[0] == a.MerchantID && v[1] == string(StatusAssigned) && v[2] == a.ID, nil
}

// Claim gives a queued conversation to the actor. Of many agents claiming at
// once exactly one wins; claiming one's own conversation again succeeds.
func (s *Service) Claim(ctx context.Context, a Actor, convID string) (*Conversation, error) {
	return s.claim(ctx, a, convID, true)
}

// claim gives a queued conversation to a, by hand (the agent's own index
// is written first) or as auto-assignment decided (assign.lua already
// counted it in the agent's index).
func (s *Service) claim(ctx context.Context, a Actor, convID string, byHand bool) (*Conversation, error) {
	c, err := s.conversationOf(ctx, a.MerchantID, convID)
	if err != nil {
		return nil, err
	}
	if c.Status == StatusAssigned && string(c.AgentID) == a.ID {
		return c, nil
	}
	if c.Status != StatusQueued {
		return nil, claimConflict(c.Status)
	}
	now := s.now()
	agent := &AgentRef{ID: a.ID, Name: a.Name}
	mine := func(res *applyResult) bool { return res.status == StatusAssigned && res.agent == a.ID }
	op := applyOp{
		convID: convID, merchant: a.MerchantID, on: EventClaim, now: now, state: State{Agent: agent},
		fields: []string{fAgent, a.ID, fAgentName, a.Name, fQueuePos, "", fAssignedAt, itoa(now.UnixMilli()),
			fHadAgent, "1"},
		condEntries: []entryTail{s.systemEntry(fmtText(textsFor(c.Locale).Joined, a.Name), now)},
		// Waiting for the agent's first reply (see reassign).
		after: []indexEdit{{kind: editZAdd, key: s.keys.awaitingReply(a.MerchantID), member: convID, score: float64(now.UnixMilli())}},
	}
	if byHand {
		// The agent's index first, so a crash after the claim cannot hide
		// the conversation from their console.
		op.enter = []indexEdit{{kind: editSAdd, key: s.keys.assigned(a.MerchantID, a.ID), member: convID, held: mine}}
	}
	res, err := s.apply(ctx, op)
	if err != nil {
		return nil, err
	}
	if res.code != "ok" {
		if res.code == "state" && mine(res) {
			return s.conversationOf(ctx, a.MerchantID, convID)
		}
		if res.code == "state" {
			return nil, claimConflict(res.status)
		}
		return nil, s.refusal(res)
	}
	if res.applied && !c.QueuedAt.IsZero() {
		s.obs.Assigned(byHand, now.Sub(c.QueuedAt.Time))
	}
	out, _ := conversationFromMeta(convID, res.meta)
	return out, nil
}

func claimConflict(st Status) error {
	if st == StatusAssigned {
		return &Error{Kind: KindConflict, Code: "already_claimed", Message: "another agent has this conversation"}
	}
	return &Error{Kind: KindConflict, Code: "not_queued", Message: "the conversation is " + string(st) + ", not waiting in the queue"}
}

// Release gives an assigned conversation back to the queue, at its original
// place.
func (s *Service) Release(ctx context.Context, a Actor, convID string) (*Conversation, error) {
	c, err := s.conversationOf(ctx, a.MerchantID, convID)
	if err != nil {
		return nil, err
	}
	if c.Status != StatusAssigned {
		return nil, s.stateError(c.Status)
	}
	if string(c.AgentID) != a.ID && !a.Admin {
		return nil, &Error{Kind: KindConflict, Code: "not_assigned", Message: "the conversation is assigned to someone else"}
	}
	now := s.now()
	score := c.QueuedAt.UnixMilli()
	if c.QueuedAt.IsZero() {
		score = now.UnixMilli()
	}
	ep := newEpisode(now)
	op := applyOp{
		convID: convID, merchant: a.MerchantID, on: EventRelease, agent: string(c.AgentID), now: now,
		condEntries: []entryTail{s.systemEntry(fmtText(textsFor(c.Locale).Left, c.Agent.Name), now)},
		enter:       []indexEdit{s.queueEntry(a.MerchantID, convID, ep, score)},
	}
	op.prepare = func(ctx context.Context, pipe redis.Pipeliner) func(*applyOp) {
		rank := pipe.ZCount(ctx, s.keys.queue(a.MerchantID), "-inf", itoa(score))
		return func(op *applyOp) {
			pos := int(rank.Val())
			op.state = State{QueuePosition: pos}
			op.fields = []string{fAgent, "", fAgentName, "", fQueueEp, ep, fQueuePos, strconv.Itoa(pos)}
		}
	}
	res, err := s.apply(ctx, op)
	if err != nil {
		return nil, err
	}
	if err := s.refusal(res); err != nil {
		return nil, err
	}
	s.assignSoon(a.MerchantID)
	out, _ := conversationFromMeta(convID, res.meta)
	return out, nil
}

// CloseByAgent ends a conversation from the console. An agent may close
// their own conversations and unassigned ones; admins any.
func (s *Service) CloseByAgent(ctx context.Context, a Actor, convID string) (*Conversation, error) {
	c, err := s.conversationOf(ctx, a.MerchantID, convID)
	if err != nil {
		return nil, err
	}
	if c.Status == StatusAssigned && string(c.AgentID) != a.ID && !a.Admin {
		return nil, &Error{Kind: KindConflict, Code: "not_assigned", Message: "the conversation is assigned to someone else"}
	}
	if c.Status == StatusClosed {
		return c, nil
	}
	return s.close(ctx, a.MerchantID, convID, "agent_closed")
}

// close ends a conversation from any live status. One a person took part
// in asks the visitor for a rating.
func (s *Service) close(ctx context.Context, merchantID, convID, reason string) (*Conversation, error) {
	now := s.now()
	had, err := s.rdb.HGet(ctx, s.keys.convMeta(convID), fHadAgent).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	fields := []string{fClosedReason, reason, fClosedAt, itoa(now.UnixMilli()), fQueuePos, "", fPrompt, ""}
	st := State{Reason: reason}
	if had == "1" {
		fields = append(fields, fCSATDue, "1")
		st.CSAT = true
	}
	res, err := s.apply(ctx, applyOp{
		convID: convID, merchant: merchantID, on: EventClose, now: now, state: st, fields: fields,
	})
	if err != nil {
		return nil, err
	}
	if err := s.refusal(res); err != nil {
		return nil, err
	}
	if res.meta[fCounted] != "" && res.meta[fRouted] == "" {
		s.count(ctx, merchantID, res.meta[fDay], metricResolved)
	}
	if res.was[fAgent] != "" || res.meta[fAgent] != "" {
		s.assignSoon(merchantID) // a slot may have freed
	}
	out, _ := conversationFromMeta(convID, res.meta)
	return out, nil
}

// AgentMessage stores what an agent wrote in a conversation assigned to
// them. created is false when client_id was already stored; the stored
// message is returned either way.
func (s *Service) AgentMessage(ctx context.Context, a Actor, convID, clientID, text string) (msg RawEntry, created bool, err error) {
	if err := ValidateClientID(clientID); err != nil {
		return RawEntry{}, false, err
	}
	if err := ValidateText(text); err != nil {
		return RawEntry{}, false, err
	}
	if !validID(convID) {
		return RawEntry{}, false, ErrNotFound
	}
	now := s.now()
	res, err := s.appendEntry(ctx, appendOp{
		convID: convID, on: EventAgentWrite, agent: a.ID, reply: true, clientID: clientID, now: now,
		entry: entryTail{ID: newID("m", 10), ClientID: clientID, Role: RoleAgent, Author: a.Name, AuthorID: a.ID, Text: text, TS: Time{now}},
	})
	if err != nil {
		return RawEntry{}, false, err
	}
	switch res.code {
	case "ok":
		if res.firstReply {
			s.answered(ctx, a.MerchantID, convID, res.queuedAt, now)
		}
		if res.mailDue && s.mailOpts.Sender != nil {
			s.owe(ctx, convID)
		}
		return res.entries[0], true, nil
	case "dup":
		return res.entries[0], false, nil
	case "nf":
		return RawEntry{}, false, ErrNotFound
	}
	// Not this agent's: say so only if the conversation is the merchant's.
	if _, err := s.conversationOf(ctx, a.MerchantID, convID); err != nil {
		return RawEntry{}, false, err
	}
	if res.code == "state" && res.status != StatusAssigned {
		return RawEntry{}, false, s.stateError(res.status)
	}
	return RawEntry{}, false, &Error{Kind: KindConflict, Code: "not_assigned", Message: "the conversation is not assigned to you"}
}

func fmtText(format, arg string) string {
	out := make([]byte, 0, len(format)+len(arg))
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) && format[i+1] == 's' {
			out = append(out, arg...)
			i++
			continue
		}
		out = append(out, format[i])
	}
	return string(out)
}

// sweep closes conversations the assistant was handling once the visitor has
// gone quiet, so they count as resolved. One node sweeps each merchant at a
// time.
func (s *Service) sweep(ctx context.Context) {
	every(ctx, time.Minute, func(ctx context.Context) {
		if _, err := s.onePass(ctx, "sweep", 50*time.Second, s.sweepOnce); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweeping inactive conversations", "err", err)
		}
	})
}

func (s *Service) sweepOnce(ctx context.Context) error {
	ids, err := s.rdb.SMembers(ctx, s.keys.merchants()).Result()
	if err != nil {
		return err
	}
	cutoff := s.now().Add(-s.inactive)
	for chunk := range slices.Chunk(ids, routingChunk) {
		locks := s.takeLocks(ctx, "sweep", 50*time.Second, chunk)
		for i, mid := range chunk {
			if !locks[i] {
				continue
			}
			// One merchant's failure leaves the others' sweeps, whose
			// locks this pass holds, to go on.
			if err := s.sweepMerchant(ctx, mid, cutoff); err != nil {
				s.log.WarnContext(ctx, "sweeping a merchant's inactive conversations; next pass", "merchant", mid, "err", err)
			}
		}
	}
	return nil
}

// sweepPage is how many live conversations one read of the index takes.
const sweepPage = 500

// sweepMerchant reads the merchant's live conversations older than cutoff
// page by page to the end: conversations waiting for a person stay in the
// index for as long as they wait, and must not keep the sweep from those
// behind them.
func (s *Service) sweepMerchant(ctx context.Context, mid string, cutoff time.Time) error {
	offset := int64(0)
	for {
		cands, err := s.rdb.ZRangeByScore(ctx, s.keys.active(mid), &redis.ZRangeBy{
			Min: "-inf", Max: strconv.FormatInt(cutoff.UnixMilli(), 10), Offset: offset, Count: sweepPage}).Result()
		if err != nil {
			return err
		}
		convs, err := s.loadMany(ctx, cands)
		if err != nil {
			return err
		}
		present := make(map[string]bool, len(convs))
		var drop []any // index entries with nothing live behind them
		removed := 0
		for _, c := range convs {
			present[c.ID] = true
			switch c.Status {
			case StatusAssistant, StatusHandoffOffered, StatusAwaitingEmail:
				if c.UpdatedAt.Before(cutoff) {
					if _, err := s.close(ctx, mid, c.ID, "inactive"); err != nil {
						s.log.DebugContext(ctx, "closing an inactive conversation", "conversation", c.ID, "err", err)
						continue
					}
					removed++ // closing took it out of the index
				}
			case StatusClosed, StatusTicketed:
				drop = append(drop, c.ID)
			}
		}
		for _, id := range cands {
			if !present[id] {
				drop = append(drop, id) // expired
			}
		}
		if len(drop) > 0 {
			if err := s.rdb.ZRem(ctx, s.keys.active(mid), drop...).Err(); err != nil {
				return err
			}
			removed += len(drop)
		}
		if len(cands) < sweepPage {
			return nil
		}
		// What was taken out shifts what follows towards the start.
		offset += int64(len(cands) - removed)
	}
}

// maxWaits is how many recent first-reply waits a merchant's estimates
// draw on.
const maxWaits = 50

// answered notes an agent's first reply in an assignment: the
// conversation no longer waits for one, and how long the visitor waited
// since joining the queue feeds the wait estimates (counted only when the
// team was open: a night's wait says nothing about the day's).
func (s *Service) answered(ctx context.Context, merchantID, convID string, queuedAt int64, now time.Time) {
	pipe := s.rdb.Pipeline()
	pipe.ZRem(ctx, s.keys.awaitingReply(merchantID), convID)
	if queuedAt > 0 {
		if m, err := s.Merchant(ctx, merchantID); err == nil && m.Schedule.At(time.UnixMilli(queuedAt)).Open {
			pipe.LPush(ctx, s.keys.waits(merchantID), now.UnixMilli()-queuedAt)
			pipe.LTrim(ctx, s.keys.waits(merchantID), 0, maxWaits-1)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.WarnContext(ctx, "noting an agent's first reply", "conversation", convID, "err", err)
	}
}
