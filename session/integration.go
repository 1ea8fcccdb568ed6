package session

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetIntegration stores a verified helpdesk connection (verification is the
// caller's: package gateway/helpdesk) and, for OAuth, its first token pair,
// in one step (see helpdesk_auth.go). It replaces whatever was connected
// before, and releases the handoffs that were waiting for the helpdesk to
// be connected again.
func (s *Service) SetIntegration(ctx context.Context, merchantID string, method HandoffMethod, acc *HelpdeskAccount) (*HelpdeskAccount, error) {
	if _, err := s.Merchant(ctx, merchantID); err != nil {
		return nil, err
	}
	a := *acc
	if err := a.Validate(method); err != nil {
		return nil, err
	}
	a.VerifiedAt = Time{s.now()}
	stored := a
	stored.LegacySecret, stored.SealedSecret, stored.SecretHint = "", "", ""
	if a.Secret != "" {
		stored.SealedSecret = s.hdauth.seal.seal([]byte(a.Secret), a.secretPlace(merchantID, method))
		if len(a.Secret) >= 16 {
			stored.SecretHint = a.Secret[len(a.Secret)-4:]
		}
	}
	b, _ := json.Marshal(stored)
	token := ""
	if a.OAuth() {
		if a.Token == nil || a.Token.Access == "" {
			return nil, newErr(KindInvalid, "invalid_integration", "an OAuth connection needs its first token")
		}
		tb, _ := json.Marshal(a.Token)
		token = s.hdauth.seal.seal(tb, a.place(merchantID, method))
	}
	_, err := s.authScript(ctx, merchantID, method, authArgs{Op: "connect",
		Field: cIntegrationPrefix + string(method), Value: string(b), Token: token})
	s.cfg.invalidate(merchantID)
	if err != nil {
		return nil, err
	}
	a.Token = nil
	s.releaseHeld(ctx, merchantID, method)
	return &a, nil
}

// DeleteIntegration disconnects a helpdesk. It is refused while the
// helpdesk is the merchant's handoff method. Handoffs still waiting for it
// then fail (an admin may retry them once it is connected again).
func (s *Service) DeleteIntegration(ctx context.Context, merchantID string, method HandoffMethod) error {
	if method != MethodZendesk && method != MethodGorgias {
		return newErr(KindNotFound, "not_found", "no integration called %q", method)
	}
	if _, err := s.Merchant(ctx, merchantID); err != nil {
		return err
	}
	rep, err := s.authScript(ctx, merchantID, method, authArgs{Op: "disconnect", Field: cIntegrationPrefix + string(method)})
	s.cfg.invalidate(merchantID)
	if err != nil {
		return err
	}
	if rep.Code == "in_use" {
		return newErr(KindRefused, "integration_in_use",
			"%s is the handoff method: choose another under settings before disconnecting it", method)
	}
	s.releaseHeld(ctx, merchantID, method)
	return nil
}

// openAccounts opens the sealed secrets of a merchant's integrations as
// read from its configuration.
func (s *Service) openAccounts(m *Merchant) {
	for _, method := range []HandoffMethod{MethodZendesk, MethodGorgias} {
		acc := m.Integrations.account(method)
		switch {
		case acc == nil:
		case acc.SealedSecret != "":
			if p, ok := s.hdauth.seal.open(acc.SealedSecret, acc.secretPlace(m.ID, method)); ok {
				acc.Secret = string(p)
			} else {
				acc.Unreadable = true
			}
		default:
			acc.Secret = acc.LegacySecret
		}
	}
}

// releaseHeld wakes the handoffs that were waiting for the integration to
// be connected again: they are attempted at once (or, disconnected, fail).
// A wake-up lost here is made up by the held handoff's own recheck.
func (s *Service) releaseHeld(ctx context.Context, mid string, method HandoffMethod) {
	rctx, cancel := detached(ctx, 10*time.Second)
	defer cancel()
	key := s.keys.heldHandoffs(mid, method)
	members, err := s.rdb.ZRange(rctx, key, 0, -1).Result()
	if err != nil {
		s.log.Warn("releasing held handoffs; they are rechecked later", "merchant", mid, "err", err)
		return
	}
	released := 0
	for _, member := range members {
		convID, hid, _ := strings.Cut(member, "|")
		ok, err := s.releaseOne(rctx, convID, hid)
		if err != nil {
			s.log.Warn("releasing a held handoff; it is rechecked later", "conversation", convID, "err", err)
			continue
		}
		if ok {
			released++
		}
		_ = s.rdb.ZRem(rctx, key, member).Err()
	}
	if released > 0 {
		s.log.Info("held helpdesk handoffs released", "merchant", mid, "provider", method, "handoffs", released)
	}
}

// releaseOne makes a held handoff due now and wakes a worker for it.
func (s *Service) releaseOne(ctx context.Context, convID, hid string) (bool, error) {
	if !validID(convID) {
		return false, nil
	}
	for range 5 {
		h, ver, mid, err := s.readHandoff(ctx, convID)
		if err != nil {
			return false, err
		}
		if h == nil || h.ID != hid || h.State != TicketPending || !h.Held {
			return false, nil
		}
		next := *h
		next.Held, next.Error = false, ""
		next.NextAt, next.Updated = s.now().UnixMilli(), s.now().UnixMilli()
		_, err = s.casHandoff(ctx, convID, mid, ver, &next)
		switch {
		case errors.Is(err, errConflict):
			continue
		case errors.Is(err, errNoHandoff):
			return false, nil
		case err != nil:
			return false, err
		}
		return true, s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.outbox(), Values: []string{"c", convID, "h", hid}}).Err()
	}
	return false, errConflict
}
