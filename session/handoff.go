package session

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// A helpdesk handoff is a durable outbox entry whose truth lives in the
// conversation's own meta hash, in the conversation's hash slot:
//
//   - "hd" is the handoff record (what the ticket is made of, and where the
//     outbox stands: attempts, next attempt, lease, dead letter);
//   - "hd_v" its version, for compare-and-set (scripts/outbox.lua);
//   - "ticket" the public view of it (session.Ticket) that agents and
//     admins see.
//
// The step that marks a conversation ticketed (apply.lua, in route) writes
// all three, so "ticketed" and "an outbox entry exists" are one atomic
// change, on a Redis Cluster too. What lives in other slots is written
// around that step:
//
//   - before it, as supersets that readers check against the record (the
//     queue's pattern, see the package doc): the merchant's handoff index,
//     and a recovery entry in the outbox's retry schedule, due Recover
//     later;
//   - after it, the stream entry that wakes a worker at once.
//
// A crash before the step leaves index entries and a recovery entry for a
// handoff that never happened: readers skip them and the worker drops the
// entry when it comes due. A crash after the step, before the stream entry,
// leaves the recovery entry, so the ticket is made Recover late, never
// lost. The wake-up is not written first because a worker could read it
// before the step and, finding no record, drop it.

// Meta fields of a handoff.
const (
	fHandoffRec = "hd"
	fHandoffVer = "hd_v"
)

// handoff is the outbox record. Times are Unix milliseconds.
type handoff struct {
	ID       string        `json:"id"` // the outbox entry: stream entries name it
	Provider HandoffMethod `json:"provider"`
	Email    string        `json:"email"`
	Profile  string        `json:"profile,omitempty"`
	Page     string        `json:"page,omitempty"`
	Reason   string        `json:"reason,omitempty"`
	Detail   string        `json:"detail,omitempty"`  // the model's words for a model_handoff
	Summary  string        `json:"summary,omitempty"` // for the person taking over
	Locale   string        `json:"locale"`            // the merchant's: the team reads the ticket
	Zone     string        `json:"zone"`              // the merchant's, at handoff time
	At       int64         `json:"at"`

	State   string `json:"state"`
	Gen     int    `json:"gen"`     // bumped by an admin's retry: a new idempotency key
	Tries   int    `json:"tries"`   // attempts in this generation: the backoff
	Total   int    `json:"total"`   // attempts in all
	NextAt  int64  `json:"next_at"` // not before
	KeyAt   int64  `json:"key_at"`  // first attempt under this generation's key
	Error   string `json:"error,omitempty"`
	Updated int64  `json:"updated"`

	// One worker at a time holds the lease; an attempt must end before it
	// runs out, so a worker that finds an expired lease with Inflight set
	// knows that attempt died and may have made the ticket.
	Lease      string `json:"lease,omitempty"`
	LeaseUntil int64  `json:"lease_until,omitempty"`
	Inflight   bool   `json:"inflight,omitempty"`

	// Held: the integration needs reconnecting; the handoff waits (listed
	// in the merchant's held set) and is released when it is connected.
	Held bool `json:"held,omitempty"`

	// Maybe: some attempt may have made the ticket; MaybeGen is the latest
	// generation in which one did.
	Maybe    bool `json:"maybe,omitempty"`
	MaybeGen int  `json:"maybe_gen,omitempty"`

	TicketID  string `json:"ticket_id,omitempty"`
	TicketURL string `json:"ticket_url,omitempty"`
	APIURL    string `json:"api_url,omitempty"`
	DoneAt    int64  `json:"done_at,omitempty"`
}

func (h *handoff) encode() string {
	b, _ := json.Marshal(h)
	return string(b)
}

func decodeHandoff(s string) (*handoff, bool) {
	if s == "" {
		return nil, false
	}
	var h handoff
	if json.Unmarshal([]byte(s), &h) != nil || h.ID == "" {
		return nil, false
	}
	return &h, true
}

// externalID names the conversation's ticket in the helpdesk, the same for
// every attempt and generation, so a ticket can always be found again.
func externalID(convID string) string { return "baton-" + convID }

// idempotencyKey is derived from the outbox entry and its generation.
func (h *handoff) idempotencyKey() string {
	return "baton-" + h.ID + "-" + strconv.Itoa(h.Gen)
}

// ticket is the public view of the record.
func (h *handoff) ticket() Ticket {
	t := Ticket{Provider: string(h.Provider), State: h.State, ID: h.TicketID, URL: h.TicketURL, APIURL: h.APIURL,
		Attempts: h.Total, UpdatedAt: msTime(strconv.FormatInt(h.Updated, 10))}
	if h.State != TicketCreated {
		t.Error = h.Error
	}
	if h.State == TicketPending {
		t.NextAttemptAt = msTime(strconv.FormatInt(h.NextAt, 10))
	}
	return t
}

