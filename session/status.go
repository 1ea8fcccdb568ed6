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

// Event is something that happens to a conversation. Most move it from one
// status to another; a few need a status without changing it (the visitor
// writes in any live status, the assistant answers only while it has the
// conversation).
type Event string

const (
	EventWrite      Event = "write"       // the visitor writes
	EventIdentify   Event = "identify"    // the visitor signs in
	EventAnswer     Event = "answer"      // the assistant replies
	EventAgentWrite Event = "agent_write" // the person with the conversation writes
	EventOffer      Event = "offer"       // the assistant offers a person
	EventLapse      Event = "lapse"       // the visitor asks something else instead of answering the offer
	EventDecline    Event = "decline"     // the visitor says no to the offer
	EventAskEmail   Event = "ask_email"   // the visitor said yes but we have no address
	EventQueue      Event = "queue"       // into the merchant's inbox queue
	EventTicket     Event = "ticket"      // handed to Zendesk or Gorgias
	EventClaim      Event = "claim"       // a person takes it
	EventRelease    Event = "release"     // the person gives it back to the queue
	EventClose      Event = "close"       // the conversation ends
)

// rule is one row of the state machine.
type rule struct {
	from []Status // the statuses the event may happen in
	to   Status   // where it leads; "" keeps the status
	// team: the merchant's consoles hear of it (a conversation frame);
	// queue: the merchant's queue changes with it.
	team, queue bool
	// hook is the webhook event it raises, if any.
	hook string
}

// transitions is the whole state machine. Every step on a conversation
// names its events (see applyOp), and the Lua scripts get their status sets
// and targets from here, so this table is the single place the rules live:
// adding a status or an event is a row here and a row in status_test.go.
// Read-only.
var transitions = map[Event]rule{
	EventWrite:      {from: liveStatuses()},
	EventIdentify:   {from: liveStatuses(), team: true},
	EventAnswer:     {from: []Status{StatusAssistant}},
	EventAgentWrite: {from: []Status{StatusAssigned}},
	EventOffer:      {from: []Status{StatusAssistant}, to: StatusHandoffOffered},
	EventLapse:      {from: []Status{StatusHandoffOffered}, to: StatusAssistant},
	EventDecline:    {from: []Status{StatusHandoffOffered}, to: StatusAssistant},
	EventAskEmail:   {from: []Status{StatusHandoffOffered}, to: StatusAwaitingEmail},
	EventQueue:      {from: []Status{StatusHandoffOffered, StatusAwaitingEmail}, to: StatusQueued, team: true, queue: true, hook: HookHandoff},
	EventTicket:     {from: []Status{StatusHandoffOffered, StatusAwaitingEmail}, to: StatusTicketed, team: true, hook: HookHandoff},
	EventClaim:      {from: []Status{StatusQueued}, to: StatusAssigned, team: true, queue: true, hook: HookAssigned},
	EventRelease:    {from: []Status{StatusAssigned}, to: StatusQueued, team: true, queue: true},
	EventClose:      {from: append(liveStatuses(), StatusTicketed), to: StatusClosed, team: true, queue: true, hook: HookClosed},
}

// Events lists every event, in a fixed order.
func Events() []Event {
	return []Event{EventWrite, EventIdentify, EventAnswer, EventAgentWrite, EventOffer, EventLapse, EventDecline,
		EventAskEmail, EventQueue, EventTicket, EventClaim, EventRelease, EventClose}
}

// Next returns the status that ev leads to from s, and whether ev may
// happen in s at all.
func Next(s Status, ev Event) (Status, bool) {
	r, ok := transitions[ev]
	if !ok || !r.allows(s) {
		return s, false
	}
	if r.to == "" {
		return s, true
	}
	return r.to, true
}

func (r rule) allows(s Status) bool {
	for _, f := range r.from {
		if f == s {
			return true
		}
	}
	return false
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

// liveStatuses are those in which the visitor may still write.
func liveStatuses() []Status {
	return []Status{StatusAssistant, StatusHandoffOffered, StatusAwaitingEmail, StatusQueued, StatusAssigned}
}
