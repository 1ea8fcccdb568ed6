package session

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// A helpdesk integration's credentials live in two places in the
// merchant's slot: the account in the merchant's configuration (with its
// secret sealed), and a credential record beside it (scripts/hdauth.lua):
// the sealed OAuth token pair, a generation bumped by every change, and
// whether the integration needs reconnecting. Connecting writes both in one
// step, so a token can never be sent to an address it was not issued for;
// the tokens are also sealed for the account's address (seal.go), and do
// not open for another.
//
// Zendesk invalidates the previous access and refresh token when a
// refresh succeeds, so two nodes refreshing one pair would break the
// integration. Exactly one refresh is made per pair, cluster-wide:
//
//   - a node whose token is about to expire (or was refused with a 401)
//     takes the renewal lease, SET NX PX with a fencing value of its own;
//   - holding it, it reads the record again (another node may have just
//     renewed it), renews, and stores the new pair only if the record is
//     still at the generation it read, then gives the lease back;
//   - the others wait for the generation to change and read the new pair;
//     should the holder die, its lease expires after TokenLease and the
//     next node takes it. The refresh call is bounded well inside the
//     lease, so a holder never outlives its lease mid-call.
//
// When the helpdesk refuses a renewal for good (invalid_grant: the grant
// was revoked or expired), or refuses the credentials of a ticket, the
// record says needs_reconnect: handoffs to the helpdesk then wait in the
// outbox (outbox.go, held) and are released when an admin connects again.

//go:embed scripts/hdauth.lua
var hdauthSource string

// TokenRenewer gets a new OAuth token pair for an account: the refresh
// token grant for cur, or a new token from the client's credentials.
// Package gateway/helpdesk implements it. An error that is a *GrantError
// cannot succeed by retrying; any other is worth another try.
type TokenRenewer interface {
	RenewToken(ctx context.Context, method HandoffMethod, acc HelpdeskAccount, cur OAuthToken) (OAuthToken, error)
}

// GrantError is a renewal the helpdesk refused for good (invalid_grant,
// invalid_client): only an admin can fix it, by connecting again.
type GrantError struct{ Reason string }

func (e *GrantError) Error() string { return e.Reason }

// Integration states (IntegrationState.Status).
const (
	IntegrationConnected      = "connected"
	IntegrationNeedsReconnect = "needs_reconnect"
	IntegrationNotConnected   = "not_connected"
)

// IntegrationState is how an integration stands now.
type IntegrationState struct {
	Status string
	Reason string // why it needs reconnecting
	Since  time.Time
}

// HelpdeskAuthStats counts this node's token renewals, for metrics.
type HelpdeskAuthStats struct {
	Renewals       int64 // tokens renewed
	RenewFailures  int64 // renewals that failed and may be tried again
	NeedsReconnect int64 // integrations this node found needing reconnecting
}

// helpdeskAuth is the Service's part that handles credentials.
type helpdeskAuth struct {
	seal    *sealer
	renewer TokenRenewer
	script  *script[authArgs, authReply]

	renewals, renewFailures, needsReconnect atomic.Int64
}

func newHelpdeskAuth(o Options) *helpdeskAuth {
	return &helpdeskAuth{seal: newSealer(o.Secret, o.SecretPrevious), renewer: o.Renewer,
		script: newScript[authArgs, authReply]("hdauth.lua", hdauthSource)}
}

// HelpdeskAuthStats returns the renewal counters.
func (s *Service) HelpdeskAuthStats() HelpdeskAuthStats {
	return HelpdeskAuthStats{Renewals: s.hdauth.renewals.Load(), RenewFailures: s.hdauth.renewFailures.Load(),
		NeedsReconnect: s.hdauth.needsReconnect.Load()}
}

// Keys of the credential record, its lease, and the handoffs held for it.
func (k keyspace) helpdeskAuth(mid string, m HandoffMethod) string {
	return k.merchant(mid) + ":hda:" + string(m)
}
func (k keyspace) helpdeskLease(mid string, m HandoffMethod) string {
	return k.merchant(mid) + ":hda:" + string(m) + ":lease"
}
func (k keyspace) heldHandoffs(mid string, m HandoffMethod) string {
	return k.merchant(mid) + ":hdh:" + string(m)
}

// authArgs and authReply are hdauth.lua's layout.
type authArgs struct {
	Auth     string `lua:"auth,key"`
	Lease    string `lua:"lease,key"`
	Cfg      string `lua:"cfg,key"`
	Op       string `lua:"op"`
	Expect   string `lua:"expect"`
	Fence    string `lua:"fence"`
	Token    string `lua:"token"`
	Reason   string `lua:"reason"`
	Now      int64  `lua:"now"`
	Field    string `lua:"field"`
	Value    string `lua:"value"`
	Control  string `lua:"control"`
	Merchant string `lua:"merchant"`
	Method   string `lua:"method"`
}

