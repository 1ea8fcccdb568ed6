package session

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// The outbox turns handoff records (see handoff.go) into tickets. Every node
// with a TicketSender runs it; they share the work through one consumer
// group on the outbox stream:
//
//   - a stream entry only says "look at conversation C's handoff H"; the
//     record in the conversation decides whether there is anything to do;
//   - one worker at a time holds a lease on the record (a compare-and-set
//     in the conversation's slot), which is what keeps two nodes from
//     sending at once, whatever the stream delivers;
//   - an attempt that fails in a way worth retrying is scheduled in a
//     sorted set, and moved back into the stream when its time comes
//     (scripts/promote.lua), so a waiting retry holds no worker;
//   - entries a dead worker left unacknowledged are claimed by another
//     after ClaimIdle (XAUTOCLAIM); that worker finds the dead one's lease
//     still marked in flight and treats the ticket as possibly made.
//
// A stream entry is acknowledged only after the record says what happens
// next (created, failed, or retry at T with T in the schedule), so a crash
// at any point leaves either the entry pending or the record final.

//go:embed scripts/outbox.lua
var outboxSource string

//go:embed scripts/promote.lua
var promoteSource string

// OutboxOptions tune the helpdesk outbox. Zero values take the defaults.
type OutboxOptions struct {
	// Workers is how many attempts one node makes at once (4).
	Workers int
	// Poll is how often due retries are moved into the stream and idle
	// entries are claimed, and how long a worker blocks reading (1s).
	Poll time.Duration
	// CallTimeout bounds one attempt: a look-up and a post (30s).
	CallTimeout time.Duration
	// LeaseMargin is how much longer than an attempt its lease lasts (10s).
	LeaseMargin time.Duration
	// ClaimIdle is how long an entry must sit unacknowledged with another
	// worker before it is claimed (the lease plus LeaseMargin).
	ClaimIdle time.Duration
	// RetryBase and RetryMax shape the backoff: RetryBase·2^(n-1), at most
	// RetryMax, with jitter (2s, 10m).
	RetryBase time.Duration
	RetryMax  time.Duration
	// MaxAttempts is how many retryable failures in a row make a dead letter
	// (30, about four hours with the default backoff).
	MaxAttempts int
	// StopGrace is how long an attempt in flight may go on after Close
	// begins, so it can record its outcome (5s).
	StopGrace time.Duration
	// Recover is when a handoff's recovery entry comes due (1m): the ticket
	// of a node that died between marking a conversation ticketed and
	// waking a worker is made that late. It must outlast the handoff step
	// itself, which is bounded by the visitor socket's few seconds.
	Recover time.Duration
	// TokenLease is how long a node holds the lease to renew an OAuth token
	// (CallTimeout): its refresh call ends within three quarters of it, and
	// should the node die, another renews once it runs out.
	TokenLease time.Duration
	// HoldRecheck is how often a handoff waiting for its integration to be
	// reconnected looks again (1m), should the wake-up at reconnection be
	// missed.
	HoldRecheck time.Duration
}

func (o OutboxOptions) withDefaults() OutboxOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	def(&o.Poll, time.Second)
	def(&o.CallTimeout, 30*time.Second)
	def(&o.LeaseMargin, 10*time.Second)
	def(&o.ClaimIdle, o.CallTimeout+2*o.LeaseMargin)
	def(&o.RetryBase, 2*time.Second)
	def(&o.RetryMax, 10*time.Minute)
	def(&o.StopGrace, 5*time.Second)
	def(&o.Recover, time.Minute)
	def(&o.TokenLease, o.CallTimeout)
	def(&o.HoldRecheck, time.Minute)
	if o.RetryMax < o.RetryBase {
		o.RetryMax = o.RetryBase
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 30
	}
	return o
}

func (o OutboxOptions) lease() time.Duration { return o.CallTimeout + o.LeaseMargin }

type outbox struct {
	svc  *Service
	send TicketSender
	opts OutboxOptions
}

var (
	errConflict  = errors.New("handoff changed meanwhile")
	errNoHandoff = errors.New("no handoff")
)

// casArgs and casReply are outbox.lua's layout.
type casArgs struct {
	Meta    string `lua:"meta,key"`
	Version string `lua:"version"` // the version the caller read ("hd_v")
	Record  string `lua:"record"`  // the new record (JSON, field "hd")
	Ticket  string `lua:"ticket"`  // its public view (JSON of Ticket, field "ticket")
	Now     int64  `lua:"now"`
	Team    string `lua:"team"` // the merchant's channel, to announce the change on ("" none)
	ConvID  string `lua:"conv_id"`
}

type casReply struct {
	Code    string `lua:"code"` // ok, conflict, nf
	Version string `lua:"version"`
}

