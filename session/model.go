package session

import (
	"context"
	"errors"
	"time"
)

// Model is a language model that writes the assistant's answers from the
// merchant's entries (package gateway/model speaks to an OpenAI-compatible
// one). The core decides what it sees and what happens with what it says;
// the adapter owns the prompt's wording and the wire format.
type Model interface {
	// Answer writes an answer to the conversation's last visitor message
	// from req.Entries, or asks for a person. delta receives the answer's
	// text as it is generated, in order (citation markers already taken
	// out); it is called from Answer's goroutine and must not block long.
	// Answer returns when the answer is complete, ctx ends, or the model
	// fails.
	Answer(ctx context.Context, req ModelRequest, delta func(text string)) (ModelAnswer, error)
	// Summarize writes a short summary of the conversation for the person
	// who takes it over.
	Summarize(ctx context.Context, req ModelRequest) (string, ModelUsage, error)
}

// Embedder turns texts into vectors for retrieval (a model's embeddings
// endpoint). Optional.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, ModelUsage, error)
}

// ModelRequest is what the model is given.
type ModelRequest struct {
	MerchantID   string
	MerchantName string
	Locale       string // the conversation's: the answer's language
	// Instructions are the merchant's own words for the assistant (tone,
	// what to say about itself); they never override the rules.
	Instructions string
	// History is the conversation so far, oldest first, ending with the
	// visitor's message to answer.
	History []Message
	// Entries are the merchant's most relevant knowledge entries, best
	// first: the only facts the model may answer from.
	Entries []KnowledgeEntry
}

// ModelAnswer is what the model made of a request.
type ModelAnswer struct {
	Text    string   // the answer as the visitor reads it
	Sources []string // the entries it cited, by id, in order of first citation
	// Handoff: the model asked for a person instead (its handoff tool),
	// for Reason.
	Handoff bool
	Reason  string
	Usage   ModelUsage
}

// ModelUsage counts a call's tokens, as the model reported them.
type ModelUsage struct {
	PromptTokens     int
	CompletionTokens int
}

// ModelError is a failed model call: the adapter classifies it so that the
// core can log and count it by kind. Whatever the kind, the core answers
// the visitor some other way.
type ModelError struct {
	Kind       ModelErrorKind
	Status     int           // the HTTP status, when there was one
	RetryAfter time.Duration // from a 429
	Message    string        // safe to log: never the API key, never the visitor's words
}

// ModelErrorKind says how a model call failed.
type ModelErrorKind string

const (
	ModelTimeout     ModelErrorKind = "timeout"
	ModelRateLimited ModelErrorKind = "rate_limited"
	ModelUnavailable ModelErrorKind = "unavailable" // 5xx, refused connection, broken stream
	ModelRejected    ModelErrorKind = "rejected"    // 4xx other than 429: the request or key is wrong
)

func (e *ModelError) Error() string { return "model " + string(e.Kind) + ": " + e.Message }

// ModelErrorKindOf classifies err; a context deadline counts as a timeout.
func ModelErrorKindOf(err error) ModelErrorKind {
	var me *ModelError
	if errors.As(err, &me) {
		return me.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ModelTimeout
	}
	return ModelUnavailable
}