type authReply struct {
	Code string `lua:"code"` // ok, conflict, in_use
	Gen  int64  `lua:"gen"`
}

func (s *Service) authScript(ctx context.Context, mid string, method HandoffMethod, a authArgs) (*authReply, error) {
	a.Auth, a.Lease, a.Cfg = s.keys.helpdeskAuth(mid, method), s.keys.helpdeskLease(mid, method), s.keys.merchantConfig(mid)
	a.Control, a.Merchant, a.Method, a.Now = s.keys.control(), mid, string(method), s.now().UnixMilli()
	return s.hdauth.script.run(ctx, s.rdb, &a)
}

// authRecord is the credential record as read.
type authRecord struct {
	gen    int64
	sealed string
	status string
	reason string
	at     int64
}

func (s *Service) readAuth(ctx context.Context, mid string, method HandoffMethod) (authRecord, error) {
	vals, err := s.rdb.HMGet(ctx, s.keys.helpdeskAuth(mid, method), "gen", "tok", "status", "reason", "at").Result()
	if err != nil {
		return authRecord{}, err
	}
	str := func(i int) string { v, _ := vals[i].(string); return v }
	r := authRecord{sealed: str(1), status: str(2), reason: str(3)}
	r.gen, _ = strconv.ParseInt(str(0), 10, 64)
	r.at, _ = strconv.ParseInt(str(4), 10, 64)
	return r, nil
}

// IntegrationState says whether a merchant's integration is connected and
// working, or needs reconnecting (and why).
func (s *Service) IntegrationState(ctx context.Context, m *Merchant, method HandoffMethod) (IntegrationState, error) {
	acc := m.Integrations.account(method)
	if acc == nil {
		return IntegrationState{Status: IntegrationNotConnected}, nil
	}
	if acc.Unreadable {
		return IntegrationState{Status: IntegrationNeedsReconnect, Reason: unreadable}, nil
	}
	r, err := s.readAuth(ctx, m.ID, method)
	if err != nil {
		return IntegrationState{}, err
	}
	if r.status == IntegrationNeedsReconnect {
		return IntegrationState{Status: r.status, Reason: r.reason, Since: time.UnixMilli(r.at).UTC()}, nil
	}
	return IntegrationState{Status: IntegrationConnected}, nil
}

const unreadable = "Baton cannot decrypt the stored credentials (BATON_SECRET changed without BATON_SECRET_PREVIOUS); connect again"

func (in Integrations) account(m HandoffMethod) *HelpdeskAccount {
	switch m {
	case MethodZendesk:
		return in.Zendesk
	case MethodGorgias:
		return in.Gorgias
	}
	return nil
}

// needsReconnect is a credential only an admin can replace.
type needsReconnect struct{ reason string }

func (e *needsReconnect) Error() string { return e.reason }

// errAccountChanged: the stored token is not for this account (a cached
// configuration older than the record): read the configuration again.
var errAccountChanged = errors.New("the stored token is for another account")

// helpdeskCredentials returns what one ticket attempt signs in with: for
// an OAuth account a live access token, renewed first when it is about to
// expire or when it is stale (the one a helpdesk just refused), and the
// record's generation either way. It returns a *needsReconnect when the
// integration needs an admin.
func (s *Service) helpdeskCredentials(ctx context.Context, mid string, method HandoffMethod, acc *HelpdeskAccount, stale string) (string, int64, error) {
	for {
		r, err := s.readAuth(ctx, mid, method)
		if err != nil {
			return "", 0, err
		}
		if r.status == IntegrationNeedsReconnect {
			return "", r.gen, &needsReconnect{reason: r.reason}
		}
		if acc.Unreadable {
			return "", r.gen, s.markNeedsReconnect(ctx, mid, method, r.gen, unreadable)
		}
		if !acc.OAuth() {
			return "", r.gen, nil
		}
		var tok OAuthToken
		if r.sealed != "" {
			plain, ok := s.hdauth.seal.open(r.sealed, acc.place(mid, method))
			if !ok || json.Unmarshal(plain, &tok) != nil {
				return "", r.gen, errAccountChanged
			}
		}
		if tok.Access != "" && tok.Access != stale && (tok.renewAt().IsZero() || s.now().Before(tok.renewAt())) {
			return tok.Access, r.gen, nil
		}
		if s.hdauth.renewer == nil {
			return "", r.gen, errors.New("this node cannot renew OAuth tokens")
		}
		access, gen, again, err := s.renewToken(ctx, mid, method, acc, r, tok)
		if err != nil || !again {
			return access, gen, err
		}
	}
}