// promoteArgs and promoteReply are promote.lua's layout.
type promoteArgs struct {
	Due    string `lua:"due,key"`
	Stream string `lua:"stream,key"`
	Now    int64  `lua:"now"`
	Limit  int64  `lua:"limit"`
}

type promoteReply struct {
	Moved int64 `lua:"moved"`
}

// casHandoff stores h if the record is still at version ver, and returns the
// new version. With a merchant id, the merchant's consoles hear of the
// change.
func (s *Service) casHandoff(ctx context.Context, convID, merchantID, ver string, h *handoff) (string, error) {
	a := casArgs{Meta: s.keys.convMeta(convID), Version: ver, Record: h.encode(), Ticket: h.ticketJSON(),
		Now: s.now().UnixMilli(), ConvID: convID}
	if merchantID != "" {
		a.Team = s.keys.merchantChannel(merchantID)
	}
	r, err := s.outboxScript.run(ctx, s.rdb, &a)
	if err != nil {
		return "", err
	}
	switch r.Code {
	case "nf":
		return "", errNoHandoff
	case "conflict":
		return "", errConflict
	}
	return r.Version, nil
}

func dueMember(convID, handoffID string) string { return convID + "|" + handoffID }

// process looks at a handoff and, when it is due and free, makes an attempt.
// It reports whether the stream entry is done with.
func (ob *outbox) process(ctx context.Context, consumer, convID, hid string) (bool, error) {
	if !validID(convID) || hid == "" {
		return true, nil
	}
	s := ob.svc
	for range 5 {
		h, ver, mid, err := s.readHandoff(ctx, convID)
		if err != nil {
			return false, err
		}
		if h == nil || h.ID != hid || h.State != TicketPending {
			return true, nil // stale, or already settled
		}
		now := s.now()
		if h.NextAt > now.UnixMilli() {
			return true, ob.scheduleAt(ctx, convID, h.ID, h.NextAt)
		}
		if h.Lease != "" && h.LeaseUntil > now.UnixMilli() {
			// Another worker is on it. Look again when its lease runs out,
			// in case it dies.
			return true, ob.scheduleAt(ctx, convID, h.ID, h.LeaseUntil+1)
		}
		next := *h
		if h.Inflight {
			// The attempt before this one never concluded: its worker died
			// or lost Redis, perhaps after the helpdesk made the ticket.
			next.Maybe, next.MaybeGen = true, h.Gen
		}
		next.Lease, next.LeaseUntil, next.Inflight = consumer, now.Add(ob.opts.lease()).UnixMilli(), true
		next.Tries++
		next.Total++
		if next.KeyAt == 0 {
			next.KeyAt = now.UnixMilli()
		}
		next.Updated = now.UnixMilli()
		// Taking the lease changes nothing agents see worth a frame.
		nv, err := s.casHandoff(ctx, convID, "", ver, &next)
		switch {
		case errors.Is(err, errConflict):
			continue
		case errors.Is(err, errNoHandoff):
			return true, nil
		case err != nil:
			return false, err
		}
		return ob.attempt(ctx, consumer, convID, mid, &next, nv)
	}
	return false, nil // busy record; the entry will be claimed again
}

func (ob *outbox) scheduleAt(ctx context.Context, convID, hid string, at int64) error {
	rctx, cancel := detached(ctx, 5*time.Second)
	defer cancel()
	return ob.svc.rdb.ZAdd(rctx, ob.svc.keys.outboxDue(), zmember(float64(at), dueMember(convID, hid))).Err()
}

// attempt makes one try at the ticket under the lease just taken, and
// records how it went.
func (ob *outbox) attempt(ctx context.Context, consumer, convID, mid string, h *handoff, ver string) (bool, error) {
	s := ob.svc
	actx, cancel := ob.attemptContext(ctx)
	req, gen, err := ob.request(actx, convID, mid, h)
	var res TicketResult
	sent := false
	if err == nil {
		sent = true
		res, err = ob.send.SendTicket(actx, *req)
		if unauthorized(err) {
			res, err = ob.reauthorize(actx, mid, req, gen, err)
		}
	}
	cancel()
	if err != nil {
		var te *TicketError
		if !errors.As(err, &te) {
			err = &TicketError{MayExist: true, Reason: err.Error()}
		}
	}
	ack, cerr := ob.conclude(ctx, consumer, convID, mid, h, ver, res, err, sent)
	if cerr != nil && err == nil {
		// The ticket exists but the record does not say so: the entry stays
		// pending, and whoever claims it finds the attempt in flight.
		s.log.Error("outbox: a ticket was made but could not be recorded; it will be found again",
			"conversation", convID, "ticket", res.ID, "err", cerr)
	}
	return ack, cerr
}

