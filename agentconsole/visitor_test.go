package agentconsole_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// visitor is a widget's side of one conversation, driven through the core
// as the visitor socket drives it: each step with the socket's Turn, which
// is then read back from the store the way the socket learns the new status
// from its feed.
type visitor struct {
	e     *env
	m     *session.Merchant
	id    string
	token string
	turn  session.Turn
}

// visitor starts a conversation at s, as a hello does (nothing is stored
// until the first step).
func (e *env) visitor(s shop) *visitor {
	e.t.Helper()
	m, err := e.svc.Merchant(e.ctx, s.m.ID)
	require.NoError(e.t, err)
	conv, token, err := e.svc.StartConversation(e.ctx, m, session.VisitorInfo{Locale: "en"})
	require.NoError(e.t, err)
	return &visitor{e: e, m: m, id: conv.ID, token: token, turn: conv.Turn()}
}

// step runs one visitor operation and refreshes the turn.
func (v *visitor) step(op func(session.Turn) error) error {
	err := op(v.turn)
	if c, rerr := v.e.svc.ResumeConversation(v.e.ctx, v.m.ID, v.id, v.token); rerr == nil {
		v.turn = c.Turn()
	}
	return err
}

func (v *visitor) status() session.Status { return v.turn.Status }

// say stores a visitor message (and the assistant's reply to it).
func (v *visitor) say(clientID, text string) {
	v.e.t.Helper()
	require.NoError(v.e.t, v.step(func(t session.Turn) error {
		return v.e.svc.VisitorMessage(v.e.ctx, t, clientID, text)
	}))
}

// handoff takes a visitor in status assistant to queued through the button,
// the offer and the email request.
func (v *visitor) handoff(email string) {
	v.e.t.Helper()
	t, svc, ctx := v.e.t, v.e.svc, v.e.ctx
	require.NoError(t, v.step(func(tn session.Turn) error { return svc.RequestHandoff(ctx, tn) }))
	require.Equal(t, session.StatusHandoffOffered, v.status())
	require.NoError(t, v.step(func(tn session.Turn) error { return svc.ReplyToOffer(ctx, tn, true) }))
	require.Equal(t, session.StatusAwaitingEmail, v.status())
	require.NoError(t, v.step(func(tn session.Turn) error { return svc.SubmitEmail(ctx, tn, email) }))
	require.Equal(t, session.StatusQueued, v.status())
}

// close is the visitor closing the chat.
func (v *visitor) close() error {
	return v.step(func(t session.Turn) error { return v.e.svc.CloseByVisitor(v.e.ctx, t) })
}

// typing is the visitor's typing indicator.
func (v *visitor) typing(active bool) {
	v.e.t.Helper()
	require.NoError(v.e.t, v.e.svc.Typing(v.e.ctx, v.id, session.RoleVisitor, active))
}

// view is what the visitor's socket is shown: it follows the conversation
// through the hub from its first entry, as the socket does once the
// conversation is stored.
type view struct {
	t       *testing.T
	entries chan map[string]any
	states  chan session.State
	mu      sync.Mutex
	all     []any // entries, states and typing, in order
}

func (v *visitor) watch() *view {
	v.e.t.Helper()
	require.False(v.e.t, v.turn.Fresh(), "nothing to watch before the conversation's first step")
	w := &view{t: v.e.t, entries: make(chan map[string]any, 4096), states: make(chan session.State, 4096)}
	feed := v.e.svc.Hub().WatchConversation(v.e.ctx, v.id, 0, w)
	v.e.t.Cleanup(feed.Stop)
	return w
}

func (w *view) record(x any) {
	w.mu.Lock()
	w.all = append(w.all, x)
	w.mu.Unlock()
}

func (w *view) Entry(_ string, e session.RawEntry) {
	var m map[string]any
	if err := json.Unmarshal(e.JSON, &m); err != nil {
		w.t.Errorf("an entry that is not JSON: %q", e.JSON)
		return
	}
	w.record(m)
	select {
	case w.entries <- m:
	default:
		w.t.Errorf("view: more entries than the test reads")
	}
}

func (w *view) State(_ string, st session.State) {
	w.record(st)
	select {
	case w.states <- st:
	default:
		w.t.Errorf("view: more states than the test reads")
	}
}

func (w *view) Typing(_ string, role session.Role, active bool) {
	w.record(map[string]any{"type": "typing", "role": role, "active": active})
}

func (w *view) Gone(string) { w.record("gone") }

// ExpectMessage returns the next entry by role, failing after a few seconds.
func (w *view) ExpectMessage(role string) map[string]any {
	w.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-w.entries:
			if m["role"] == role {
				return m
			}
		case <-deadline:
			w.t.Fatalf("no %s message within 5s; seen %s", role, w.seen())
			return nil
		}
	}
}

// expectAgentJoined waits for the state that tells the visitor an agent
// joined (the socket's agent_joined) and returns the agent.
func (w *view) expectAgentJoined() *session.AgentRef {
	w.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case st := <-w.states:
			if st.Status == session.StatusAssigned && st.Agent != nil {
				return st.Agent
			}
		case <-deadline:
			w.t.Fatalf("no agent joined within 5s; seen %s", w.seen())
			return nil
		}
	}
}

// seen renders everything the view got, for "never contains" checks.
func (w *view) seen() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, _ := json.Marshal(w.all)
	return string(b)
}
