package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// recordSocket wraps the page's WebSocket so a test sees which frames came
// and went (by type), and can drop the next queue_delta frames before the
// page sees them (window.__drop), as a lost frame would be.
const recordSocket = `(() => {
  const Native = window.WebSocket;
  window.__in = []; window.__out = []; window.__drop = 0;
  const Wrapped = function (url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    const send = ws.send.bind(ws);
    ws.send = (d) => { try { window.__out.push(JSON.parse(d)); } catch (e) {} return send(d); };
    let handler = null;
    Object.defineProperty(ws, "onmessage", { get() { return handler; }, set(h) { handler = h; } });
    ws.addEventListener("message", (ev) => {
      let type = "";
      try { type = JSON.parse(ev.data).type; } catch (e) {}
      if (type === "queue_delta" && window.__drop > 0) { window.__drop--; window.__in.push("dropped"); return; }
      window.__in.push(type);
      if (handler) handler.call(ws, ev);
    });
    return ws;
  };
  Wrapped.prototype = Native.prototype;
  for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Wrapped[k] = Native[k];
  window.WebSocket = Wrapped;
})();`

// TestBrowserInboxFollowsQueueDeltas: Baton's console opts in to queue
// deltas and its inbox follows them: handoffs appear in order with their
// positions, another agent's claim removes one and the rest move up, and a
// lost delta (a gap in the versions) makes the console ask for the queue
// again (queue_sync) and show it right.
func TestBrowserInboxFollowsQueueDeltas(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Delta Shop")
	e.addAgent(s, "pat@delta.example", "Pat")
	sam := e.addAgent(s, "sam@delta.example", "Sam")

	agent := newPage(t, "agent", recordSocket)
	signIn(agent, e.srv.URL, "pat@delta.example", "agent-password")
	require.True(t, eval[bool](agent, `window.__out.some((f) => f.type === "auth" && f.queue_deltas === true)`),
		"the console asks for deltas when it signs in")

	var ids []string
	queueVisitor := func(email string) string {
		t.Helper()
		v := e.visitor(s.m.WidgetKey)
		id := hello(v)["conversation_id"].(string)
		handoff(v, email)
		return id
	}
	// shows waits until the inbox lists want, in order, numbered #1, #2, …
	shows := func(what string, want ...string) {
		t.Helper()
		var rows []string
		for i, id := range want {
			rows = append(rows, id+" #"+strconv.Itoa(i+1))
		}
		agent.wait(what, `Array.from(document.querySelectorAll("#queue .queue-item")).map((li) => li.dataset.conversation + " " + li.querySelector(".muted").textContent).join(",") === `+jsq(strings.Join(rows, ","))+
			` && document.querySelector("#queue-count").textContent === `+jsq(strconv.Itoa(len(want))))
	}
	for _, who := range []string{"one", "two", "three"} {
		ids = append(ids, queueVisitor(who+"@example.com"))
		shows("the handoffs in the queue", ids...)
	}
	require.True(t, eval[bool](agent, `window.__in.includes("queue_delta")`), "the queue came as deltas")

	code, body := e.do("POST", "/v1/agent/conversations/"+ids[1]+"/claim", sam, nil)
	require.Equal(t, 200, code, "%v", body)
	ids = append(ids[:1], ids[2:]...)
	shows("the claimed one gone, the rest moved up", ids...)

	// A delta lost on the way: the next one shows the gap.
	agent.wait("armed", `(window.__drop = 1) === 1`)
	ids = append(ids, queueVisitor("four@example.com"))
	agent.wait("the delta dropped", `window.__drop === 0`)
	ids = append(ids, queueVisitor("five@example.com"))
	agent.wait("the console to ask for the queue", `window.__out.some((f) => f.type === "queue_sync")`)
	shows("the queue after the gap", ids...)
}
