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

func gorgiasBase(acc session.HelpdeskAccount) string { return baseURL(acc, ".gorgias.com") }

func gorgiasCredentials(acc session.HelpdeskAccount) credentials {
	return credentials{user: acc.Email, pass: acc.Secret}
}

// verifyGorgias reads the account the key belongs to.
func (c *Client) verifyGorgias(ctx context.Context, acc session.HelpdeskAccount) error {
	a, err := c.call(ctx, http.MethodGet, gorgiasBase(acc)+"/api/account", gorgiasCredentials(acc), nil, nil)
	if err != nil {
		return unreachable("Gorgias", err)
	}
	if a.status != http.StatusOK {
		return refused("Gorgias", strconv.Itoa(a.status)+" "+reasonOf(a))
	}
	var v map[string]any
	if json.Unmarshal(a.body, &v) != nil || v["domain"] == nil {
		return refused("Gorgias", "its answer did not describe an account (check domain and base_url)")
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
	base := gorgiasBase(r.Account)
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
