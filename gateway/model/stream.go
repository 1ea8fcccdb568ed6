package model

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/batonchat/baton/session"
)

// chatRequest is the body of POST {base}/chat/completions.
type chatRequest struct {
	Model         string         `json:"model"`
	Messages      []chatMessage  `json:"messages"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
	Tools         []tool         `json:"tools,omitempty"`
	ToolChoice    string         `json:"tool_choice,omitempty"`
	MaxTokens     int            `json:"max_tokens,omitempty"`
	Temperature   *float64       `json:"temperature,omitempty"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type tool struct {
	Type     string       `json:"type"`
	Function toolFunction `json:"function"`
}

type toolFunction struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Parameters  map[string]any `json:"parameters"`
}

// chunk is one chat.completion.chunk of a stream, or (Message set) a whole
// chat.completion from a server that did not stream.
type chunk struct {
	Choices []struct {
		Index        int    `json:"index"`
		Delta        delta  `json:"delta"`
		Message      *delta `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *wireUsage      `json:"usage"`
	Error json.RawMessage `json:"error"`
}

type delta struct {
	Content   fragment        `json:"content"`
	ToolCalls []toolCallDelta `json:"tool_calls"`
	// FunctionCall is the deprecated single call some servers still send.
	FunctionCall *functionDelta `json:"function_call"`
}

type toolCallDelta struct {
	Index    *int          `json:"index"`
	ID       string        `json:"id"`
	Function functionDelta `json:"function"`
}

type functionDelta struct {
	Name      fragment `json:"name"`
	Arguments fragment `json:"arguments"`
}

// fragment is a piece of text: a JSON string, or (liberally, for servers
// that send tool arguments as an object) any other JSON value as it is.
type fragment string

func (f *fragment) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = fragment(s)
	default:
		*f = fragment(b)
	}
	return nil
}

type wireUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// toolCall is a tool call put together from its fragments.
type toolCall struct {
	name string
	args strings.Builder
}

// streamed is what a stream came to, besides its text.
type streamed struct {
	finish string
	calls  []*toolCall // in the order their indexes first came
	usage  session.ModelUsage
}

// handoff returns the reason of the first tool call, and whether there
// was one. Baton offers one tool; any call is taken as that one.
func (s *streamed) handoff() (reason string, ok bool) {
	if len(s.calls) == 0 {
		return "", false
	}
	var args struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal([]byte(s.calls[0].args.String()), &args)
	r, cut := session.Clip(strings.Join(strings.Fields(args.Reason), " "), 300)
	if cut {
		r += "…"
	}
	return r, true
}

// stream makes a chat call and reads its answer, passing the text on as
// it arrives.
func (c *Client) stream(cl *call, body chatRequest, onText func(string)) (*streamed, error) {
	res, err := c.post(cl, c.chatURL, body)
	if err != nil {
		return &streamed{}, err
	}
	defer res.Body.Close()
	// Silence is measured from the headers on: before them, only the
	// whole-call timeout applies (a local model may read a long prompt
	// for a while before it sends anything).
	stall := time.AfterFunc(c.opts.IdleTimeout, func() { cl.cancel(errStalled) })
	defer stall.Stop()
	rd := &streamReader{r: res.Body, idle: c.opts.IdleTimeout, timer: stall}
	out := &streamed{}
	calls := map[int]*toolCall{}
	var parseErr error
	handle := func(ch *chunk) error {
		if len(ch.Error) > 0 && string(ch.Error) != "null" {
			return c.streamError(cl, ch.Error)
		}
		if u := ch.Usage; u != nil && (u.PromptTokens > 0 || u.CompletionTokens > 0) {
			out.usage = session.ModelUsage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
		}
		for _, choice := range ch.Choices {
			if choice.Index != 0 {
				continue
			}
			d := choice.Delta
			if choice.Message != nil {
				d = *choice.Message
			}
			if d.Content != "" {
				onText(string(d.Content))
			}
			if d.FunctionCall != nil {
				d.ToolCalls = append(d.ToolCalls, toolCallDelta{Function: *d.FunctionCall})
			}
			for _, tc := range d.ToolCalls {
				i := 0
				if tc.Index != nil {
					i = *tc.Index
				}
				call := calls[i]
				if call == nil {
					call = &toolCall{}
					calls[i] = call
					out.calls = append(out.calls, call)
				}
				// Some servers repeat the name in every fragment.
				if n := string(tc.Function.Name); n != "" && n != call.name {
					call.name += n
				}
				call.args.WriteString(string(tc.Function.Arguments))
			}
			if choice.FinishReason != "" {
				out.finish = choice.FinishReason
			}
		}
		return nil
	}

	if isJSON(res.Header.Get("Content-Type")) {
		// A server that ignored stream:true answers one chat.completion.
		b, err := io.ReadAll(rd)
		if err != nil {
			return out, c.readFailed(cl, err)
		}
		var ch chunk
		if err := json.Unmarshal(b, &ch); err != nil {
			return out, &session.ModelError{Kind: session.ModelUnavailable, Message: "the answer was not a chat completion"}
		}
		if err := handle(&ch); err != nil {
			return out, err
		}
		if out.finish == "" {
			out.finish = "stop"
		}
		return out, nil
	}

	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 16<<10), maxStream)
	for sc.Scan() {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue // blank lines, ": keep-alive" comments, event:, id:
		}
		data = bytes.TrimSpace(data)
		if string(data) == "[DONE]" {
			return out, nil
		}
		if len(data) == 0 {
			continue
		}
		var ch chunk
		if err := json.Unmarshal(data, &ch); err != nil {
			// One bad line is the server's fault, not a reason to drop a
			// good answer; a stream of them ends without finish_reason.
			parseErr = err
			continue
		}
		if err := handle(&ch); err != nil {
			return out, err
		}
	}
	if err := sc.Err(); err != nil {
		return out, c.readFailed(cl, err)
	}
	if out.finish != "" {
		return out, nil // liberal: some servers end without [DONE]
	}
	msg := "the stream ended before the answer was complete"
	if parseErr != nil {
		msg += " (it held lines that were not JSON)"
	}
	return out, &session.ModelError{Kind: session.ModelUnavailable, Message: msg}
}

// readFailed classifies a stream that broke while it was read.
func (c *Client) readFailed(cl *call, err error) error {
	if errors.Is(err, errTooLong) || errors.Is(err, bufio.ErrTooLong) {
		return &session.ModelError{Kind: session.ModelUnavailable, Message: fmt.Sprintf("the answer passed %d bytes", maxStream)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) && cl.ctx.Err() == nil {
		return &session.ModelError{Kind: session.ModelUnavailable, Message: "the stream broke off"}
	}
	return c.failed(cl, err)
}

// streamError classifies an error the server sent inside a stream.
func (c *Client) streamError(cl *call, raw json.RawMessage) error {
	var e apiError
	if json.Unmarshal(raw, &e) != nil {
		var s string
		_ = json.Unmarshal(raw, &s)
		e.Message = s
	}
	kind := session.ModelUnavailable
	if d := strings.ToLower(e.Type + " " + string(e.Code)); strings.Contains(d, "rate_limit") || strings.Contains(d, "429") {
		kind = session.ModelRateLimited
	}
	return &session.ModelError{Kind: kind, Message: "error in the stream: " + cl.scrub(e.describe())}
}

func isJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json"
}

var errTooLong = errors.New("answer too long")

// streamReader counts a stream's bytes against maxStream and restarts the
// stall timer whenever bytes come.
type streamReader struct {
	r     io.Reader
	idle  time.Duration
	timer *time.Timer
	n     int
}

func (s *streamReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.idle)
		s.n += n
		if s.n > maxStream {
			return n, errTooLong
		}
	}
	return n, err
}
