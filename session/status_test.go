package session_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// allEvents is every event of the state machine, written out so that a new
// event added to the code without a test row makes TestStatusNextCoversEveryPair
// fail.
var allEvents = []session.Event{
	session.EventOffer, session.EventDecline, session.EventAskEmail, session.EventQueue,
	session.EventTicket, session.EventClaim, session.EventRelease, session.EventClose,
}

// step is the expected outcome of one event from one status.
type step struct {
	to      session.Status
	allowed bool
}

// expectedTransitions is the contract's lifecycle, written out by hand for
// every (status, event) pair:
//
//	assistant → handoff_offered → (awaiting_email) → queued → assigned → closed;
//	ticketed (handed to a helpdesk; the chat ends) → closed.
//	Declining the offer returns to assistant.
//
// A refused event leaves the status as it was.
func expectedTransitions() map[session.Status]map[session.Event]step {
	const (
		A  = session.StatusAssistant
		HO = session.StatusHandoffOffered
		AE = session.StatusAwaitingEmail
		Q  = session.StatusQueued
		AS = session.StatusAssigned
		T  = session.StatusTicketed
		C  = session.StatusClosed
	)
	ok := func(to session.Status) step { return step{to: to, allowed: true} }
	no := func(stay session.Status) step { return step{to: stay, allowed: false} }
	return map[session.Status]map[session.Event]step{
		A: {
			session.EventOffer:    ok(HO),
			session.EventDecline:  no(A),
			session.EventAskEmail: no(A),
			session.EventQueue:    no(A),
			session.EventTicket:   no(A),
			session.EventClaim:    no(A),
			session.EventRelease:  no(A),
			session.EventClose:    ok(C),
		},
		HO: {
			session.EventOffer:    no(HO),
			session.EventDecline:  ok(A),
			session.EventAskEmail: ok(AE),
			session.EventQueue:    ok(Q),
			session.EventTicket:   ok(T),
			session.EventClaim:    no(HO),
			session.EventRelease:  no(HO),
			session.EventClose:    ok(C),
		},
		AE: {
			session.EventOffer:    no(AE),
			session.EventDecline:  no(AE),
			session.EventAskEmail: no(AE),
			session.EventQueue:    ok(Q),
			session.EventTicket:   ok(T),
			session.EventClaim:    no(AE),
			session.EventRelease:  no(AE),
			session.EventClose:    ok(C),
		},
		Q: {
			session.EventOffer:    no(Q),
			session.EventDecline:  no(Q),
			session.EventAskEmail: no(Q),
			session.EventQueue:    no(Q),
			session.EventTicket:   no(Q),
			session.EventClaim:    ok(AS),
			session.EventRelease:  no(Q),
			session.EventClose:    ok(C),
		},
		AS: {
			session.EventOffer:    no(AS),
			session.EventDecline:  no(AS),
			session.EventAskEmail: no(AS),
			session.EventQueue:    no(AS),
			session.EventTicket:   no(AS),
			session.EventClaim:    no(AS),
			session.EventRelease:  ok(Q),
			session.EventClose:    ok(C),
		},
		T: {
			session.EventOffer:    no(T),
			session.EventDecline:  no(T),
			session.EventAskEmail: no(T),
			session.EventQueue:    no(T),
			session.EventTicket:   no(T),
			session.EventClaim:    no(T),
			session.EventRelease:  no(T),
			session.EventClose:    ok(C),
		},
		C: {
			session.EventOffer:    no(C),
			session.EventDecline:  no(C),
			session.EventAskEmail: no(C),
			session.EventQueue:    no(C),
			session.EventTicket:   no(C),
			session.EventClaim:    no(C),
			session.EventRelease:  no(C),
			session.EventClose:    no(C),
		},
	}
}

func TestStatusAllIsTheContractLifecycle(t *testing.T) {
	require.Equal(t, []session.Status{
		"assistant", "handoff_offered", "awaiting_email", "queued", "assigned", "ticketed", "closed",
	}, session.AllStatuses())
}

