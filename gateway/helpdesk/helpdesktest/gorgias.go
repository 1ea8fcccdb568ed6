package helpdesktest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batonchat/baton/session"
)

// Gorgias is a fake Gorgias REST API:
//
//   - GET /api/account answers the account for valid credentials, 401
//     otherwise;
//   - POST /api/tickets checks the body: customer.email, channel and via
//     "api", from_agent false, external_id, and messages holding one message
//     with sender.email, channel, via, from_agent, body_text, body_html,
//     created_datetime and sent_datetime. It has no idempotency key: the
//     same request twice makes two tickets, as the real one does;
//   - GET /api/tickets?external_id=X lists that ticket.
//   - GET /api/users/0 answers the key's own user: Role ("admin",
//     "agent", "basic-agent", "lite-agent", "observer-agent"...) and
//     Active.
type Gorgias struct {
	*desk
	domain string
	Role   string
	Active bool
}

// NewGorgias starts a fake Gorgias that accepts email with apiKey.
func NewGorgias(t testing.TB, email, apiKey string) *Gorgias {
	g := &Gorgias{domain: "fakeshop", Role: "admin", Active: true}
	g.desk = newDesk(t, "gorgias", email, apiKey, http.HandlerFunc(g.serve))
	return g
}

// Account is an integration for this fake.
func (g *Gorgias) Account() session.HelpdeskAccount { return g.account(g.domain) }

func (g *Gorgias) serve(w http.ResponseWriter, r *http.Request) {
	_, ok := basicAuth(r, g.email, g.currentSecret())
	unauthorized := func(i int) {
		writeJSON(w, 401, map[string]any{"error": map[string]any{"msg": "Authentication required: the API key or email is wrong"}})
		g.answered(i, 401)
	}
	switch {
	case r.URL.Path == "/api/account" && r.Method == http.MethodGet:
		i := g.arrived(r, "", "")
		if !ok {
			unauthorized(i)
			return
		}
		writeJSON(w, 200, map[string]any{"domain": g.domain, "created_datetime": "2020-01-01T00:00:00+00:00",
			"status": map[string]any{"status": "active"}})
		g.answered(i, 200)
	case r.URL.Path == "/api/users/0" && r.Method == http.MethodGet:
		i := g.arrived(r, "", "")
		if !ok {
			unauthorized(i)
			return
		}
		writeJSON(w, 200, map[string]any{"id": 3924, "email": g.email, "active": g.Active, "name": "Fake Agent",
			"role": map[string]any{"name": g.Role}})
		g.answered(i, 200)
	case r.URL.Path == "/api/tickets" && r.Method == http.MethodGet:
		ext := r.URL.Query().Get("external_id")
		i := g.arrived(r, ext, "")
		if !ok {
			g.problem("GET tickets without valid credentials")
			unauthorized(i)
			return
		}
		list := []map[string]any{}
		for _, t := range g.TicketsFor(ext) {
			list = append(list, g.ticketJSON(&t))
		}
		writeJSON(w, 200, map[string]any{"data": list, "object": "list", "uri": "/api/tickets",
			"meta": map[string]any{"next_cursor": nil, "prev_cursor": nil}})
		g.answered(i, 200)
	case r.URL.Path == "/api/tickets" && r.Method == http.MethodPost:
		g.create(w, r, ok)
	default:
		writeJSON(w, 404, map[string]any{"error": map[string]any{"msg": "Not found"}})
	}
}

func (g *Gorgias) ticketJSON(t *Ticket) map[string]any {
	id := strconv.FormatInt(t.ID, 10)
	return map[string]any{"id": t.ID, "uri": "/api/tickets/" + id + "/", "external_id": t.ExternalID,
		"subject": t.Subject, "channel": "api", "via": "api", "status": "open",
		"customer": map[string]any{"email": t.Email}, "created_datetime": t.At.UTC().Format(time.RFC3339Nano)}
}

func (g *Gorgias) create(w http.ResponseWriter, r *http.Request, authed bool) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	ext, _ := body["external_id"].(string)
	i := g.arrived(r, ext, "")
	if !authed {
		g.problem("POST ticket without valid credentials")
		writeJSON(w, 401, map[string]any{"error": map[string]any{"msg": "Authentication required"}})
		g.answered(i, 401)
		return
	}
	if msg := checkGorgiasTicket(r, body); msg != "" {
		g.problem("POST ticket: %s", msg)
		writeJSON(w, 400, map[string]any{"error": map[string]any{"msg": "Invalid request", "data": map[string]any{"body": msg}}})
		g.answered(i, 400)
		return
	}
	f := g.nextFault(ext)
	if g.injure(w, r, i, ext, f, false, `{"error":{"msg":"fake failure"}}`) {
		return
	}
	msg := body["messages"].([]any)[0].(map[string]any)
	customer, _ := body["customer"].(map[string]any)
	t := &Ticket{ExternalID: ext, Body: body}
	t.Subject, _ = body["subject"].(string)
	t.Email, _ = customer["email"].(string)
	t.HTML, _ = msg["body_html"].(string)
	t.Text, _ = msg["body_text"].(string)
	t = g.make(t)
	if f.Then != nil {
		f.Then(r)
	}
	if g.injure(w, r, i, ext, f, true, `{"error":{"msg":"fake failure"}}`) {
		return
	}
	writeJSON(w, 201, g.ticketJSON(t))
	g.answered(i, 201)
}

// checkGorgiasTicket checks a create-ticket request the way the API
// documents it for an incoming message on the api channel.
func checkGorgiasTicket(r *http.Request, body map[string]any) string {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return "Content-Type is not application/json"
	}
	if body == nil {
		return "the body is not a JSON object"
	}
	customer, _ := body["customer"].(map[string]any)
	if s, _ := customer["email"].(string); !strings.Contains(s, "@") {
		return "customer.email is not an address"
	}
	if msg := apiIncoming(body, ""); msg != "" {
		return msg
	}
	if s, _ := body["external_id"].(string); s == "" || len(s) > 255 {
		return "external_id is empty or longer than 255"
	}
	msgs, _ := body["messages"].([]any)
	if len(msgs) != 1 {
		return "messages must hold one message"
	}
	m, ok := msgs[0].(map[string]any)
	if !ok {
		return "messages[0] is not an object"
	}
	sender, _ := m["sender"].(map[string]any)
	if s, _ := sender["email"].(string); !strings.Contains(s, "@") {
		return "messages[0].sender.email is not an address"
	}
	if msg := apiIncoming(m, "messages[0]."); msg != "" {
		return msg
	}
	for _, f := range []string{"body_text", "body_html"} {
		if s, _ := m[f].(string); strings.TrimSpace(s) == "" {
			return "messages[0]." + f + " is empty"
		}
	}
	for _, f := range []string{"created_datetime", "sent_datetime"} {
		s, _ := m[f].(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return "messages[0]." + f + " is not a datetime"
		}
	}
	return ""
}

// apiIncoming checks channel and via "api" and from_agent false.
func apiIncoming(v map[string]any, where string) string {
	if s, _ := v["channel"].(string); s != "api" {
		return where + `channel is not "api"`
	}
	if s, _ := v["via"].(string); s != "api" {
		return where + `via is not "api"`
	}
	if b, ok := v["from_agent"].(bool); !ok || b {
		return where + "from_agent is not false"
	}
	return ""
}
