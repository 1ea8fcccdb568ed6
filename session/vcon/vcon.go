// Package vcon lays out a conversation as a vCon, the IETF's container for
// conversation data (draft-ietf-vcon-vcon-core-04), so a merchant can take
// a chat to any tool that reads the format: one party per participant, one
// text dialog per message, the handoff and the rating as attachments, the
// handoff summary as an analysis.
package vcon

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/batonchat/baton/session"
)

// Version is the value §4.1.1 fixes for documents of this syntax.
const Version = "0.4.0"

// Application names the channel in every dialog (§4.3.15).
const Application = "baton-webchat"

// Vendor names who made the analyses (§4.5.6).
const Vendor = "Baton"

// VCon is the top-level object (§4.1).
type VCon struct {
	Vcon        string       `json:"vcon"`
	UUID        string       `json:"uuid"`
	CreatedAt   string       `json:"created_at"`
	UpdatedAt   string       `json:"updated_at,omitempty"`
	Subject     string       `json:"subject,omitempty"`
	Parties     []Party      `json:"parties"`
	Dialog      []Dialog     `json:"dialog"`
	Attachments []Attachment `json:"attachments"` // always present, [] when none: the contract names it
	Analysis    []Analysis   `json:"analysis,omitempty"`
}

// Party is one participant (§4.2). Roles are told by Type and, for the
// team, Dept; draft-04 has no role parameter.
type Party struct {
	Type       string `json:"type"` // person, bot, organization (§4.2.11)
	Name       string `json:"name,omitempty"`
	Validation string `json:"validation,omitempty"` // given whenever Name is (§4.2.7)
	Mailto     string `json:"mailto,omitempty"`
	UUID       string `json:"uuid,omitempty"`
	Org        string `json:"org,omitempty"`
	Dept       string `json:"dept,omitempty"`
}

// Dialog is one message: a text dialog (§4.3), sender first in Parties.
type Dialog struct {
	Type        string `json:"type"`
	Start       string `json:"start"`
	Parties     []int  `json:"parties"`
	Mediatype   string `json:"mediatype"`
	Encoding    string `json:"encoding"`
	Body        string `json:"body"`
	Application string `json:"application"`
	MessageID   string `json:"message_id"`
}

// Attachment is data about the conversation (§4.4); Body is JSON.
type Attachment struct {
	Purpose   string `json:"purpose"`
	Start     string `json:"start"`
	Party     int    `json:"party"`
	Dialog    int    `json:"dialog"`
	Mediatype string `json:"mediatype"`
	Encoding  string `json:"encoding"`
	Body      any    `json:"body"`
}

// Analysis is something derived from the dialog (§4.5).
type Analysis struct {
	Type      string `json:"type"`
	Dialog    []int  `json:"dialog"`
	Vendor    string `json:"vendor"`
	Product   string `json:"product,omitempty"`
	Mediatype string `json:"mediatype"`
	Encoding  string `json:"encoding"`
	Body      string `json:"body"`
}

// Source is what a vCon is made of.
type Source struct {
	Conversation *session.Conversation
	Messages     []session.Message
	Shop         string // the merchant's name, the team's organization
	// Domain is the host name the uuid is derived from (§4.1.2): the one
	// Baton is reached at.
	Domain string
}

// Party indices that every document shares; agents follow, in the order
// they first appear, and the shop itself last when it spoke (notices).
const (
	visitorParty   = 0
	assistantParty = 1
)

// Build lays out src as a vCon. It reads nothing but src, so the same
// conversation always gives the same document, uuid included.
func Build(src Source) VCon {
	c := src.Conversation
	v := VCon{
		Vcon:        Version,
		UUID:        UUID(c.CreatedAt.Time, src.Domain, c.ID),
		CreatedAt:   date(c.CreatedAt.Time),
		UpdatedAt:   date(c.UpdatedAt.Time),
		Subject:     "Web chat " + c.ID,
		Parties:     []Party{visitor(c), {Type: "bot", Name: "Assistant", Validation: "none", Org: src.Shop}},
		Dialog:      make([]Dialog, 0, len(src.Messages)),
		Attachments: []Attachment{},
	}
	if src.Shop != "" {
		v.Subject = "Web chat with " + src.Shop
	}
	agents := map[string]int{} // agent id or name → party index
	shop := -1
	// Who a visitor was talking to: the assistant until a person wrote.
	counterpart := assistantParty
	for _, m := range src.Messages {
		var from, to int
		switch m.Role {
		case session.RoleVisitor:
			from, to = visitorParty, counterpart
		case session.RoleAssistant:
			from, to = assistantParty, visitorParty
			if m.Author != "" {
				v.Parties[assistantParty].Name = m.Author
			}
		case session.RoleAgent:
			key := m.AuthorID
			if key == "" {
				key = "name:" + m.Author
			}
			i, ok := agents[key]
			if !ok {
				i = len(v.Parties)
				agents[key] = i
				v.Parties = append(v.Parties, agentParty(m, src.Shop))
			}
			from, to = i, visitorParty
			counterpart = i
		default: // notices: the shop speaking to the visitor
			if shop < 0 {
				shop = len(v.Parties)
				name := src.Shop
				if name == "" {
					name = "Shop"
				}
				v.Parties = append(v.Parties, Party{Type: "organization", Name: name, Validation: "none"})
			}
			from, to = shop, visitorParty
		}
		v.Dialog = append(v.Dialog, Dialog{Type: "text", Start: date(m.TS.Time), Parties: []int{from, to},
			Mediatype: "text/plain", Encoding: "none", Body: m.Text, Application: Application, MessageID: m.ID})
	}
	v.addHandoff(c, src.Messages)
	v.addRating(c)
	return v
}

