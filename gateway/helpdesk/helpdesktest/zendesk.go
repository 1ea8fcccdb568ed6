package helpdesktest

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batonchat/baton/session"
)

// Zendesk is a fake Zendesk Support API:
//
//   - GET /api/v2/users/me.json answers the authenticated user, or an
//     anonymous one (no id, role end-user) for a caller without
//     credentials; wrong credentials get 401;
//   - POST /api/v2/tickets.json checks the body
//     {"ticket": {"subject", "comment": {"html_body", "public": true},
//     "requester": {"name", "email"}, "tags", "external_id"}} and honours
//     Idempotency-Key: the same key and body replay the first answer with
//     "x-idempotency-lookup: hit", another body is 400
//     IdempotentRequestError, a request still in progress is 409;
//   - GET /api/v2/tickets.json?external_id=X lists that ticket;
//   - OAuth (oauth.go): the authorization page, the token endpoint and
//     bearer tokens.
type Zendesk struct {
	*desk
	// Role is what users/me says the credentials' user is; RoleType its
	// role_type (nil, or 0 custom agent, 1 light agent, 2 chat agent, 3
	// contributor, 4 admin, 5 billing admin), CustomRoleID its
	// custom_role_id; Suspended and OnlyPrivateComments as named.
	Role                string
	RoleType            any
	CustomRoleID        any
	Suspended           bool
	OnlyPrivateComments bool

	kmu   sync.Mutex
	keys  map[string]*zendeskKey
	oauth *oauthFake
}

type zendeskKey struct {
	hash       [32]byte
	inProgress bool
	status     int
	body       []byte
	at         time.Time
}

// KeyTTL is how long the fake remembers an idempotency key; Zendesk's
// documentation gives two hours.
const KeyTTL = 2 * time.Hour

// NewZendesk starts a fake Zendesk that accepts email with apiToken.
func NewZendesk(t testing.TB, email, apiToken string) *Zendesk {
	z := &Zendesk{Role: "admin", keys: map[string]*zendeskKey{}, oauth: newOAuthFake()}
	z.desk = newDesk(t, "zendesk", email, apiToken, http.HandlerFunc(z.serve))
	return z
}

// Account is an integration for this fake.
func (z *Zendesk) Account() session.HelpdeskAccount { return z.account("fakeshop") }

func (z *Zendesk) serve(w http.ResponseWriter, r *http.Request) {
	present, ok := basicAuth(r, z.email+"/token", z.currentSecret())
	if bp, bok := z.bearerUser(r); bp {
		present, ok = true, bok
	}
	switch {
	case r.URL.Path == "/oauth/tokens" && r.Method == http.MethodPost:
		z.token(w, r)
	case r.URL.Path == "/oauth/authorizations/new" && r.Method == http.MethodGet:
		z.authorizeNew(w, r)
	case r.URL.Path == "/oauth/authorizations" && r.Method == http.MethodPost:
		z.authorizeDecision(w, r)
	case r.URL.Path == "/api/v2/users/me.json" && r.Method == http.MethodGet:
		i := z.arrived(r, "", "")
		switch {
		case !present:
			writeJSON(w, 200, map[string]any{"user": map[string]any{"id": nil, "name": "Anonymous user", "role": "end-user"}})
			z.answered(i, 200)
		case !ok:
			z.unauthorized(w, r, i)
		default:
			writeJSON(w, 200, map[string]any{"user": map[string]any{"id": 9001, "name": "Fake Agent", "email": z.email, "role": z.Role,
				"role_type": z.RoleType, "custom_role_id": z.CustomRoleID, "suspended": z.Suspended, "active": true,
				"only_private_comments": z.OnlyPrivateComments, "chat_only": false}})
			z.answered(i, 200)
		}
	case r.URL.Path == "/api/v2/tickets.json" && r.Method == http.MethodGet:
		ext := r.URL.Query().Get("external_id")
		i := z.arrived(r, ext, "")
		if !ok {
			z.noCredentials(r, "GET tickets")
			z.unauthorized(w, r, i)
			return
		}
		list := []map[string]any{}
		for _, t := range z.TicketsFor(ext) {
			list = append(list, z.ticketJSON(&t))
		}
		writeJSON(w, 200, map[string]any{"tickets": list, "count": len(list), "next_page": nil, "previous_page": nil})
		z.answered(i, 200)
	case r.URL.Path == "/api/v2/tickets.json" && r.Method == http.MethodPost:
		z.create(w, r, ok)
	default:
		writeJSON(w, 404, map[string]any{"error": "InvalidEndpoint", "description": "Not found"})
	}
}

// noCredentials records a ticket request without working credentials as
// a problem, unless it carried an OAuth token: one that another node's
// refresh has just replaced is refused, and the caller renews it.
func (z *Zendesk) noCredentials(r *http.Request, what string) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		z.problem("%s without valid credentials", what)
	}
}

// unauthorized answers a request whose credentials do not work, as
// Zendesk does: an OAuth token that expired, was replaced by a refresh or
// revoked is invalid_token, anything else "Couldn't authenticate you".
func (z *Zendesk) unauthorized(w http.ResponseWriter, r *http.Request, i int) {
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		writeJSON(w, 401, map[string]any{"error": "invalid_token",
			"error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons."})
	} else {
		writeJSON(w, 401, map[string]any{"error": "Couldn't authenticate you"})
	}
	z.answered(i, 401)
}

