package modeltest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a fake.
type Options struct {
	// APIKey, when set, is required as "Authorization: Bearer"; a wrong
	// or missing key gets OpenAI's 401.
	APIKey string
	// Model and EmbeddingsModel are the names the fake serves
	// ("fake-chat", "fake-embed"); another name gets OpenAI's 404.
	Model           string
	EmbeddingsModel string
	// Dims is the length of the embedding vectors (8).
	Dims int
}

// Server is a fake OpenAI-compatible server.
type Server struct {
	t    testing.TB
	srv  *httptest.Server
	opts Options
	stop chan struct{}

	mu       sync.Mutex
	queue    []Reply
	script   func(Request) Reply
	embed    func(EmbeddingsRequest) Reply
	requests []*Request
	problems []string
}

// Message is one message of a chat request.
type Message struct {
	Role    string
	Content string
}

// Request is a chat request the fake received.
type Request struct {
	N            int // from 0, over chat and embeddings requests alike
	At           time.Time
	Path         string
	Model        string
	Stream       bool
	IncludeUsage bool
	Messages     []Message
	// Handoff says the request offered the handoff tool, well formed
	// (a function with a required string "reason").
	Handoff     bool
	ToolChoice  string
	MaxTokens   int
	Temperature *float64
	Raw         json.RawMessage // the body as sent
	// Status is what the fake answered (0 while it is answering).
	Status int
	// Done: the fake has finished with the request. ClientGone: the
	// client went away before the fake had sent everything it meant to.
	Done       bool
	ClientGone bool
	Ended      time.Time
}

// System returns the request's first system message.
func (r Request) System() string {
	for _, m := range r.Messages {
		if m.Role == "system" {
			return m.Content
		}
	}
	return ""
}

// Last returns the request's last message.
func (r Request) Last() Message {
	if len(r.Messages) == 0 {
		return Message{}
	}
	return r.Messages[len(r.Messages)-1]
}

// New starts a fake; it stops when the test ends (hanging answers first).
func New(t testing.TB, o Options) *Server {
	if o.Model == "" {
		o.Model = "fake-chat"
	}
	if o.EmbeddingsModel == "" {
		o.EmbeddingsModel = "fake-embed"
	}
	if o.Dims <= 0 {
		o.Dims = 8
	}
	s := &Server{t: t, opts: o, stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/chat/completions", s.chat)
	mux.HandleFunc("/v1/embeddings", s.embeddings)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.problem("request to %s %s", r.Method, r.URL.Path)
		writeError(w, http.StatusNotFound, `{"error":{"message":"Invalid URL","type":"invalid_request_error","param":null,"code":null}}`)
	})
	s.srv = httptest.NewServer(mux)
	// Cleanups run last first: hanging handlers are let go, then the
	// server closes (it waits for its handlers).
	t.Cleanup(s.srv.Close)
	t.Cleanup(func() { close(s.stop) })
	return s
}

// URL is the fake's base URL, with its /v1.
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// Model is the chat model's name.
func (s *Server) Model() string { return s.opts.Model }

// EmbeddingsModel is the embeddings model's name.
func (s *Server) EmbeddingsModel() string { return s.opts.EmbeddingsModel }

// Enqueue adds replies for the next chat requests, in order; they go
// before the Script.
func (s *Server) Enqueue(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, r...)
}

// Script decides the replies to chat requests once the queue is empty. A
// request with neither a queued reply nor a script is a problem and gets
// a 500.
func (s *Server) Script(f func(Request) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = f
}

// Requests returns the chat requests so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if r.Path != "/v1/embeddings" {
			out = append(out, *r)
		}
	}
	return out
}

// Problems lists requests the real API would have refused (bad auth, a
// body of the wrong shape) and requests no reply was scripted for; a test
// expects none.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.problems)
}

func (s *Server) problem(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

// authorized checks the bearer key, answering 401 as OpenAI does.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.APIKey == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.APIKey)) == 1 {
		return true
	}
	s.problem("%s: missing or wrong bearer key", r.URL.Path)
	writeError(w, http.StatusUnauthorized, errorBody(http.StatusUnauthorized, got))
	return false
}

// readBody checks the method and content type and reads a JSON body.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodPost {
		s.problem("%s %s: not a POST", r.Method, r.URL.Path)
		writeError(w, http.StatusMethodNotAllowed, errorBody(http.StatusMethodNotAllowed, ""))
		return nil, false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		s.problem("%s: Content-Type %q", r.URL.Path, r.Header.Get("Content-Type"))
	}
	if !s.authorized(w, r) {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil || !json.Valid(b) {
		s.problem("%s: body is not JSON", r.URL.Path)
		writeError(w, http.StatusBadRequest, errorBody(http.StatusBadRequest, ""))
		return nil, false
	}
	return b, true
}

// wireRequest is the part of a chat request the fake reads.
type wireRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools       []json.RawMessage `json:"tools"`
	ToolChoice  json.RawMessage   `json:"tool_choice"`
	MaxTokens   *int              `json:"max_tokens"`
	Temperature *float64          `json:"temperature"`
}

