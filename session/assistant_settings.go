package session

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// AssistantMode says who writes the assistant's answers.
type AssistantMode string

const (
	// ModeBuiltin: the built-in assistant answers from the knowledge entries
	// as written.
	ModeBuiltin AssistantMode = "builtin"
	// ModeModel: the deployment's language model writes the answers from
	// the most relevant entries, streaming them.
	ModeModel AssistantMode = "model"
)

// AssistantSettings are a merchant's choices for the assistant.
type AssistantSettings struct {
	Mode AssistantMode `json:"mode"`
	// Instructions are the merchant's words for the model (tone, what to
	// say about the shop); they cannot override its rules.
	Instructions string `json:"instructions"`
}

// maxInstructions bounds the merchant's instructions (characters).
const maxInstructions = 4000

// Validate checks the settings, naming the field at fault.
func (a *AssistantSettings) Validate() error {
	a.Instructions = strings.TrimSpace(a.Instructions)
	switch a.Mode {
	case ModeBuiltin, ModeModel:
	default:
		return newErr(KindInvalid, "invalid_assistant", "mode must be builtin or model")
	}
	if n := utf8.RuneCountInString(a.Instructions); n > maxInstructions {
		return newErr(KindInvalid, "invalid_assistant", "instructions are %d characters; at most %d", n, maxInstructions)
	}
	return nil
}

// ModelAvailable reports whether this deployment has a model to use.
func (s *Service) ModelAvailable() bool { return s.gen != nil }

// SetAssistant stores a merchant's assistant settings. mode model needs a
// model in this deployment (422 model_unavailable).
func (s *Service) SetAssistant(ctx context.Context, merchantID string, a AssistantSettings) (*AssistantSettings, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if a.Mode == ModeModel && !s.ModelAvailable() {
		return nil, &Error{Kind: KindRefused, Code: "model_unavailable",
			Message: "this deployment has no language model (BATON_MODEL_BASE_URL and BATON_MODEL_NAME are not set)"}
	}
	if _, err := s.Merchant(ctx, merchantID); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(a)
	if err := s.writeConfig(ctx, merchantID, cAssistant, b); err != nil {
		return nil, err
	}
	return &a, nil
}

// usesModel reports whether m's answers come from the model now.
func (s *Service) usesModel(m *Merchant) bool {
	return s.gen != nil && m.Assistant.Mode == ModeModel
}
