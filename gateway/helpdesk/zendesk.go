package helpdesk

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/batonchat/baton/session"
)

// Zendesk's Support API: basic auth "EMAIL/token:API_TOKEN", or
// "Authorization: Bearer" with an OAuth access token.

func zendeskCredentials(acc session.HelpdeskAccount) credentials {
	if acc.OAuth() {
		t := acc.AccessToken
		if t == "" && acc.Token != nil {
			t = acc.Token.Access
		}
		return bearer(t)
	}
	return basicAuth(acc.Email+"/token", acc.Secret)
}

// zendeskUser is what the Users API says of the credentials' user.
type zendeskUser struct {
	ID           flexID  `json:"id"`
	Email        string  `json:"email"`
	Role         string  `json:"role"`
	RoleType     *flexID `json:"role_type"`
	CustomRoleID *flexID `json:"custom_role_id"`
	Suspended    bool    `json:"suspended"`
	Active       *bool   `json:"active"`
	ChatOnly     bool    `json:"chat_only"`
	OnlyPrivate  bool    `json:"only_private_comments"`
}

// refusal says why the user cannot make Baton's tickets (a public comment
// on a ticket for someone else), or "" when it can.
func (u *zendeskUser) refusal() string {
	roleType := ""
	if u.RoleType != nil {
		roleType = string(*u.RoleType)
	}
	switch {
	case u.ID == "":
		return "it answered as an anonymous user; check the email and API token (or the OAuth client)"
	case u.Role != "agent" && u.Role != "admin":
		return "the user's role is " + strconv.Quote(u.Role) + "; tickets need an agent or an admin"
	case u.Suspended:
		return "the user " + u.Email + " is suspended"
	case u.Active != nil && !*u.Active:
		return "the user " + u.Email + " was deleted"
	case roleType == "1":
		return "the user is a light agent (role_type 1, custom role " + customRole(u) + "), who cannot make public comments; use a full agent or an admin"
	case roleType == "3":
		return "the user is a contributor (role_type 3), who cannot make public comments; use a full agent or an admin"
	case roleType == "2" || u.ChatOnly:
		return "the user is a chat-only agent (role_type 2), who cannot work on tickets; use a full agent or an admin"
	case u.OnlyPrivate:
		return "the user can only make private comments; use an agent who can make public ones"
	}
	return ""
}

func customRole(u *zendeskUser) string {
	if u.CustomRoleID == nil || *u.CustomRoleID == "" {
		return "none"
	}
	return string(*u.CustomRoleID)
}

// verifyZendesk asks who the credentials belong to, and whether that user
// can make Baton's tickets. An OAuth client's credentials first get their
// token. Zendesk answers bad or missing credentials on users/me with an
// anonymous user (no id, role end-user) rather than a 401, so only a real
// agent or admin passes.
func (c *Client) verifyZendesk(ctx context.Context, acc session.HelpdeskAccount) (session.HelpdeskAccount, error) {
	base, err := c.baseFor(acc, ".zendesk.com")
	if err != nil {
		return acc, err
	}
	if acc.OAuth() && acc.Token == nil {
		if acc.Auth != session.AuthClientCredentials {
			return acc, refused("Zendesk", "no token yet: connect with Zendesk again")
		}
		tok, err := c.grant(ctx, acc, map[string]string{"grant_type": "client_credentials", "scope": ZendeskScope})
		var ge *session.GrantError
		var se *session.Error
		switch {
		case errors.As(err, &ge):
			return acc, refused("Zendesk", ge.Reason)
		case errors.As(err, &se):
			return acc, err
		case err != nil:
			return acc, unreachable("Zendesk", err)
		}
		acc.Token = &tok
	}
	a, err := c.call(ctx, http.MethodGet, base+"/api/v2/users/me.json", zendeskCredentials(acc), nil, nil)
	if err != nil {
		return acc, unreachable("Zendesk", err)
	}
	if a.status != http.StatusOK {
		return acc, refused("Zendesk", strconv.Itoa(a.status)+" "+reasonOf(a))
	}
	var v struct {
		User *zendeskUser `json:"user"`
	}
	if json.Unmarshal(a.body, &v) != nil || v.User == nil {
		return acc, refused("Zendesk", "its answer did not describe a user (check subdomain and base_url)")
	}
	if why := v.User.refusal(); why != "" {
		return acc, refused("Zendesk", why)
	}
	if acc.OAuth() {
		acc.Email = v.User.Email
	}
	return acc, nil
}

type zendeskTicketJSON struct {
	ID         flexID `json:"id"`
	URL        string `json:"url"`
	ExternalID string `json:"external_id"`
}

func (t zendeskTicketJSON) ids() (string, string) { return string(t.ID), t.ExternalID }

func (c *Client) zendeskTicket(ctx context.Context, r session.TicketRequest) (session.TicketResult, error) {
	base, err := c.baseFor(r.Account, ".zendesk.com")
	if err != nil {
		return session.TicketResult{}, &session.TicketError{Permanent: true, Reason: err.Error()}
	}
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
