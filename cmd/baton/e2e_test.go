package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func knowledge() map[string]any {
	return map[string]any{"entries": []map[string]string{
		{"question": "How long does shipping take?", "answer": "Shipping takes 2 working days."},
		{"question": "How do I return an item?", "answer": "Returns are free within 30 days."},
	}}
}

// TestHandoffToAgentOnSameSocket walks the whole spine: the assistant
// answers, the visitor asks for a person, confirms, gives an email, waits in
// the queue, an agent claims and the two talk live on the visitor's same
// socket; the visitor drops, resumes and misses nothing.
func TestHandoffToAgentOnSameSocket(t *testing.T) {
	e := newEnv(t)
	spineFlow(t, e, e)
}

// TestSpineAcrossNodes: the visitor on one node, the agent on another, the
// visitor resuming on the agent's.
func TestSpineAcrossNodes(t *testing.T) {
	ns := nodes(t, 2)
	spineFlow(t, ns[0], ns[1])
}

// spineFlow runs the spine with the visitor starting on e and the agent (and
// the visitor's resume) on a.
func spineFlow(t *testing.T, e, a *env) {
	s := e.shop("Spine Shop")
	code, _ := e.do("PUT", "/v1/admin/knowledge", s.adminToken, knowledge())
	require.Equal(t, 200, code)
	agentToken := e.addAgent(s, "anna@spine.example", "Anna")
	console := a.console(agentToken)
	console.Expect("queue")

	v := e.visitor(s.m.WidgetKey)
	v.Send(map[string]any{"type": "hello", "locale": "en"})
	w := v.Expect("welcome")
	convID := w["conversation_id"].(string)
	token := w["resume_token"].(string)
	require.NotEmpty(t, convID)
	require.NotEmpty(t, token)
	require.Equal(t, "assistant", w["status"])
	require.EqualValues(t, 0, num(w["last_seq"]))
	require.Contains(t, w, "office")

	// The assistant answers from the knowledge, quoting the entry.
	v.Send(map[string]any{"type": "message", "client_id": "c1", "text": "how long does shipping take?"})
	echo := v.ExpectMessage("visitor")
	require.EqualValues(t, 1, num(echo["seq"]))
	require.Equal(t, "c1", echo["client_id"])
	ans := v.ExpectMessage("assistant")
	require.EqualValues(t, 2, num(ans["seq"]))
	require.Contains(t, ans["text"], "Shipping takes 2 working days.")

	// The same client_id again is stored once: no new entry.
	v.Send(map[string]any{"type": "message", "client_id": "c1", "text": "how long does shipping take?"})
	v.Quiet(300*time.Millisecond, func(f map[string]any) bool { return f["type"] == "message" })

	// Asking for a person: offer, accept, email (bad, then good), queued.
	v.Send(map[string]any{"type": "message", "client_id": "c2", "text": "I want to talk to a human please"})
	require.EqualValues(t, 3, num(v.ExpectMessage("visitor")["seq"]))
	require.Equal(t, "handoff_offered", v.Expect("status")["status"])
	require.NotEmpty(t, v.Expect("handoff_offer")["text"])
	v.Send(map[string]any{"type": "handoff_reply", "accept": true})
	require.Equal(t, "awaiting_email", v.Expect("status")["status"])
	require.NotEmpty(t, v.Expect("email_request")["text"])
	v.Send(map[string]any{"type": "email", "email": "not an address"})
	v.ExpectError("invalid_email")
	v.Send(map[string]any{"type": "email", "email": "visitor@example.com"})
	st := v.Expect("status")
	require.Equal(t, "queued", st["status"])
	require.EqualValues(t, 1, num(st["queue_position"]))
	sys := v.ExpectMessage("system")
	require.Contains(t, sys["text"], "Someone will join") // an agent is available

	// Every available agent's console hears of it at once.
	q := console.Next("queue with the conversation", func(f map[string]any) bool {
		if f["type"] != "queue" {
			return false
		}
		cs, _ := f["conversations"].([]any)
		return len(cs) == 1 && cs[0].(map[string]any)["id"] == convID
	})
	entry := q["conversations"].([]any)[0].(map[string]any)
	require.Equal(t, "visitor@example.com", entry["visitor"].(map[string]any)["email"])

	// The agent claims; the visitor's same socket learns of it.
	code, body := a.do("POST", "/v1/agent/conversations/"+convID+"/claim", agentToken, nil)
	require.Equal(t, 200, code, "%v", body)
	require.Equal(t, "assigned", body["conversation"].(map[string]any)["status"])
	require.Equal(t, "assigned", v.Expect("status")["status"])
	joined := v.Expect("agent_joined")
	require.Equal(t, "Anna", joined["agent"].(map[string]any)["name"])
	v.ExpectMessage("system")

	// Live both ways, with typing. The first message also shows the console
	// follows the conversation; typing, best effort, comes after.
	console.Send(map[string]any{"type": "message", "conversation_id": convID, "client_id": "a1", "text": "Hi, Anna here."})
	am := v.ExpectMessage("agent")
	require.Equal(t, "Hi, Anna here.", am["text"])
	require.Equal(t, "Anna", am["author"])
	own := console.ExpectMessage("agent")
	require.Equal(t, convID, own["conversation_id"])
	require.Equal(t, "a1", own["message"].(map[string]any)["client_id"])
	console.Send(map[string]any{"type": "typing", "conversation_id": convID, "active": true})
	ty := v.Expect("typing")
	require.Equal(t, "agent", ty["role"])
	require.Equal(t, true, ty["active"])

	v.Send(map[string]any{"type": "typing", "active": true})
	cty := console.Expect("typing")
	require.Equal(t, convID, cty["conversation_id"])
	require.Equal(t, "visitor", cty["role"])
	v.Send(map[string]any{"type": "message", "client_id": "c3", "text": "Thanks Anna"})
	vm := console.ExpectMessage("visitor")
	require.Equal(t, "Thanks Anna", vm["message"].(map[string]any)["text"])
	lastSeen := num(v.ExpectMessage("visitor")["seq"])

	// The visitor drops; the agent writes twice meanwhile; the visitor
	// resumes and gets exactly those, in order.
	require.NoError(t, v.Conn.Close())
	for i := 1; i <= 2; i++ {
		code, body = a.do("POST", "/v1/agent/conversations/"+convID+"/messages", agentToken,
			map[string]string{"client_id": fmt.Sprintf("r%d", i), "text": fmt.Sprintf("while you were away %d", i)})
		require.Equal(t, 201, code, "%v", body)
	}
	v2 := a.visitor(s.m.WidgetKey)
	v2.Send(map[string]any{"type": "hello", "conversation_id": convID, "resume_token": token, "last_seq": lastSeen})
	w2 := v2.Expect("welcome")
	require.Equal(t, convID, w2["conversation_id"])
	require.Equal(t, "assigned", w2["status"])
	require.Equal(t, lastSeen+2, num(w2["last_seq"]))
	r1 := v2.Expect("message")
	r2 := v2.Expect("message")
	require.Equal(t, lastSeen+1, num(r1["seq"]))
	require.Equal(t, "while you were away 1", r1["text"])
	require.Equal(t, lastSeen+2, num(r2["seq"]))
	require.Equal(t, "Anna", v2.Expect("agent_joined")["agent"].(map[string]any)["name"])

	// The transcript over REST holds everything once, in seq order.
	code, body = a.do("GET", "/v1/agent/conversations/"+convID, agentToken, nil)
	require.Equal(t, 200, code)
	msgs := body["messages"].([]any)
	require.Len(t, msgs, int(lastSeen+2))
	for i, m := range msgs {
		require.EqualValues(t, i+1, num(m.(map[string]any)["seq"]))
	}
	roles := []string{}
	for _, m := range msgs {
		roles = append(roles, m.(map[string]any)["role"].(string))
	}
	require.Equal(t, "visitor,assistant,visitor,system,system,agent,visitor,agent,agent", strings.Join(roles, ","))

	// The agent closes; the visitor is told.
	code, _ = a.do("POST", "/v1/agent/conversations/"+convID+"/close", agentToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "agent_closed", v2.Expect("closed")["reason"])
	v2.Send(map[string]any{"type": "message", "client_id": "c9", "text": "still there?"})
	v2.ExpectError("conversation_closed")
}

