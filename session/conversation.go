package session

import (
	"encoding/json"
	"strconv"
	"time"
)

// NullString marshals "" as JSON null: the contract's fields that may be
// unknown (an anonymous visitor's email, an unassigned conversation's agent).
type NullString string

func (s NullString) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(s))
}

func (s *NullString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = ""
		return nil
	}
	var v string
	err := json.Unmarshal(b, &v)
	*s = NullString(v)
	return err
}

// Visitor is who is chatting, as far as Baton knows.
type Visitor struct {
	Email         NullString `json:"email"`
	Authenticated bool       `json:"authenticated"`
	ProfileID     NullString `json:"profile_id"`
}

// AgentRef names a person on the merchant's team.
type AgentRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Ticket is where a helpdesk handoff stands: pending (waiting for its first
// attempt or a retry), created (ID and URL say where) or failed (a dead
// letter: Error says why, and an admin may retry it).
type Ticket struct {
	Provider      string `json:"provider"`
	State         string `json:"state"`
	ID            string `json:"id,omitempty"`
	URL           string `json:"url,omitempty"`     // the ticket in the helpdesk's agent interface
	APIURL        string `json:"api_url,omitempty"` // the ticket in the helpdesk's API, as it answered
	Error         string `json:"error,omitempty"`
	Attempts      int    `json:"attempts"`
	NextAttemptAt Time   `json:"next_attempt_at"`
	UpdatedAt     Time   `json:"updated_at"`
}

// Conversation is one chat between a visitor and a merchant, as agents and
// admins see it.
type Conversation struct {
	ID            string       `json:"id"`
	MerchantID    string       `json:"merchant_id"`
	Status        Status       `json:"status"`
	Visitor       Visitor      `json:"visitor"`
	QueuedAt      Time         `json:"queued_at"`
	AgentID       NullString   `json:"agent_id"`
	Agent         *AgentRef    `json:"agent"`
	LastMessage   *Message     `json:"last_message"`
	LastSeq       int64        `json:"last_seq"`
	Version       int64        `json:"version"`
	QueuePosition int          `json:"queue_position,omitempty"`
	HandoffReason string       `json:"handoff_reason,omitempty"`
	Handoff       *HandoffInfo `json:"handoff"` // once handed to the team
	Rating        *Rating      `json:"rating,omitempty"`
	ClosedReason  string       `json:"closed_reason,omitempty"`
	Page          string       `json:"page,omitempty"`
	Locale        string       `json:"locale"`
	Ticket        *Ticket      `json:"ticket,omitempty"`
	CreatedAt     Time         `json:"created_at"`
	UpdatedAt     Time         `json:"updated_at"`
	ClosedAt      Time         `json:"closed_at"`

	prompt  string // the offer or email request, while one is open
	queueEp string // the queue episode this conversation holds, if queued
	day     string // creation date in the merchant's zone, for metrics
	routed  bool
	counted bool
	create  []string  // a new conversation's fields, until its first step stores them
	created time.Time // when a new one began
	addr    string    // where a new one's visitor connects from

	handoffDetail string // the model's words for a model_handoff, until handed off
	csatDue       bool   // ended, a person took part, not yet rated
	// assignedAt is when the conversation was last given to its agent
	// (ms), repliedAt the assignment the agent has answered in.
	assignedAt, repliedAt int64
}

// Turn is what a visitor's socket passes back with each of its frames.
func (c *Conversation) Turn() Turn {
	return Turn{ConversationID: c.ID, MerchantID: c.MerchantID, Locale: c.Locale, Status: c.Status,
		Engaged: c.counted, create: c.create, created: c.created, addr: c.addr}
}

// Rating is the visitor's rating of an ended conversation.
type Rating struct {
	Score   int    `json:"score"`
	Comment string `json:"comment,omitempty"`
	At      Time   `json:"at"`
}

// State is the part of a conversation that its sockets react to. It travels
// on the conversation's channel with a version number, so a socket that
// missed some states can apply the latest one and derive what changed.
type State struct {
	Version       int64     `json:"-"`
	Status        Status    `json:"status"`
	Agent         *AgentRef `json:"agent,omitempty"`
	Prompt        string    `json:"prompt,omitempty"`
	QueuePosition int       `json:"queue_position,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	// CSAT: the ended conversation asks the visitor for a rating (not yet
	// given).
	CSAT bool `json:"csat,omitempty"`
}

func (s State) encode() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Meta hash fields. Short names: they are repeated in every conversation.
const (
	fMerchant     = "mid"
	fStatus       = "status"
	fVersion      = "v"
	fSeq          = "seq"
	fCreated      = "created"
	fUpdated      = "updated"
	fDay          = "day"
	fEmail        = "email"
	fAuth         = "auth"
	fProfile      = "profile"
	fPage         = "page"
	fLocale       = "locale"
	fTokenHash    = "rt"
	fAgent        = "agent"
	fAgentName    = "agent_name"
	fQueuedAt     = "queued_at"
	fQueueEp      = "qe"
	fQueuePos     = "qpos"
	fRouted       = "routed"
	fCounted      = "counted"
	fLast         = "last"
	fHandoff      = "reason"        // why the assistant offered a person
	fHandoffInfo  = "reason_detail" // the model's own words for it
	fSummary      = "summary"
	fHandedAt     = "handed_at"
	fAssignedAt   = "assigned_at" // when the conversation was last given to an agent, ms
	fRepliedAt    = "replied_at"  // the assigned_at its agent has written in
	fHadAgent     = "had_agent"   // a person took part: a rating is asked for at the end
	fCSATDue      = "csat_due"    // the ended conversation asks for a rating
	fCSATAt       = "csat_at"     // when it was rated
	fPrompt       = "prompt"
	fClosedReason = "closed_reason"
	fClosedAt     = "closed_at"
	fTicket       = "ticket"
)

// stateFields are read to rebuild a State; keep in the order of parseState.
func stateFields() []string {
	return []string{fStatus, fVersion, fAgent, fAgentName, fPrompt, fQueuePos, fClosedReason, fCSATDue, fCSATAt}
}

func parseState(vals []any) (State, bool) {
	str := func(i int) string {
		if i < len(vals) {
			if s, ok := vals[i].(string); ok {
				return s
			}
		}
		return ""
	}
	if str(0) == "" {
		return State{}, false
	}
	st := State{Status: Status(str(0)), Prompt: str(4), Reason: str(6), CSAT: str(7) == "1" && str(8) == ""}
	st.Version, _ = strconv.ParseInt(str(1), 10, 64)
	st.QueuePosition, _ = strconv.Atoi(str(5))
	if a := str(2); a != "" {
		st.Agent = &AgentRef{ID: a, Name: str(3)}
	}
	if !promptStatus(st.Status) {
		st.Prompt = ""
	}
	if st.Status != StatusQueued {
		st.QueuePosition = 0
	}
	return st, true
}

// promptStatus: the statuses whose prompt (the offer, the email request) a
// returning visitor must see again.
func promptStatus(s Status) bool { return s == StatusHandoffOffered || s == StatusAwaitingEmail }

func msTime(s string) Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return Time{}
	}
	return Time{time.UnixMilli(ms).UTC()}
}

// conversationFromMeta builds a Conversation from its meta hash.
func conversationFromMeta(id string, m map[string]string) (*Conversation, bool) {
	if m[fStatus] == "" {
		return nil, false
	}
	c := &Conversation{
		ID:            id,
		MerchantID:    m[fMerchant],
		Status:        Status(m[fStatus]),
		Visitor:       Visitor{Email: NullString(m[fEmail]), Authenticated: m[fAuth] == "1", ProfileID: NullString(m[fProfile])},
		QueuedAt:      msTime(m[fQueuedAt]),
		HandoffReason: m[fHandoff],
		handoffDetail: m[fHandoffInfo],
		ClosedReason:  m[fClosedReason],
		Page:          m[fPage],
		Locale:        m[fLocale],
		CreatedAt:     msTime(m[fCreated]),
		UpdatedAt:     msTime(m[fUpdated]),
		ClosedAt:      msTime(m[fClosedAt]),
		queueEp:       m[fQueueEp],
		day:           m[fDay],
		routed:        m[fRouted] != "",
		counted:       m[fCounted] != "",
		prompt:        m[fPrompt],
	}
	c.Version, _ = strconv.ParseInt(m[fVersion], 10, 64)
	c.csatDue = m[fCSATDue] == "1" && m[fCSATAt] == ""
	if at := msTime(m[fCSATAt]); !at.IsZero() {
		score, _ := strconv.Atoi(m["csat_score"])
		c.Rating = &Rating{Score: score, Comment: m["csat_comment"], At: at}
	}
	c.assignedAt, _ = strconv.ParseInt(m[fAssignedAt], 10, 64)
	c.repliedAt, _ = strconv.ParseInt(m[fRepliedAt], 10, 64)
	c.LastSeq, _ = strconv.ParseInt(m[fSeq], 10, 64)
	if c.Status == StatusQueued {
		c.QueuePosition, _ = strconv.Atoi(m[fQueuePos])
	}
	if a := m[fAgent]; a != "" && c.Status == StatusAssigned {
		c.AgentID = NullString(a)
		c.Agent = &AgentRef{ID: a, Name: m[fAgentName]}
	}
	if l := m[fLast]; l != "" {
		var msg Message
		if json.Unmarshal([]byte(l), &msg) == nil {
			c.LastMessage = &msg
		}
	}
	if at := msTime(m[fHandedAt]); !at.IsZero() {
		c.Handoff = &HandoffInfo{Reason: m[fHandoff], Detail: m[fHandoffInfo], Summary: m[fSummary], At: at}
	}
	if t := m[fTicket]; t != "" {
		var tk Ticket
		if json.Unmarshal([]byte(t), &tk) == nil {
			c.Ticket = &tk
		}
	}
	return c, true
}

// Engaged reports whether the visitor has written or asked for a person.
func (c *Conversation) Engaged() bool { return c.counted }

// State returns the conversation's socket-facing state.
func (c *Conversation) State() State {
	st := State{Version: c.Version, Status: c.Status, Agent: c.Agent, QueuePosition: c.QueuePosition}
	if promptStatus(c.Status) {
		st.Prompt = c.prompt
	}
	if c.Status.Terminal() {
		st.Reason = c.ClosedReason
		st.CSAT = c.csatDue
	}
	return st
}
