package session

import (
	"context"
	"errors"
	"sort"

	"github.com/redis/go-redis/v9"
)

var errNoSuchHandoff = &Error{Kind: KindNotFound, Code: "not_found", Message: "no such handoff"}

// HelpdeskHandoffs lists the merchant's helpdesk handoffs in a state ("" for all),
// newest first. Dead letters (failed) are listed whatever their age; the
// others from the most recent handoffs.
func (s *Service) HelpdeskHandoffs(ctx context.Context, merchantID, state string) ([]*HelpdeskHandoff, error) {
	key := s.keys.handoffs(merchantID)
	switch state {
	case "", TicketPending, TicketCreated:
	case TicketFailed:
		key = s.keys.failedHandoffs(merchantID)
	default:
		return nil, newErr(KindInvalid, "invalid_state", "state must be pending, created or failed")
	}
	ids, err := s.rdb.ZRevRange(ctx, key, 0, listLimit-1).Result()
	if err != nil {
		return nil, err
	}
	out := []*HelpdeskHandoff{}
	if len(ids) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.keys.convMeta(id), fHandoffRec, fMerchant)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var stale []any
	for i, id := range ids {
		vals := cmds[i].Val()
		rec, _ := vals[0].(string)
		mid, _ := vals[1].(string)
		h, ok := decodeHandoff(rec)
		if !ok || mid != merchantID {
			stale = append(stale, id)
			continue
		}
		if state == TicketFailed && h.State != TicketFailed {
			// A pending record stays indexed: a worker writes the dead
			// letter's index entry before the record says failed, and
			// dropping it in between would hide that dead letter for
			// good. An admin's retry takes its own entry out.
			if h.State == TicketCreated {
				stale = append(stale, id) // made after all
			}
			continue
		}
		if state != "" && h.State != state {
			continue
		}
		out = append(out, h.view(id))
	}
	if len(stale) > 0 {
		_ = s.rdb.ZRem(ctx, key, stale...).Err()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].UpdatedAt.After(out[j].UpdatedAt.Time) })
	return out, nil
}

// HelpdeskHandoff returns one of the merchant's handoffs; its id is the
// conversation's.
func (s *Service) HelpdeskHandoff(ctx context.Context, merchantID, convID string) (*HelpdeskHandoff, error) {
	if !validID(convID) {
		return nil, errNoSuchHandoff
	}
	h, _, mid, err := s.readHandoff(ctx, convID)
	if err != nil {
		return nil, err
	}
	if h == nil || mid != merchantID {
		return nil, errNoSuchHandoff
	}
	return h.view(convID), nil
}

// RetryHandoff puts a dead letter back in the outbox, under a new
// idempotency key (the old one may be remembered with its failure). A
// handoff whose earlier attempts may have made the ticket is looked up
// before anything is posted again.
func (s *Service) RetryHandoff(ctx context.Context, merchantID, convID string) (*HelpdeskHandoff, error) {
	if !validID(convID) {
		return nil, errNoSuchHandoff
	}
	for range 5 {
		h, ver, mid, err := s.readHandoff(ctx, convID)
		if err != nil {
			return nil, err
		}
		if h == nil || mid != merchantID {
			return nil, errNoSuchHandoff
		}
		if h.State != TicketFailed {
			return nil, newErr(KindConflict, "not_failed", "the handoff is %s; only failed handoffs can be retried", h.State)
		}
		// The recovery entry first, the wake-up after (see handoff.go).
		recov := s.now().Add(s.outboxOpts.Recover)
		if err := s.rdb.ZAdd(ctx, s.keys.outboxDue(), zmember(float64(recov.UnixMilli()), dueMember(convID, h.ID))).Err(); err != nil {
			return nil, err
		}
		now := s.now().UnixMilli()
		next := *h
		next.State, next.Error = TicketPending, ""
		next.Gen++
		next.Tries, next.KeyAt, next.NextAt, next.Updated = 0, 0, now, now
		next.Lease, next.LeaseUntil, next.Inflight = "", 0, false
		_, err = s.casHandoff(ctx, convID, merchantID, ver, &next)
		switch {
		case errors.Is(err, errConflict):
			continue
		case errors.Is(err, errNoHandoff):
			return nil, errNoSuchHandoff
		case err != nil:
			return nil, err
		}
		if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.outbox(), Values: []string{"c", convID, "h", h.ID}}).Err(); err != nil {
			s.log.WarnContext(ctx, "retrying a handoff: waking the outbox; the recovery entry will", "conversation", convID, "err", err)
		}
		_ = s.rdb.ZRem(ctx, s.keys.failedHandoffs(merchantID), convID).Err()
		s.log.InfoContext(ctx, "helpdesk handoff retried by an admin", "conversation", convID, "generation", next.Gen)
		return next.view(convID), nil
	}
	return nil, newErr(KindConflict, "busy", "the handoff is changing; try again")
}
