package gateway

import (
	"encoding/json"

	"github.com/batonchat/baton/session"
)

// inFrame is any frame a widget may send; Type says which fields matter.
type inFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	ResumeToken    string `json:"resume_token"`
	LastSeq        *int64 `json:"last_seq"`
	Identity       string `json:"identity"`
	Reopen         string `json:"reopen"` // a reopen link's token, instead of conversation_id and resume_token
	Locale         string `json:"locale"`
	Page           string `json:"page"`
	ClientID       string `json:"client_id"`
	Text           string `json:"text"`
	Accept         *bool  `json:"accept"`
	Email          string `json:"email"`
	Active         *bool  `json:"active"`
	Score          *int   `json:"score"`
	Comment        string `json:"comment"`
}

type officeJSON struct {
	Open     bool         `json:"open"`
	NextOpen session.Time `json:"next_open"`
}

type welcomeFrame struct {
	Type             string         `json:"type"`
	ConversationID   string         `json:"conversation_id"`
	ResumeToken      string         `json:"resume_token"`
	Status           session.Status `json:"status"`
	LastSeq          int64          `json:"last_seq"`
	Office           officeJSON     `json:"office"`
	Recovered        *bool          `json:"recovered,omitempty"`
	Locale           string         `json:"locale"`
	Merchant         string         `json:"merchant"`
	HandoffAvailable bool           `json:"handoff_available"`
	Authenticated    bool           `json:"authenticated"`
}

type statusFrame struct {
	Type          string         `json:"type"`
	Status        session.Status `json:"status"`
	QueuePosition int            `json:"queue_position,omitempty"`
}

// queuedFrame is the status while queued: the position and the wait
// estimate in seconds, null when there is nothing to estimate from.
type queuedFrame struct {
	Type          string         `json:"type"`
	Status        session.Status `json:"status"`
	QueuePosition int            `json:"queue_position"`
	WaitEstimateS *int           `json:"wait_estimate_s"`
}

type promptFrame struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type agentFrame struct {
	Type  string            `json:"type"`
	Agent *session.AgentRef `json:"agent"`
}

type typingFrame struct {
	Type   string       `json:"type"`
	Role   session.Role `json:"role"`
	Active bool         `json:"active"`
}

// draftFrame is a streamed answer's progress: message_delta adds Text to
// the draft, draft_dropped says its answer will not come.
type draftFrame struct {
	Type    string `json:"type"`
	DraftID string `json:"draft_id"`
	Text    string `json:"text,omitempty"`
}

type closedFrame struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

type errorFrame struct {
	Type     string `json:"type"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	ClientID string `json:"client_id,omitempty"`
	Fatal    bool   `json:"fatal,omitempty"`
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Every frame type here is plain data; this cannot happen.
		panic("gateway: encoding a frame: " + err.Error())
	}
	return b
}

// messageFrame turns a stored entry {"seq":...} into {"type":"message","seq":...}
// without decoding it.
func messageFrame(entry []byte) []byte {
	const head = `{"type":"message",`
	b := make([]byte, 0, len(head)+len(entry))
	b = append(b, head...)
	return append(b, entry[1:]...)
}