func (z *Zendesk) ticketJSON(t *Ticket) map[string]any {
	return map[string]any{
		"id": t.ID, "url": z.URL() + "/api/v2/tickets/" + strconv.FormatInt(t.ID, 10) + ".json",
		"external_id": t.ExternalID, "subject": t.Subject, "status": "new",
		"created_at": t.At.UTC().Format(time.RFC3339),
	}
}

func (z *Zendesk) create(w http.ResponseWriter, r *http.Request, authed bool) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	key := r.Header.Get("Idempotency-Key")
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	tk, _ := body["ticket"].(map[string]any)
	ext, _ := tk["external_id"].(string)
	i := z.arrived(r, ext, key)
	if !authed {
		z.noCredentials(r, "POST ticket")
		z.unauthorized(w, r, i)
		return
	}
	if msg := checkZendeskTicket(r, key, body); msg != "" {
		z.problem("POST ticket: %s", msg)
		writeJSON(w, 422, map[string]any{"error": "RecordInvalid", "description": "Record validation errors", "details": map[string]any{"base": []any{map[string]any{"description": msg}}}})
		z.answered(i, 422)
		return
	}

	// A key already seen: replay, refuse, or say it is still in progress.
	hash := sha256.Sum256(raw)
	z.kmu.Lock()
	if k, seen := z.keys[key]; seen && time.Since(k.at) < KeyTTL {
		switch {
		case k.hash != hash:
			z.kmu.Unlock()
			writeJSON(w, 400, map[string]any{"error": "IdempotentRequestError", "description": "Request parameters do not match the original request"})
			z.answered(i, 400)
		case k.inProgress:
			z.kmu.Unlock()
			writeJSON(w, 409, map[string]any{"error": "IdempotentRequestError", "description": "The original request is still being processed"})
			z.answered(i, 409)
		default:
			status, b := k.status, k.body
			z.kmu.Unlock()
			w.Header().Set("X-Idempotency-Lookup", "hit")
			writeRaw(w, status, string(b))
			z.answered(i, status)
		}
		return
	}
	z.kmu.Unlock()

	f := z.nextFault(ext)
	if z.injure(w, r, i, ext, f, false, `{"error":"ServerError","description":"fake failure"}`) {
		return
	}

	comment, _ := tk["comment"].(map[string]any)
	req, _ := tk["requester"].(map[string]any)
	t := &Ticket{ExternalID: ext, Body: body}
	t.Subject, _ = tk["subject"].(string)
	t.HTML, _ = comment["html_body"].(string)
	t.Email, _ = req["email"].(string)
	z.kmu.Lock()
	t = z.make(t)
	answer, _ := json.Marshal(map[string]any{"ticket": z.ticketJSON(t)})
	k := &zendeskKey{hash: hash, inProgress: true, status: 201, body: answer, at: time.Now()}
	z.keys[key] = k
	z.kmu.Unlock()
	// The request is processed once the handler is done with it, whatever
	// the caller saw.
	defer func() {
		z.kmu.Lock()
		k.inProgress = false
		z.kmu.Unlock()
	}()
	w.Header().Set("X-Idempotency-Lookup", "miss")

	if f.Then != nil {
		f.Then(r)
	}
	if z.injure(w, r, i, ext, f, true, `{"error":"ServerError","description":"fake failure"}`) {
		return
	}
	writeRaw(w, 201, string(answer))
	z.answered(i, 201)
}

// checkZendeskTicket checks a create-ticket request the way the API
// documents it, and says what is wrong.
func checkZendeskTicket(r *http.Request, key string, body map[string]any) string {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return "Content-Type is not application/json"
	}
	if key == "" || len(key) > 255 {
		return "no Idempotency-Key (or longer than 255)"
	}
	tk, ok := body["ticket"].(map[string]any)
	if !ok {
		return `no "ticket" object`
	}
	if s, _ := tk["subject"].(string); strings.TrimSpace(s) == "" {
		return "ticket.subject is empty"
	}
	c, ok := tk["comment"].(map[string]any)
	if !ok {
		return "no ticket.comment"
	}
	if s, _ := c["html_body"].(string); strings.TrimSpace(s) == "" {
		return "ticket.comment.html_body is empty"
	}
	if p, ok := c["public"].(bool); !ok || !p {
		return "ticket.comment.public is not true"
	}
	req, ok := tk["requester"].(map[string]any)
	if !ok {
		return "no ticket.requester"
	}
	if s, _ := req["name"].(string); strings.TrimSpace(s) == "" {
		return "ticket.requester.name is empty"
	}
	if s, _ := req["email"].(string); !strings.Contains(s, "@") {
		return "ticket.requester.email is not an address"
	}
	tags, ok := tk["tags"].([]any)
	if !ok {
		return "ticket.tags is not a list"
	}
	for _, t := range tags {
		if s, ok := t.(string); !ok || s == "" || strings.ContainsAny(s, " ,") {
			return "ticket.tags holds something that is not a tag"
		}
	}
	if s, _ := tk["external_id"].(string); s == "" {
		return "ticket.external_id is empty"
	}
	return ""
}