func TestStatusNextCoversEveryPair(t *testing.T) {
	want := expectedTransitions()
	require.Len(t, want, len(session.AllStatuses()), "expected table must have a row per status")
	for _, s := range session.AllStatuses() {
		row, ok := want[s]
		require.True(t, ok, "no expected row for status %q", s)
		require.Len(t, row, len(allEvents), "row %q must list every event", s)
		for _, ev := range allEvents {
			exp, ok := row[ev]
			require.True(t, ok, "no expected cell for (%q, %q)", s, ev)
			t.Run(string(s)+"/"+string(ev), func(t *testing.T) {
				got, allowed := session.Next(s, ev)
				require.Equal(t, exp.allowed, allowed, "allowed(%q, %q)", s, ev)
				require.Equal(t, exp.to, got, "Next(%q, %q)", s, ev)
			})
		}
	}
}

func TestStatusNextUnknownInputs(t *testing.T) {
	// An event the machine does not know is refused and changes nothing.
	got, ok := session.Next(session.StatusAssistant, session.Event("explode"))
	require.False(t, ok)
	require.Equal(t, session.StatusAssistant, got)

	got, ok = session.Next(session.StatusQueued, session.Event(""))
	require.False(t, ok)
	require.Equal(t, session.StatusQueued, got)

	// A status outside the contract can go nowhere, not even to closed.
	for _, ev := range allEvents {
		got, ok := session.Next(session.Status("bogus"), ev)
		require.False(t, ok, "event %q from an unknown status", ev)
		require.Equal(t, session.Status("bogus"), got)
	}
}

func TestStatusNextLifecyclePaths(t *testing.T) {
	// Walk the lifecycle as the contract draws it, event by event.
	paths := []struct {
		name   string
		events []session.Event
		final  session.Status
	}{
		{"inbox with email known", []session.Event{session.EventOffer, session.EventQueue, session.EventClaim, session.EventClose}, session.StatusClosed},
		{"inbox anonymous", []session.Event{session.EventOffer, session.EventAskEmail, session.EventQueue, session.EventClaim, session.EventRelease, session.EventClaim, session.EventClose}, session.StatusClosed},
		{"helpdesk", []session.Event{session.EventOffer, session.EventAskEmail, session.EventTicket, session.EventClose}, session.StatusClosed},
		{"declined then offered again", []session.Event{session.EventOffer, session.EventDecline, session.EventOffer, session.EventTicket}, session.StatusTicketed},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			s := session.StatusAssistant
			for _, ev := range p.events {
				next, ok := session.Next(s, ev)
				require.True(t, ok, "%q from %q", ev, s)
				s = next
			}
			require.Equal(t, p.final, s)
		})
	}
}

func TestStatusValid(t *testing.T) {
	cases := []struct {
		s    session.Status
		want bool
	}{
		{"assistant", true},
		{"handoff_offered", true},
		{"awaiting_email", true},
		{"queued", true},
		{"assigned", true},
		{"ticketed", true},
		{"closed", true},
		{"", false},
		{"Assistant", false},
		{"QUEUED", false},
		{" queued", false},
		{"open", false},
		{"handoff-offered", false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, c.s.Valid(), "Valid(%q)", c.s)
	}
}

func TestStatusTerminal(t *testing.T) {
	want := map[session.Status]bool{
		session.StatusAssistant:      false,
		session.StatusHandoffOffered: false,
		session.StatusAwaitingEmail:  false,
		session.StatusQueued:         false,
		session.StatusAssigned:       false,
		session.StatusTicketed:       true,
		session.StatusClosed:         true,
	}
	for _, s := range session.AllStatuses() {
		exp, ok := want[s]
		require.True(t, ok, "no expectation for %q", s)
		require.Equal(t, exp, s.Terminal(), "Terminal(%q)", s)
	}
	require.False(t, session.Status("bogus").Terminal())
}