// request builds the ticket from the frozen record and the transcript,
// which no longer changes once the conversation is ticketed, with the
// credentials to send it with (and their record's generation).
func (ob *outbox) request(ctx context.Context, convID, mid string, h *handoff) (*TicketRequest, int64, error) {
	s := ob.svc
	m, err := s.Merchant(ctx, mid)
	if err != nil {
		if ErrorOf(err).Kind == KindNotFound {
			return nil, 0, &TicketError{Permanent: true, Reason: "the merchant no longer exists"}
		}
		return nil, 0, &TicketError{Reason: "loading the merchant: " + err.Error()}
	}
	acc := m.Integrations.account(h.Provider)
	if acc == nil {
		return nil, 0, &TicketError{Permanent: true, Reason: string(h.Provider) + " is not connected; connect it under integrations and retry"}
	}
	a := *acc
	access, gen, err := s.helpdeskCredentials(ctx, mid, h.Provider, &a, "")
	if errors.Is(err, errAccountChanged) {
		// The cached configuration may be older than the credentials.
		if m, err = s.loadMerchant(ctx, mid); err != nil {
			return nil, 0, &TicketError{Reason: "loading the merchant: " + err.Error()}
		}
		if acc = m.Integrations.account(h.Provider); acc == nil {
			return nil, 0, &TicketError{Permanent: true, Reason: string(h.Provider) + " is not connected; connect it under integrations and retry"}
		}
		a = *acc
		access, gen, err = s.helpdeskCredentials(ctx, mid, h.Provider, &a, "")
		if errors.Is(err, errAccountChanged) {
			err = s.markNeedsReconnect(ctx, mid, h.Provider, gen, "the stored token cannot be opened for this account; connect again")
		}
	}
	if err != nil {
		return nil, gen, credentialError(h.Provider, err)
	}
	a.AccessToken = access
	raw, err := s.readEntries(ctx, convID, 0)
	if err != nil {
		return nil, gen, &TicketError{Reason: "reading the transcript: " + err.Error()}
	}
	msgs := make([]Message, 0, len(raw))
	for _, e := range raw {
		if msg, err := e.Decode(); err == nil {
			msgs = append(msgs, msg)
		}
	}
	loc, err := time.LoadLocation(h.Zone)
	if err != nil {
		loc = time.UTC
	}
	r := &TicketRequest{
		Provider: h.Provider, Account: a, ConversationID: convID, ExternalID: externalID(convID),
		IdempotencyKey: h.idempotencyKey(), MayExist: h.Maybe,
		Visitor: TicketVisitor{Email: h.Email, ProfileID: h.Profile, Page: h.Page},
		Reason:  h.Reason, ReasonDetail: h.Detail, Summary: h.Summary, HandedOffAt: time.UnixMilli(h.At).UTC(), Location: loc,
		Words: TicketWordsFor(h.Locale), Transcript: msgs,
	}
	if h.Maybe && h.MaybeGen == h.Gen {
		r.KeySince = time.UnixMilli(h.KeyAt).UTC()
	}
	return r, gen, nil
}

// attemptContext bounds an attempt by CallTimeout. It is detached from the
// node's life so that Close lets it finish and record its outcome, for
// StopGrace at most.
func (ob *outbox) attemptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ob.opts.CallTimeout)
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(ob.opts.StopGrace, cancel) })
	return actx, func() { stop(); cancel() }
}