// renewToken renews the pair read at r under the lease, or waits for the
// node that holds it. again: the record changed meanwhile; read it again.
func (s *Service) renewToken(ctx context.Context, mid string, method HandoffMethod, acc *HelpdeskAccount, r authRecord, cur OAuthToken) (access string, gen int64, again bool, err error) {
	lease := s.outboxOpts.TokenLease
	fence := s.nodeID + "/" + newID("f", 8)
	got, err := s.rdb.SetNX(ctx, s.keys.helpdeskLease(mid, method), fence, lease).Result()
	if err != nil {
		return "", r.gen, false, err
	}
	if !got {
		return "", r.gen, true, s.awaitRenewal(ctx, mid, method, r.gen)
	}
	release := func() {
		rctx, cancel := detached(ctx, 5*time.Second)
		defer cancel()
		_, _ = s.authScript(rctx, mid, method, authArgs{Op: "release", Fence: fence})
	}
	// Another node may have renewed between our read and our lease.
	if now, err := s.readAuth(ctx, mid, method); err != nil || now.gen != r.gen {
		release()
		return "", r.gen, err == nil, err
	}
	// The call must end well before the lease does, whatever the attempt's
	// own deadline: an abandoned refresh may have rotated the pair anyway.
	rctx, cancel := detached(ctx, lease*3/4)
	next, rerr := s.hdauth.renewer.RenewToken(rctx, method, *acc, cur)
	cancel()
	wctx, wcancel := detached(ctx, 5*time.Second)
	defer wcancel()
	log := s.log.With("merchant", mid, "provider", method)
	var ge *GrantError
	switch {
	case errors.As(rerr, &ge):
		s.hdauth.needsReconnect.Add(1)
		log.Warn("helpdesk token renewal refused for good; the integration needs reconnecting; its handoffs wait", "reason", ge.Reason)
		rep, err := s.authScript(wctx, mid, method, authArgs{Op: "fail", Expect: itoa(r.gen), Fence: fence, Reason: ge.Reason})
		if err != nil {
			return "", r.gen, false, err
		}
		if rep.Code == "conflict" {
			return "", rep.Gen, true, nil // connected again meanwhile
		}
		return "", rep.Gen, false, &needsReconnect{reason: ge.Reason}
	case rerr != nil:
		s.hdauth.renewFailures.Add(1)
		release()
		log.Info("helpdesk token renewal failed; will try again", "err", rerr)
		return "", r.gen, false, fmt.Errorf("renewing the token: %w", rerr)
	}
	b, _ := json.Marshal(next)
	rep, err := s.authScript(wctx, mid, method, authArgs{Op: "put", Expect: itoa(r.gen), Fence: fence,
		Token: s.hdauth.seal.seal(b, acc.place(mid, method))})
	if err != nil {
		// The helpdesk replaced the pair and we could not keep the new
		// one: the integration will need reconnecting.
		log.Error("a renewed helpdesk token could not be stored", "err", err)
		return "", r.gen, false, err
	}
	if rep.Code == "conflict" {
		return "", rep.Gen, true, nil
	}
	s.hdauth.renewals.Add(1)
	log.Debug("helpdesk token renewed", "generation", rep.Gen)
	return next.Access, rep.Gen, false, nil
}

// awaitRenewal waits until the record leaves generation gen (another node
// renewed it) or the lease is free (its holder gave up or died).
func (s *Service) awaitRenewal(ctx context.Context, mid string, method HandoffMethod, gen int64) error {
	wait := 10 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return errors.New("waiting for another node to renew the token: " + ctx.Err().Error())
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
		pipe := s.rdb.Pipeline()
		g := pipe.HGet(ctx, s.keys.helpdeskAuth(mid, method), "gen")
		held := pipe.Exists(ctx, s.keys.helpdeskLease(mid, method))
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if n, _ := strconv.ParseInt(g.Val(), 10, 64); n != gen || held.Val() == 0 {
			return nil
		}
	}
}

// markNeedsReconnect records that the integration's credentials were
// refused, unless it was connected again since generation gen.
func (s *Service) markNeedsReconnect(ctx context.Context, mid string, method HandoffMethod, gen int64, reason string) error {
	rctx, cancel := detached(ctx, 5*time.Second)
	defer cancel()
	rep, err := s.authScript(rctx, mid, method, authArgs{Op: "fail", Expect: itoa(gen), Reason: reason})
	if err != nil {
		return err
	}
	if rep.Code == "ok" {
		s.hdauth.needsReconnect.Add(1)
		s.log.Warn("helpdesk credentials refused; the integration needs reconnecting; its handoffs wait",
			"merchant", mid, "provider", method, "reason", reason)
	}
	return &needsReconnect{reason: reason}
}