func (h *handoff) ticketJSON() string {
	b, _ := json.Marshal(h.ticket())
	return string(b)
}

func (h *handoff) view(convID string) *HelpdeskHandoff {
	t := h.ticket()
	out := &HelpdeskHandoff{ID: convID, ConversationID: convID, Provider: h.Provider, State: h.State, Email: h.Email,
		ProfileID: NullString(h.Profile), Reason: h.Reason, Attempts: h.Total, Error: t.Error,
		NextAttemptAt: t.NextAttemptAt, Ticket: &t,
		CreatedAt: msTime(strconv.FormatInt(h.At, 10)), UpdatedAt: t.UpdatedAt}
	return out
}

// routeHelpdesk hands an accepted conversation to Zendesk or Gorgias: one
// atomic step marks it ticketed, tells the visitor a person will reply by
// email, and writes the outbox record; the worker makes the ticket.
func (s *Service) routeHelpdesk(ctx context.Context, m *Merchant, t Turn, c *Conversation, email string) error {
	now := s.now()
	addr := email
	if addr == "" {
		addr = string(c.Visitor.Email)
	}
	h := &handoff{
		ID: newID("h", 10), Provider: m.Settings.Handoff.Method, Email: addr, Profile: string(c.Visitor.ProfileID),
		Page: c.Page, Reason: c.HandoffReason, Detail: c.handoffDetail, Locale: m.Settings.Locale,
		Zone: m.Schedule.Location().String(), At: now.UnixMilli(), State: TicketPending, NextAt: now.UnixMilli(),
		Updated: now.UnixMilli(),
	}

	ms := itoa(now.UnixMilli())
	tx := textsFor(t.Locale)
	due := dueMember(c.ID, h.ID)
	op := applyOp{
		convID: c.ID, merchant: m.ID, on: EventTicket, now: now, state: State{Reason: "ticketed"},
		once: []string{fRouted},
		// A base entry (the step and its conditional part run in the same
		// statuses, so it is written exactly when the step runs) is
		// published before the new status: the visitor reads the promise
		// of an email before the chat is closed.
		base: []entryTail{s.systemEntry(fmtText(tx.Ticketed, addr), now)},
		// The recovery entry and the merchant's index first (see the top
		// of this file): a worker or reader that finds no matching record
		// drops them. The wake-up after.
		enter: []indexEdit{
			{kind: editZAdd, key: s.keys.outboxDue(), member: due, score: float64(now.Add(s.outboxOpts.Recover).UnixMilli())},
			{kind: editZAdd, key: s.keys.handoffs(m.ID), member: c.ID, score: float64(now.UnixMilli()),
				held: func(*applyResult) bool { return true }}, // readers check it against the record
			{kind: editTrim, key: s.keys.handoffs(m.ID), keep: maxHandoffIndex},
		},
		after: []indexEdit{{kind: editXAdd, key: s.keys.outbox(), values: []string{"c", c.ID, "h", h.ID}}},
	}
	// The round trip that writes the recovery entry also reads the
	// transcript, for the ticket's summary; the record is frozen with it.
	op.prepare = func(ctx context.Context, pipe redis.Pipeliner) func(*applyOp) {
		transcript := pipe.LRange(ctx, s.keys.convLog(c.ID), 0, -1)
		return func(op *applyOp) {
			h.Summary = extractiveSummary(decodeAll(transcript.Val()), m.Settings.Locale)
			op.fields = []string{fPrompt, "", fHandoffRec, h.encode(), fHandoffVer, "1", fTicket, h.ticketJSON(),
				fClosedReason, "ticketed", fClosedAt, ms, fSummary, h.Summary, fHandedAt, ms}
			if email != "" {
				op.fields = append(op.fields, fEmail, email)
			}
		}
	}
	res, err := s.apply(ctx, op)
	if err != nil {
		return err
	}
	if err := s.refusal(res); err != nil {
		return err
	}
	if len(res.once) > 0 && res.once[0] {
		s.countRouted(ctx, m.ID, res.day, res.meta[fHandoff])
		s.obs.Handoff(h.Provider, HandoffTicketed, handoffReason(res.meta[fHandoff]))
	}
	return nil
}

// maxHandoffIndex bounds the merchant's index of recent handoffs; dead
// letters stay in their own index until retried.
const maxHandoffIndex = 5000

// readHandoff loads a conversation's handoff record, its version and its
// merchant.
func (s *Service) readHandoff(ctx context.Context, convID string) (h *handoff, version, merchantID string, err error) {
	vals, err := s.rdb.HMGet(ctx, s.keys.convMeta(convID), fHandoffRec, fHandoffVer, fMerchant).Result()
	if err != nil {
		return nil, "", "", err
	}
	str := func(i int) string { v, _ := vals[i].(string); return v }
	h, ok := decodeHandoff(str(0))
	if !ok {
		return nil, "", str(2), nil
	}
	return h, str(1), str(2), nil
}