func visitor(c *session.Conversation) Party {
	p := Party{Type: "person", UUID: string(c.Visitor.ProfileID), Mailto: string(c.Visitor.Email)}
	if p.UUID == "" {
		p.UUID = "visitor:" + c.ID
	}
	return p
}

func agentParty(m session.Message, shop string) Party {
	p := Party{Type: "person", Name: m.Author, UUID: m.AuthorID, Org: shop, Dept: "team"}
	if p.Name != "" {
		// Agents sign in to Baton; that is how their name is known.
		p.Validation = "baton-sign-in"
	}
	return p
}

// addHandoff records the passing to the team: an attachment with why and
// where it went, tied to the last message before it, and the summary the
// team read as an analysis of the dialog up to there.
func (v *VCon) addHandoff(c *session.Conversation, msgs []session.Message) {
	h := c.Handoff
	if h == nil || len(v.Dialog) == 0 {
		return
	}
	last := 0
	for i, m := range msgs {
		if !m.TS.After(h.At.Time) {
			last = i
		}
	}
	body := map[string]any{"reason": h.Reason, "summary": h.Summary}
	if h.Detail != "" {
		body["detail"] = h.Detail
	}
	if c.Ticket != nil {
		body["ticket"] = map[string]any{"provider": c.Ticket.Provider, "state": c.Ticket.State, "id": c.Ticket.ID, "url": c.Ticket.URL}
	}
	v.Attachments = append(v.Attachments, Attachment{Purpose: "handoff", Start: date(h.At.Time), Party: assistantParty,
		Dialog: last, Mediatype: "application/json", Encoding: "json", Body: body})
	if h.Summary != "" {
		upto := make([]int, last+1)
		for i := range upto {
			upto[i] = i
		}
		v.Analysis = append(v.Analysis, Analysis{Type: "summary", Dialog: upto, Vendor: Vendor, Product: "handoff-summary",
			Mediatype: "text/plain", Encoding: "none", Body: h.Summary})
	}
}

// addRating records the visitor's rating, tied to the last message.
func (v *VCon) addRating(c *session.Conversation) {
	r := c.Rating
	if r == nil || len(v.Dialog) == 0 {
		return
	}
	body := map[string]any{"score": r.Score, "scale": "1-5"}
	if r.Comment != "" {
		body["comment"] = r.Comment
	}
	v.Attachments = append(v.Attachments, Attachment{Purpose: "csat", Start: date(r.At.Time), Party: visitorParty,
		Dialog: len(v.Dialog) - 1, Mediatype: "application/json", Encoding: "json", Body: body})
}

// date is the draft's Date (§2.2): RFC 3339 in UTC, with fractional
// seconds only when there are some, as JMAP's Date asks.
func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.999Z07:00")
}

// UUID is the version 8 UUID §4.1.2 recommends: a version 7 layout (the
// milliseconds since 1970 first) whose last 62 bits are the high 62 bits
// of the SHA-1 of the host name. The 12 bits a version 7 UUID fills at
// random come from the conversation's id, so one conversation always gets
// the same uuid, and two begun in the same millisecond differ unless
// those 12 bits collide (1 in 4096).
func UUID(created time.Time, domain, convID string) string {
	var u [16]byte
	ms := uint64(created.UnixMilli())
	binary.BigEndian.PutUint64(u[0:8], ms<<16)
	id := sha1.Sum([]byte(convID))
	randA := binary.BigEndian.Uint16(id[0:2]) & 0x0fff
	binary.BigEndian.PutUint16(u[6:8], 0x8000|randA) // version 8
	host := sha1.Sum([]byte(domain))
	custom := binary.BigEndian.Uint64(host[0:8]) >> 2              // the high 62 bits
	binary.BigEndian.PutUint64(u[8:16], 0x8000000000000000|custom) // variant 10
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
