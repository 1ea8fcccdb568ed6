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

// Zendesk's Support API: basic auth "EMAIL/token:API_TOKEN".

func zendeskBase(acc session.HelpdeskAccount) string { return baseURL(acc, ".zendesk.com") }

func zendeskCredentials(acc session.HelpdeskAccount) credentials {
	return credentials{user: acc.Email + "/token", pass: acc.Secret}
}

// verifyZendesk asks who the credentials belong to. Zendesk answers bad or
// missing credentials on this endpoint with an anonymous user (no id, role
// end-user) rather than a 401, so only a real agent or admin passes.
func (c *Client) verifyZendesk(ctx context.Context, acc session.HelpdeskAccount) error {
	a, err := c.call(ctx, http.MethodGet, zendeskBase(acc)+"/api/v2/users/me.json", zendeskCredentials(acc), nil, nil)
	if err != nil {
		return unreachable("Zendesk", err)
	}
	if a.status != http.StatusOK {
		return refused("Zendesk", strconv.Itoa(a.status)+" "+reasonOf(a))
	}
	var v struct {
		User *struct {
			ID   flexID `json:"id"`
			Role string `json:"role"`
		} `json:"user"`
	}
	if json.Unmarshal(a.body, &v) != nil || v.User == nil {
		return refused("Zendesk", "its answer did not describe a user (check subdomain and base_url)")
	}
	if v.User.ID == "" {
		return refused("Zendesk", "it answered as an anonymous user; check the email and API token")
	}
	if v.User.Role != "agent" && v.User.Role != "admin" {
		return refused("Zendesk", "the user's role is "+strconv.Quote(v.User.Role)+"; tickets need an agent's or admin's token")
	}
	return nil
}

type zendeskTicketJSON struct {
	ID         flexID `json:"id"`
	URL        string `json:"url"`
	ExternalID string `json:"external_id"`
}

func (t zendeskTicketJSON) ids() (string, string) { return string(t.ID), t.ExternalID }

func (c *Client) zendeskTicket(ctx context.Context, r session.TicketRequest) (session.TicketResult, error) {
	base := zendeskBase(r.Account)
	cred := zendeskCredentials(r.Account)
	// Within the key's life Zendesk replays the first answer to a repeated
	// Idempotency-Key; past it, or under another key, look first.
	if r.MayExist && (r.KeySince.IsZero() || c.now().Sub(r.KeySince) > c.keyTTL) {
		found, err := c.zendeskFind(ctx, base, cred, r.ExternalID)
		if err != nil {
			return session.TicketResult{}, err
		}
		if found != nil {
			return *found, nil
		}
	}
	tc := render(r)
	body := map[string]any{"ticket": map[string]any{
		"subject":     tc.Subject,
		"comment":     map[string]any{"html_body": tc.HTML, "public": true},
		"requester":   map[string]any{"name": requesterName(r.Visitor.Email), "email": r.Visitor.Email},
		"tags":        []string{"baton", "webchat", "baton_" + tagSafe(r.Reason)},
		"external_id": r.ExternalID,
	}}
	b, _ := json.Marshal(body)
	a, err := c.call(ctx, http.MethodPost, base+"/api/v2/tickets.json", cred,
		map[string]string{"Idempotency-Key": r.IdempotencyKey}, b)
	if err != nil {
		return session.TicketResult{}, unanswered("zendesk", err)
	}
	if a.status != http.StatusCreated && a.status != http.StatusOK {
		te := c.refusedTicket("zendesk", a)
		if a.status == http.StatusBadRequest && strings.Contains(string(a.body), "IdempotentRequestError") {
			// The key was used before with another body: that earlier
			// request may well have made the ticket.
			te.MayExist = true
		}
		return session.TicketResult{}, te
	}
	var v struct {
		Ticket *zendeskTicketJSON `json:"ticket"`
	}
	if json.Unmarshal(a.body, &v) != nil || v.Ticket == nil || v.Ticket.ID == "" {
		return session.TicketResult{}, &session.TicketError{MayExist: true, Status: a.status,
			Reason: "zendesk answered " + strconv.Itoa(a.status) + " without a ticket id"}
	}
	return zendeskResult(base, v.Ticket, a.header.Get("X-Idempotency-Lookup") == "hit"), nil
}

func zendeskResult(base string, t *zendeskTicketJSON, existing bool) session.TicketResult {
	id := string(t.ID)
	return session.TicketResult{ID: id, URL: base + "/agent/tickets/" + id, APIURL: t.URL, Existing: existing}
}

// zendeskFind looks the conversation's ticket up by external_id (List
// Tickets filters on it); the oldest match wins.
func (c *Client) zendeskFind(ctx context.Context, base string, cred credentials, ext string) (*session.TicketResult, error) {
	return findTicket(ctx, c, "zendesk", base+"/api/v2/tickets.json?external_id="+url.QueryEscape(ext), cred, ext,
		func(body []byte) ([]zendeskTicketJSON, error) {
			var v struct {
				Tickets []zendeskTicketJSON `json:"tickets"`
			}
			err := json.Unmarshal(body, &v)
			return v.Tickets, err
		},
		func(t *zendeskTicketJSON) session.TicketResult { return zendeskResult(base, t, true) })
}

// tagSafe keeps a Zendesk tag to letters, digits and underscores.
func tagSafe(s string) string {
	if s == "" {
		return "handoff"
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
