package helpdesk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/batonchat/baton/session"
)

// Gorgias's REST API: basic auth "EMAIL:API_KEY". It has no idempotency
// key, so a ticket that may exist is always looked up by external_id before
// another is posted.

func gorgiasCredentials(acc session.HelpdeskAccount) credentials {
	return basicAuth(acc.Email, acc.Secret)
}

// gorgiasRoles are the roles that may create tickets and reply to
// customers; observers may only leave internal notes, and bots and
// internal agents are not people a merchant connects.
var gorgiasRoles = map[string]bool{"admin": true, "agent": true, "lead-agent": true, "basic-agent": true, "lite-agent": true}

// verifyGorgias reads the account the key belongs to, then the key's user
// (GET /api/users/0 is the current user): an active user whose role can
// create tickets.
func (c *Client) verifyGorgias(ctx context.Context, acc session.HelpdeskAccount) error {
	base, err := c.baseFor(acc, ".gorgias.com")
	if err != nil {
		return err
	}
	cred := gorgiasCredentials(acc)
	a, err := c.call(ctx, http.MethodGet, base+"/api/account", cred, nil, nil)
	if err != nil {
		return unreachable("Gorgias", err)
	}
	if a.status != http.StatusOK {
		return refused("Gorgias", strconv.Itoa(a.status)+" "+reasonOf(a))
	}
	var account map[string]any
	if json.Unmarshal(a.body, &account) != nil || account["domain"] == nil {
		return refused("Gorgias", "its answer did not describe an account (check domain and base_url)")
	}
	a, err = c.call(ctx, http.MethodGet, base+"/api/users/0", cred, nil, nil)
	if err != nil {
		return unreachable("Gorgias", err)
	}
	if a.status != http.StatusOK {
		return refused("Gorgias", "reading the key's user: "+strconv.Itoa(a.status)+" "+reasonOf(a))
	}
	var u struct {
		ID     flexID `json:"id"`
		Email  string `json:"email"`
		Active *bool  `json:"active"`
		Role   any    `json:"role"`
	}
	if json.Unmarshal(a.body, &u) != nil || u.ID == "" {
		return refused("Gorgias", "its answer did not describe the key's user")
	}
	role := ""
	switch r := u.Role.(type) {
	case string:
		role = r
	case map[string]any:
		role, _ = r["name"].(string)
	}
	switch {
	case u.Active == nil || !*u.Active:
		return refused("Gorgias", "the user "+u.Email+" is not active")
	case role == "observer-agent":
		return refused("Gorgias", "the user "+u.Email+" is an observer, who cannot create tickets or reply to customers; use a lite, basic or lead agent or an admin")
	case !gorgiasRoles[role]:
		return refused("Gorgias", "the user "+u.Email+" has the role "+strconv.Quote(role)+", which cannot create tickets; use a lite, basic or lead agent or an admin")
	}
	return nil
}

type gorgiasTicketJSON struct {
	ID         flexID `json:"id"`
	URI        string `json:"uri"`
	ExternalID string `json:"external_id"`
}

func (t gorgiasTicketJSON) ids() (string, string) { return string(t.ID), t.ExternalID }

func (c *Client) gorgiasTicket(ctx context.Context, r session.TicketRequest) (session.TicketResult, error) {
	base, err := c.baseFor(r.Account, ".gorgias.com")
	if err != nil {
		return session.TicketResult{}, &session.TicketError{Permanent: true, Reason: err.Error()}
	}
	cred := gorgiasCredentials(r.Account)
	if r.MayExist {
		found, err := c.gorgiasFind(ctx, base, cred, r.ExternalID)
		if err != nil {
			return session.TicketResult{}, err
		}
		if found != nil {
			return *found, nil
		}
	}
	tc := render(r)
	// The message's times are the handoff's, fixed in the outbox record,
	// so every attempt sends the same ticket.
	at := session.FormatTime(r.HandedOffAt)
	body := map[string]any{
		"customer":    map[string]any{"email": r.Visitor.Email},
		"channel":     "api",
		"via":         "api",
		"from_agent":  false,
		"external_id": r.ExternalID,
		"subject":     tc.Subject,
		"tags":        []map[string]string{{"name": "baton"}, {"name": "webchat"}},
		"messages": []map[string]any{{
			"sender":           map[string]any{"email": r.Visitor.Email},
			"channel":          "api",
			"via":              "api",
			"from_agent":       false,
			"subject":          tc.Subject,
			"body_text":        tc.Text,
			"body_html":        tc.HTML,
			"created_datetime": at,
			"sent_datetime":    at,
			"external_id":      r.ExternalID,
		}},
	}
	b, _ := json.Marshal(body)
	a, err := c.call(ctx, http.MethodPost, base+"/api/tickets", cred, nil, b)
	if err != nil {
		return session.TicketResult{}, unanswered("gorgias", err)
	}
	if a.status != http.StatusCreated && a.status != http.StatusOK {
		return session.TicketResult{}, c.refusedTicket("gorgias", a)
	}
	var t gorgiasTicketJSON
	if json.Unmarshal(a.body, &t) != nil || t.ID == "" {
		return session.TicketResult{}, &session.TicketError{MayExist: true, Status: a.status,
			Reason: "gorgias answered " + strconv.Itoa(a.status) + " without a ticket id"}
	}
	return gorgiasResult(base, &t, false), nil
}

func gorgiasResult(base string, t *gorgiasTicketJSON, existing bool) session.TicketResult {
	id := string(t.ID)
	res := session.TicketResult{ID: id, URL: base + "/app/ticket/" + id, Existing: existing}
	if t.URI != "" {
		res.APIURL = base + "/" + strings.TrimLeft(t.URI, "/")
	}
	return res
}

// gorgiasFind looks the conversation's ticket up by external_id; the oldest
// match wins.
func (c *Client) gorgiasFind(ctx context.Context, base string, cred credentials, ext string) (*session.TicketResult, error) {
	return findTicket(ctx, c, "gorgias", base+"/api/tickets?external_id="+url.QueryEscape(ext), cred, ext,
		func(body []byte) ([]gorgiasTicketJSON, error) {
			var v struct {
				Data []gorgiasTicketJSON `json:"data"`
			}
			err := json.Unmarshal(body, &v)
			return v.Data, err
		},
		func(t *gorgiasTicketJSON) session.TicketResult { return gorgiasResult(base, t, true) })
}
