package session

import (
	"context"
	"time"
)

// TicketSender turns a handoff into a ticket in the merchant's helpdesk. It
// is the one thing the outbox needs from the outside world; package
// gateway/helpdesk implements it over HTTP and cmd/baton wires it in.
//
// An error that is not a *TicketError is treated as a retryable failure
// after which the ticket may exist.
type TicketSender interface {
	SendTicket(ctx context.Context, r TicketRequest) (TicketResult, error)
}

// TicketRequest is everything a helpdesk ticket is made from. It is frozen
// when the conversation is handed off, so every retry sends the same body:
// Zendesk refuses an idempotency key reused with different parameters.
type TicketRequest struct {
	Provider HandoffMethod
	Account  HelpdeskAccount
	// ConversationID is Baton's conversation; ExternalID names the ticket in
	// the helpdesk and never changes for a conversation.
	ConversationID string
	ExternalID     string
	// IdempotencyKey is derived from the outbox entry and its generation (an
	// admin's retry of a dead letter starts a new generation).
	IdempotencyKey string
	// MayExist: an earlier attempt may have made the ticket (it timed out,
	// the connection dropped, the helpdesk answered 5xx, or its worker died).
	// The sender must then make sure it does not make a second one.
	MayExist bool
	// KeySince is when an attempt that may have made the ticket first used
	// IdempotencyKey; zero when no such attempt used this key. A helpdesk
	// that forgets keys after a while cannot be trusted past that.
	KeySince time.Time

	Visitor TicketVisitor
	Reason  string // a handoff reason: visitor_asked, unsure, model_handoff, model_error
	// ReasonDetail is the model's own words for a model_handoff; Summary
	// tells the person taking over what the visitor wants and what the
	// assistant already said.
	ReasonDetail string
	Summary      string
	HandedOffAt  time.Time
	// Location is the merchant's zone: every line shows its time there and
	// in UTC.
	Location *time.Location
	Words    TicketWords
	// Transcript is the whole conversation in seq order.
	Transcript []Message
}

// TicketVisitor is who the ticket is from.
type TicketVisitor struct {
	Email     string
	ProfileID string
	Page      string
}

// TicketResult is the ticket a helpdesk made (or already had).
type TicketResult struct {
	ID     string
	URL    string // for people: the ticket in the helpdesk's agent interface
	APIURL string // the helpdesk's own address of the ticket, when it gave one
	// Existing: the ticket was found (by external id or an idempotent
	// replay) rather than made by this call.
	Existing bool
}

// TicketError says how an attempt failed, so the outbox can decide between
// retrying, waiting and giving up.
type TicketError struct {
	// Permanent: the same request cannot succeed (4xx other than 408, 409,
	// 429); the handoff becomes a dead letter an admin can retry.
	Permanent bool
	// MayExist: the helpdesk may have made the ticket anyway.
	MayExist bool
	// RetryAfter is how long the helpdesk asked us to wait (429, 503).
	RetryAfter time.Duration
	// Unauthorized: the helpdesk did not accept the credentials (401). The
	// outbox renews an OAuth token and tries once more; past that, the
	// integration needs reconnecting and its handoffs wait for it.
	Unauthorized bool
	// Hold: the integration's credentials need an admin (reconnect); the
	// handoff waits in the outbox, neither attempted nor failed, until
	// they are replaced. Set by the outbox, not by senders.
	Hold   bool
	Status int    // HTTP status; 0 when there was no answer
	Reason string // what went wrong, for admins
}

func (e *TicketError) Error() string { return e.Reason }

// Ticket states, as agents and admins see them.
const (
	TicketPending = "pending" // waiting for its first attempt or a retry
	TicketCreated = "created" // the helpdesk has it
	TicketFailed  = "failed"  // a dead letter: an admin may retry it
)

// HelpdeskHandoff is a helpdesk handoff as admins see it. Its id is the
// conversation's: a conversation is handed to a helpdesk at most once.
type HelpdeskHandoff struct {
	ID             string        `json:"id"`
	ConversationID string        `json:"conversation_id"`
	Provider       HandoffMethod `json:"provider"`
	State          string        `json:"state"`
	Email          string        `json:"email"`
	ProfileID      NullString    `json:"profile_id"`
	Reason         string        `json:"reason,omitempty"`
	Attempts       int           `json:"attempts"`
	Error          string        `json:"error,omitempty"`
	NextAttemptAt  Time          `json:"next_attempt_at"`
	Ticket         *Ticket       `json:"ticket"`
	CreatedAt      Time          `json:"created_at"`
	UpdatedAt      Time          `json:"updated_at"`
}
