package modeltest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// wire shapes of chat.completion.chunk (and chat.completion for JSON).
type wireChunk struct {
	ID      string       `json:"id,omitempty"`
	Object  string       `json:"object,omitempty"`
	Created int64        `json:"created,omitempty"`
	Model   string       `json:"model,omitempty"`
	Choices []wireChoice `json:"choices"`
	Usage   *Usage       `json:"usage"`
}

type wireChoice struct {
	Index        int        `json:"index"`
	Delta        *wireDelta `json:"delta,omitempty"`
	Message      *wireDelta `json:"message,omitempty"`
	FinishReason *string    `json:"finish_reason"`
}

type wireDelta struct {
	Role      string         `json:"role,omitempty"`
	Content   *string        `json:"content,omitempty"`
	ToolCalls []wireToolCall `json:"tool_calls,omitempty"`
}

type wireToolCall struct {
	Index    int    `json:"index"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// usageOf is a reply's usage: as scripted, or counted in words (prompt)
// and pieces (completion).
func usageOf(req Request, rep Reply) Usage {
	if rep.Usage != nil {
		u := *rep.Usage
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		return u
	}
	var u Usage
	for _, m := range req.Messages {
		u.PromptTokens += len(strings.Fields(m.Content))
	}
	u.CompletionTokens = len(rep.Content) + len(rep.ToolArgs)
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// reply answers a chat request as rep says; it returns the status sent
// and whether the client left before the fake was done.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, req Request, rep Reply) (status int, gone bool) {
	if rep.HangBeforeHeaders {
		return 0, s.hang(r)
	}
	if rep.Status != 0 {
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		body := rep.Body
		if body == "" {
			body = errorBody(rep.Status, "")
		}
		writeError(w, rep.Status, body)
		return rep.Status, false
	}
	finish := rep.Finish
	if finish == "" {
		finish = "stop"
		if len(rep.ToolArgs) > 0 {
			finish = "tool_calls"
		}
	}
	name := rep.ToolName
	if name == "" {
		name = "handoff"
	}
	usage := usageOf(req, rep)
	base := wireChunk{ID: fmt.Sprintf("chatcmpl-fake%d", req.N), Object: "chat.completion.chunk", Created: req.At.Unix(), Model: s.opts.Model}
	if rep.OmitIDs {
		base = wireChunk{}
	}
	if rep.JSON {
		return s.replyJSON(w, base, rep, name, finish, usage), false
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	send := func(c wireChunk) bool {
		if !s.wait(r, rep.Delay) {
			return false
		}
		if rep.KeepAlive {
			_, _ = io.WriteString(w, ": keep-alive\n\n")
		}
		b, _ := json.Marshal(c)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return r.Context().Err() == nil
	}
	chunk := func(d *wireDelta, fin *string) wireChunk {
		c := base
		c.Choices = []wireChoice{{Delta: d, FinishReason: fin}}
		return c
	}
	empty := ""
	if !send(chunk(&wireDelta{Role: "assistant", Content: &empty}, nil)) {
		return 200, true
	}
	for i, piece := range rep.Content {
		if rep.Hang && i == rep.HangAfter {
			return 200, s.hang(r)
		}
		if !send(chunk(&wireDelta{Content: &piece}, nil)) {
			return 200, true
		}
	}
	if rep.Hang && rep.HangAfter >= len(rep.Content) {
		return 200, s.hang(r)
	}
	if len(rep.ToolArgs) > 0 {
		// As OpenAI streams a call: its id and name with empty
		// arguments, then the arguments in fragments.
		tc := wireToolCall{ID: fmt.Sprintf("call_fake%d", req.N), Type: "function"}
		tc.Function.Name = name
		if !send(chunk(&wireDelta{ToolCalls: []wireToolCall{tc}}, nil)) {
			return 200, true
		}
	}
	for _, frag := range rep.ToolArgs {
		tc := wireToolCall{}
		tc.Function.Arguments = frag
		if !send(chunk(&wireDelta{ToolCalls: []wireToolCall{tc}}, nil)) {
			return 200, true
		}
	}
	switch {
	case rep.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
			}
		}
		return 200, false
	case rep.Cut:
		return 200, false
	case rep.StreamError != "":
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": rep.StreamError, "type": "server_error", "param": nil, "code": nil}})
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		return 200, false
	}
	last := chunk(&wireDelta{}, &finish)
	if finish == "none" {
		last = chunk(&wireDelta{}, nil)
	}
	if rep.UsageInLast && !rep.NoUsage {
		last.Usage = &usage
	}
	if !send(last) {
		return 200, true
	}
	if !rep.NoUsage && !rep.UsageInLast {
		u := base
		u.Choices = []wireChoice{}
		u.Usage = &usage
		if !send(u) {
			return 200, true
		}
	}
	if !rep.NoDone {
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}
	return 200, false
}

// replyJSON answers one chat.completion, as a server that does not stream.
func (s *Server) replyJSON(w http.ResponseWriter, base wireChunk, rep Reply, name, finish string, usage Usage) int {
	msg := &wireDelta{Role: "assistant"}
	text := strings.Join(rep.Content, "")
	msg.Content = &text
	if len(rep.ToolArgs) > 0 {
		tc := wireToolCall{ID: "call_fake", Type: "function"}
		tc.Function.Name, tc.Function.Arguments = name, strings.Join(rep.ToolArgs, "")
		msg.ToolCalls = []wireToolCall{tc}
	}
	c := base
	if c.Object != "" {
		c.Object = "chat.completion"
	}
	c.Choices = []wireChoice{{Message: msg, FinishReason: &finish}}
	c.Usage = &usage
	b, _ := json.Marshal(c)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return http.StatusOK
}