// TestManyAgentsClaimOneConversation: of many agents claiming at once,
// exactly one wins and the rest get 409.
func TestManyAgentsClaimOneConversation(t *testing.T) {
	claimRace(t, newEnv(t))
}

func claimRace(t *testing.T, e *env) {
	s := e.shop("Claim Shop")
	tokens := make([]string, 12)
	for i := range tokens {
		tokens[i] = e.addAgent(s, fmt.Sprintf("agent%d@claim.example", i), fmt.Sprintf("Agent %d", i))
	}
	for round := 0; round < 5; round++ {
		v := e.visitor(s.m.WidgetKey)
		v.Send(map[string]any{"type": "hello"})
		convID := v.Expect("welcome")["conversation_id"].(string)
		v.Send(map[string]any{"type": "handoff_request"})
		v.Expect("handoff_offer")
		v.Send(map[string]any{"type": "handoff_reply", "accept": true})
		v.Expect("email_request")
		v.Send(map[string]any{"type": "email", "email": "race@example.com"})
		require.Equal(t, "queued", v.Expect("status")["status"])

		var wg sync.WaitGroup
		codes := make([]int, len(tokens))
		start := make(chan struct{})
		for i, tok := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				codes[i], _ = e.do("POST", "/v1/agent/conversations/"+convID+"/claim", tok, nil)
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, c := range codes {
			require.Contains(t, []int{200, 409}, c)
			if c == 200 {
				wins++
			}
		}
		require.Equal(t, 1, wins, "codes %v", codes)
		require.Equal(t, "assigned", v.Expect("status")["status"])
		v.Expect("agent_joined")
		v.Quiet(200*time.Millisecond, func(f map[string]any) bool { return f["type"] == "agent_joined" })
	}
}
