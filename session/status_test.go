package session_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// expectedEvents is the contract's lifecycle, written out by hand, one row
// per event: the statuses it may happen in and where it leads ("" stays).
//
//	assistant → handoff_offered → (awaiting_email) → queued → assigned → closed;
//	ticketed (handed to a helpdesk; the chat ends) → closed.
//	Declining the offer returns to assistant.
//
// A new event in the code without a row here fails TestStatusEventsHaveRows.
func expectedEvents() []struct {
	ev   session.Event
	from []session.Status
	to   session.Status
} {
	const (
		A  = session.StatusAssistant
		HO = session.StatusHandoffOffered
		AE = session.StatusAwaitingEmail
		Q  = session.StatusQueued
		AS = session.StatusAssigned
		T  = session.StatusTicketed
		C  = session.StatusClosed
	)
	live := []session.Status{A, HO, AE, Q, AS}
	return []struct {
		ev   session.Event
		from []session.Status
		to   session.Status
	}{
		{session.EventWrite, live, ""},
		{session.EventIdentify, live, ""},
		{session.EventAnswer, []session.Status{A}, ""},
		{session.EventAgentWrite, []session.Status{AS}, ""},
		{session.EventOffer, []session.Status{A}, HO},
		{session.EventLapse, []session.Status{HO}, A},
		{session.EventDecline, []session.Status{HO}, A},
		{session.EventAskEmail, []session.Status{HO}, AE},
		{session.EventQueue, []session.Status{HO, AE}, Q},
		{session.EventTicket, []session.Status{HO, AE}, T},
		{session.EventClaim, []session.Status{Q}, AS},
		{session.EventRelease, []session.Status{AS}, Q},
		{session.EventClose, []session.Status{A, HO, AE, Q, AS, T}, C},
	}
}

// allEvents is every event the expected rows name.
var allEvents = func() []session.Event {
	var out []session.Event
	for _, r := range expectedEvents() {
		out = append(out, r.ev)
	}
	return out
}()

func TestStatusEventsHaveRows(t *testing.T) {
	require.ElementsMatch(t, allEvents, session.Events(), "every event of the code has an expected row, and no more")
}

func TestStatusAllIsTheContractLifecycle(t *testing.T) {
	require.Equal(t, []session.Status{
		"assistant", "handoff_offered", "awaiting_email", "queued", "assigned", "ticketed", "closed",
	}, session.AllStatuses())
}

func TestStatusNextCoversEveryPair(t *testing.T) {
	for _, r := range expectedEvents() {
		for _, s := range session.AllStatuses() {
			allowed := false
			for _, f := range r.from {
				allowed = allowed || f == s
			}
			want := s
			if allowed && r.to != "" {
				want = r.to
			}
			t.Run(string(s)+"/"+string(r.ev), func(t *testing.T) {
				got, ok := session.Next(s, r.ev)
				require.Equal(t, allowed, ok, "allowed(%q, %q)", s, r.ev)
				require.Equal(t, want, got, "Next(%q, %q)", s, r.ev)
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