// validName is OpenAI's rule for function names: ^[a-zA-Z0-9_-]{1,64}$.
func validName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// parse reads a chat request into a Request, listing what the real API
// would refuse.
func (s *Server) parse(b []byte) (Request, []string) {
	var wr wireRequest
	var bad []string
	if err := json.Unmarshal(b, &wr); err != nil {
		return Request{}, []string{"body does not decode: " + err.Error()}
	}
	req := Request{Model: wr.Model, Stream: wr.Stream, Raw: b, Temperature: wr.Temperature}
	if wr.StreamOptions != nil {
		req.IncludeUsage = wr.StreamOptions.IncludeUsage
	}
	if wr.MaxTokens != nil {
		req.MaxTokens = *wr.MaxTokens
		if *wr.MaxTokens <= 0 {
			bad = append(bad, "max_tokens must be positive")
		}
	}
	if t := wr.Temperature; t != nil && (*t < 0 || *t > 2) {
		bad = append(bad, "temperature must be within [0, 2]")
	}
	if len(wr.Messages) == 0 {
		bad = append(bad, "messages is empty")
	}
	for i, m := range wr.Messages {
		var content string
		if err := json.Unmarshal(m.Content, &content); err != nil {
			bad = append(bad, fmt.Sprintf("messages[%d].content is not a string", i))
		}
		switch m.Role {
		case "system", "user", "assistant", "developer":
		default:
			bad = append(bad, fmt.Sprintf("messages[%d].role %q", i, m.Role))
		}
		if content == "" && m.Role != "assistant" {
			bad = append(bad, fmt.Sprintf("messages[%d] (%s) is empty", i, m.Role))
		}
		req.Messages = append(req.Messages, Message{Role: m.Role, Content: content})
	}
	for i, raw := range wr.Tools {
		ok, why := handoffTool(raw)
		switch {
		case ok:
			req.Handoff = true
		case why != "":
			bad = append(bad, fmt.Sprintf("tools[%d]: %s", i, why))
		}
	}
	if len(wr.ToolChoice) > 0 {
		var choice string
		if json.Unmarshal(wr.ToolChoice, &choice) == nil {
			req.ToolChoice = choice
			if !slices.Contains([]string{"auto", "none", "required"}, choice) {
				bad = append(bad, fmt.Sprintf("tool_choice %q", choice))
			}
			if len(wr.Tools) == 0 {
				bad = append(bad, "tool_choice without tools")
			}
		}
	}
	return req, bad
}

// handoffTool checks one tool definition: ok when it is the handoff tool
// Baton means to offer; why says what the real API would refuse.
func handoffTool(raw json.RawMessage) (ok bool, why string) {
	var t struct {
		Type     string `json:"type"`
		Function *struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			Parameters  *struct {
				Type       string                     `json:"type"`
				Properties map[string]json.RawMessage `json:"properties"`
				Required   []string                   `json:"required"`
			} `json:"parameters"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return false, "not an object"
	}
	if t.Type != "function" || t.Function == nil {
		return false, `type must be "function" with a function`
	}
	f := t.Function
	if !validName(f.Name) {
		return false, fmt.Sprintf("function name %q", f.Name)
	}
	if f.Parameters == nil || f.Parameters.Type != "object" {
		return false, "parameters must be a JSON schema of type object"
	}
	if f.Name != "handoff" {
		return false, ""
	}
	var reason struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(f.Parameters.Properties["reason"], &reason)
	return reason.Type == "string" && slices.Contains(f.Parameters.Required, "reason") && f.Description != "", ""
}

// record stores a request and returns it, numbered.
func (s *Server) record(r Request) *Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.N = len(s.requests)
	s.requests = append(s.requests, &r)
	return &r
}

// finish marks a request answered.
func (s *Server) finish(r *Request, status int, gone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Status, r.Done, r.ClientGone, r.Ended = status, true, gone, time.Now()
}

// next picks the reply for a request: the queue first, then the script.
func (s *Server) next(r Request) (Reply, bool) {
	s.mu.Lock()
	if len(s.queue) > 0 {
		rep := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		return rep, true
	}
	f := s.script
	s.mu.Unlock()
	if f == nil {
		return Reply{}, false
	}
	return f(r), true
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	req, bad := s.parse(b)
	req.At, req.Path = time.Now(), r.URL.Path
	rec := s.record(req)
	switch {
	case req.Model != s.opts.Model:
		s.problem("request %d: model %q, the fake serves %q", rec.N, req.Model, s.opts.Model)
		body := fmt.Sprintf(`{"error":{"message":"The model %s does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}`, jsonString(req.Model))
		writeError(w, http.StatusNotFound, body)
		s.finish(rec, http.StatusNotFound, false)
		return
	case len(bad) > 0:
		s.problem("request %d: %s", rec.N, strings.Join(bad, "; "))
		writeError(w, http.StatusBadRequest, errorBody(http.StatusBadRequest, ""))
		s.finish(rec, http.StatusBadRequest, false)
		return
	case !req.Stream:
		s.problem("request %d: stream is not true", rec.N)
	case !req.IncludeUsage:
		s.problem("request %d: stream_options.include_usage is not true", rec.N)
	}
	rep, ok := s.next(*rec)
	if !ok {
		s.problem("request %d: no reply scripted", rec.N)
		writeError(w, http.StatusInternalServerError, errorBody(http.StatusInternalServerError, ""))
		s.finish(rec, http.StatusInternalServerError, false)
		return
	}
	status, gone := s.reply(w, r, *rec, rep)
	s.finish(rec, status, gone)
}

// wait waits d, or until the client leaves or the fake stops; it reports
// whether the client is still there.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.stop:
		return false
	}
}

// hang waits until the client leaves (true) or the fake stops (false).
func (s *Server) hang(r *http.Request) bool {
	select {
	case <-r.Context().Done():
		return true
	case <-s.stop:
		return false
	}
}

func writeError(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}
