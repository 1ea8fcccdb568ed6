package session

import "strings"

// Status is where a conversation stands. The values are part of the public
// contract.
type Status string

const (
	StatusAssistant      Status = "assistant"
	StatusHandoffOffered Status = "handoff_offered"
	StatusAwaitingEmail  Status = "awaiting_email"
	StatusQueued         Status = "queued"
	StatusAssigned       Status = "assigned"
	StatusTicketed       Status = "ticketed"
	StatusClosed         Status = "closed"
)

// AllStatuses lists every status in lifecycle order.
func AllStatuses() []Status {
	return []Status{StatusAssistant, StatusHandoffOffered, StatusAwaitingEmail,
		StatusQueued, StatusAssigned, StatusTicketed, StatusClosed}
}

// Valid reports whether s is one of the contract's statuses.
func (s Status) Valid() bool {
	for _, v := range AllStatuses() {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether the chat has ended: nothing more can be said in it.
func (s Status) Terminal() bool { return s == StatusClosed || s == StatusTicketed }

// Event is what moves a conversation from one status to another.
type Event string

const (
	EventOffer    Event = "offer"     // the assistant offers a person
	EventDecline  Event = "decline"   // the visitor says no to the offer
	EventAskEmail Event = "ask_email" // the visitor said yes but we have no address
	EventQueue    Event = "queue"     // into the merchant's inbox queue
	EventTicket   Event = "ticket"    // handed to Zendesk or Gorgias
	EventClaim    Event = "claim"     // a person takes it
	EventRelease  Event = "release"   // the person gives it back to the queue
	EventClose    Event = "close"     // the conversation ends
)

// transitions is the whole state machine: for each event, the statuses it may
// leave from and the status it leads to. Lua scripts receive the "from" set
// from here, so this table is the single place the rules live.
var transitions = map[Event]struct {
	from []Status
	to   Status
}{
	EventOffer:    {from: []Status{StatusAssistant}, to: StatusHandoffOffered},
	EventDecline:  {from: []Status{StatusHandoffOffered}, to: StatusAssistant},
	EventAskEmail: {from: []Status{StatusHandoffOffered}, to: StatusAwaitingEmail},
	EventQueue:    {from: []Status{StatusHandoffOffered, StatusAwaitingEmail}, to: StatusQueued},
	EventTicket:   {from: []Status{StatusHandoffOffered, StatusAwaitingEmail}, to: StatusTicketed},
	EventClaim:    {from: []Status{StatusQueued}, to: StatusAssigned},
	EventRelease:  {from: []Status{StatusAssigned}, to: StatusQueued},
	EventClose: {from: []Status{StatusAssistant, StatusHandoffOffered, StatusAwaitingEmail,
		StatusQueued, StatusAssigned, StatusTicketed}, to: StatusClosed},
}

// Next returns the status that ev leads to from s, and whether ev is allowed
// from s at all.
func Next(s Status, ev Event) (Status, bool) {
	t, ok := transitions[ev]
	if !ok {
		return s, false
	}
	for _, f := range t.from {
		if f == s {
			return t.to, true
		}
	}
	return s, false
}

// statusSet renders statuses as ",a,b," for the Lua scripts' membership test.
func statusSet(ss ...Status) string {
	if len(ss) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte(',')
	for _, s := range ss {
		b.WriteString(string(s))
		b.WriteByte(',')
	}
	return b.String()
}

func fromSet(ev Event) string { return statusSet(transitions[ev].from...) }

// liveStatuses are those in which the visitor may still write.
func liveStatuses() []Status {
	return []Status{StatusAssistant, StatusHandoffOffered, StatusAwaitingEmail, StatusQueued, StatusAssigned}
}
