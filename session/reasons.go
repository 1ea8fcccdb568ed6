package session

import (
	"strings"
	"unicode/utf8"
)

// Why a conversation was handed to the team. The values are part of the
// public contract.
const (
	ReasonVisitorAsked = "visitor_asked" // the visitor asked for a person
	ReasonUnsure       = "unsure"        // the assistant had no confident answer
	ReasonModelHandoff = "model_handoff" // the model chose to hand over (its reason is the detail)
	ReasonModelError   = "model_error"   // the model failed and the built-in assistant had no answer
)

// Reasons lists every handoff reason.
func Reasons() []string {
	return []string{ReasonVisitorAsked, ReasonUnsure, ReasonModelHandoff, ReasonModelError}
}

// HandoffInfo is why and when a conversation went to the team, with a
// summary for the person taking over.
type HandoffInfo struct {
	Reason  string `json:"reason"`
	Detail  string `json:"detail,omitempty"`
	Summary string `json:"summary"`
	At      Time   `json:"at"`
}

// maxSummary and maxDetail bound what the team reads at the top of a
// conversation (bytes).
const (
	maxSummary = 600
	maxDetail  = 300
)

// extractiveSummary says, without a model, what the visitor wants (their
// first and, when different, last substantive message) and what the
// assistant already answered, in the team's language.
func extractiveSummary(msgs []Message, locale string) string {
	tx := textsFor(locale)
	var asked []string
	var said string
	for _, m := range msgs {
		text := strings.Join(strings.Fields(m.Text), " ")
		switch m.Role {
		case RoleVisitor:
			if utf8.RuneCountInString(text) >= 8 && yesNo(text) == 0 {
				asked = append(asked, text)
			}
		case RoleAssistant:
			if !cannedAssistantText(text) {
				said = text
			}
		}
	}
	var parts []string
	switch len(asked) {
	case 0:
	case 1:
		parts = append(parts, fmtText(tx.SummaryAsked, quoteShort(asked[0], 200)))
	default:
		parts = append(parts, fmtText(tx.SummaryAsked, quoteShort(asked[0], 150)+" … "+quoteShort(asked[len(asked)-1], 150)))
	}
	if said != "" {
		parts = append(parts, fmtText(tx.SummarySaid, quoteShort(said, 200)))
	}
	if len(parts) == 0 {
		return tx.SummaryNothing
	}
	s, _ := Clip(strings.Join(parts, " "), maxSummary)
	return s
}

func quoteShort(s string, n int) string {
	if c, cut := Clip(s, n); cut {
		return "«" + c + "…»"
	}
	return "«" + s + "»"
}

// cannedAssistantText: Baton's own words in the assistant's voice (the
// answer to a declined offer), which say nothing about the question.
func cannedAssistantText(text string) bool {
	for _, l := range Locales() {
		if text == textsFor(l).Declined {
			return true
		}
	}
	return false
}