// conclude records an attempt's outcome. A ticket that was made is recorded
// whatever happened meanwhile: it exists. A failure is recorded only by the
// lease's holder.
func (ob *outbox) conclude(ctx context.Context, consumer, convID, mid string, h *handoff, ver string, res TicketResult, sendErr error, sent bool) (bool, error) {
	s := ob.svc
	rctx, cancel := detached(ctx, 5*time.Second)
	defer cancel()
	cur := h
	for range 5 {
		now := s.now()
		next := *cur
		next.Lease, next.LeaseUntil, next.Inflight, next.Held = "", 0, false, false
		next.Updated = now.UnixMilli()
		var due int64
		dead, held := false, false
		if sendErr == nil {
			if cur.State == TicketCreated {
				if cur.TicketID != res.ID {
					s.log.Error("outbox: the helpdesk has two tickets for one conversation",
						"conversation", convID, "kept", cur.TicketID, "other", res.ID)
				}
				return true, nil
			}
			next.State, next.Error = TicketCreated, ""
			next.TicketID, next.TicketURL, next.APIURL, next.DoneAt = res.ID, res.URL, res.APIURL, now.UnixMilli()
		} else {
			if cur.State != TicketPending || cur.Lease != consumer {
				return true, nil // no longer ours to record
			}
			te := &TicketError{}
			errors.As(sendErr, &te)
			next.Error = te.Reason
			if te.MayExist {
				next.Maybe, next.MaybeGen = true, cur.Gen
			}
			switch {
			case te.Hold:
				// Waiting for an admin is not an attempt that failed: it
				// counts toward no dead letter, and shows as no attempt
				// when nothing was sent.
				held, next.Held = true, true
				next.Tries = max(cur.Tries-1, 0)
				if !sent {
					next.Total = max(cur.Total-1, 0)
				}
				next.NextAt = now.Add(ob.opts.HoldRecheck).UnixMilli()
				due = next.NextAt
				// Into the held set before the record says so: a
				// reconnection in between still finds it.
				if err := s.rdb.ZAdd(rctx, s.keys.heldHandoffs(mid, h.Provider), zmember(float64(now.UnixMilli()), dueMember(convID, h.ID))).Err(); err != nil {
					return false, err
				}
			case te.Permanent:
				dead = true
			case next.Tries >= ob.opts.MaxAttempts:
				dead = true
				next.Error = fmt.Sprintf("gave up after %d attempts: %s", next.Tries, te.Reason)
			default:
				next.NextAt = now.Add(ob.delay(next.Tries, te.RetryAfter)).UnixMilli() + 1
				due = next.NextAt
			}
			if dead {
				next.State = TicketFailed
				// Into the dead-letter index before the record says so.
				if err := s.rdb.ZAdd(rctx, s.keys.failedHandoffs(mid), zmember(float64(now.UnixMilli()), convID)).Err(); err != nil {
					return false, err
				}
			}
		}
		_, err := s.casHandoff(rctx, convID, mid, ver, &next)
		switch {
		case errors.Is(err, errConflict):
			c, v, _, rerr := s.readHandoff(rctx, convID)
			if rerr != nil {
				return false, rerr
			}
			if c == nil || c.ID != h.ID {
				return true, nil
			}
			cur, ver = c, v
			continue
		case errors.Is(err, errNoHandoff):
			return true, nil
		case err != nil:
			return false, err
		}
		if due > 0 {
			if err := ob.scheduleAt(rctx, convID, h.ID, due); err != nil {
				return false, err
			}
		}
		if due == 0 {
			// Settled: its recovery entry has nothing left to recover.
			_ = s.rdb.ZRem(rctx, s.keys.outboxDue(), dueMember(convID, h.ID)).Err()
		}
		if next.State == TicketCreated {
			_ = s.rdb.ZRem(rctx, s.keys.failedHandoffs(mid), convID).Err()
			s.emitTicketed(rctx, mid, convID)
		}
		if cur.Held && !held {
			_ = s.rdb.ZRem(rctx, s.keys.heldHandoffs(mid, h.Provider), dueMember(convID, h.ID)).Err()
		}
		s.logOutcome(convID, &next, sendErr)
		return true, nil
	}
	return false, nil
}

func (s *Service) logOutcome(convID string, h *handoff, err error) {
	log := s.log.With("conversation", convID, "provider", h.Provider, "attempt", h.Total)
	switch h.State {
	case TicketCreated:
		s.obs.OutboxAttempt(h.Provider, AttemptDone)
		log.Info("helpdesk ticket made", "ticket", h.TicketID)
	case TicketFailed:
		s.obs.OutboxAttempt(h.Provider, AttemptDead)
		s.obs.DeadLetter(OutboxHelpdesk)
		log.Warn("helpdesk handoff failed; an admin may retry it", "reason", h.Error)
	default:
		if h.Held {
			s.obs.OutboxAttempt(h.Provider, AttemptHeld)
			log.Info("helpdesk handoff waits for the integration to be reconnected", "reason", h.Error)
			return
		}
		s.obs.OutboxAttempt(h.Provider, AttemptRetry)
		log.Info("helpdesk attempt failed; will retry", "reason", h.Error,
			"next_attempt", time.UnixMilli(h.NextAt).UTC().Format(TimeFormat), "err", err)
	}
}

// delay is the backoff before attempt n+1: RetryBase·2^(n-1) capped at
// RetryMax, with "equal jitter" (half fixed, half random) so nodes that
// failed together do not retry together; never sooner than the helpdesk's
// Retry-After.
func (ob *outbox) delay(n int, retryAfter time.Duration) time.Duration {
	d := ob.opts.RetryBase
	for i := 1; i < n && d < ob.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, ob.opts.RetryMax)
	d = d/2 + rand.N(d/2+1)
	return max(d, retryAfter)
}

// detached returns a context that outlives ctx's cancellation, for writes
// that record what already happened.
func detached(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}
