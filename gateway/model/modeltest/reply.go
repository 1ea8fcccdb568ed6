package modeltest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"
)

// Reply is what the fake answers to one request. The zero Reply streams an
// empty answer that ends with finish_reason "stop".
type Reply struct {
	// Content is streamed one piece per chunk, as the pieces are (a
	// citation marker may be split across them).
	Content []string
	// ToolArgs, when set, make the answer a call of ToolName ("handoff")
	// whose arguments arrive in these fragments, after Content.
	ToolArgs []string
	ToolName string
	// Finish is the finish_reason; empty: "tool_calls" with ToolArgs, else
	// "stop". "none" sends no finish_reason.
	Finish string
	// Usage is reported in a last chunk with empty choices, as OpenAI does
	// with stream_options.include_usage; nil counts words (see Request).
	// NoUsage leaves it out; UsageInLast puts it in the finishing chunk
	// instead, as some servers do.
	Usage       *Usage
	NoUsage     bool
	UsageInLast bool
	// OmitIDs leaves out id, object, created and model, as some servers do.
	OmitIDs bool
	// KeepAlive sends an SSE comment (": keep-alive") before every chunk.
	KeepAlive bool
	// Delay waits this long before every chunk; a client that leaves
	// during it ends the stream.
	Delay time.Duration
	// NoDone ends the stream without "data: [DONE]" (finish_reason is sent).
	NoDone bool
	// Cut ends the response after Content: no finish_reason, no usage, no
	// [DONE]. Drop does the same by closing the connection mid-response.
	Cut  bool
	Drop bool
	// StreamError sends an error object inside the stream after Content
	// and ends it, as OpenAI does when a stream fails midway.
	StreamError string
	// Hang stops after HangAfter pieces of Content (the headers and the
	// role chunk have gone out) and waits until the client leaves.
	// HangBeforeHeaders waits before anything at all is sent.
	Hang              bool
	HangAfter         int
	HangBeforeHeaders bool
	// Status answers this error status with Body (an OpenAI-shaped error
	// body for the status when empty) and, when set, Retry-After.
	Status     int
	Body       string
	RetryAfter string
	// JSON answers one non-streamed chat.completion, as a server that
	// ignores stream:true would.
	JSON bool
}

// Usage is a reply's token count.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Text streams s in pieces of size bytes (whole runes).
func Text(s string, size int) Reply { return Reply{Content: Split(s, size)} }

// Chunks streams the pieces as they are.
func Chunks(pieces ...string) Reply { return Reply{Content: pieces} }

// Handoff calls the handoff tool with reason, its arguments split into
// about n fragments.
func Handoff(reason string, n int) Reply {
	b, _ := json.Marshal(map[string]string{"reason": reason})
	size := max(1, (len(b)+n-1)/max(n, 1))
	return Reply{ToolArgs: Split(string(b), size)}
}

// Fail answers status with the OpenAI-shaped error body for it and, when
// retryAfter is set, a Retry-After header (seconds or an HTTP-date).
func Fail(status int, retryAfter string) Reply {
	return Reply{Status: status, RetryAfter: retryAfter}
}

// Split cuts s into pieces of size bytes, never inside a rune.
func Split(s string, size int) []string {
	size = max(size, 1)
	var out []string
	for len(s) > 0 {
		n := min(size, len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

// errorBody is the error body OpenAI sends for a status.
func errorBody(status int, key string) string {
	type apiErr struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	str := func(s string) *string { return &s }
	var e apiErr
	switch {
	case status == http.StatusUnauthorized:
		e = apiErr{Message: fmt.Sprintf("Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.", mask(key)),
			Type: "invalid_request_error", Code: str("invalid_api_key")}
	case status == http.StatusTooManyRequests:
		e = apiErr{Message: "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
			Type: "requests", Code: str("rate_limit_exceeded")}
	case status >= 500:
		e = apiErr{Message: "The server had an error while processing your request. Sorry about that!", Type: "server_error"}
	default:
		e = apiErr{Message: "Invalid request.", Type: "invalid_request_error"}
	}
	b, _ := json.Marshal(map[string]apiErr{"error": e})
	return string(b)
}

// mask shows a key the way OpenAI's 401 does: its start and end.
func mask(key string) string {
	if len(key) < 8 {
		return "***"
	}
	return key[:3] + "***" + key[len(key)-4:]
}
