package modeltest

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"strings"
	"time"
)

// EmbeddingsRequest is an embeddings request the fake received.
type EmbeddingsRequest struct {
	N     int
	Model string
	Input []string
}

// ScriptEmbeddings decides the answers to embeddings requests: only the
// fault fields of a Reply count (Status, Body, RetryAfter, Hang*, Delay);
// the zero Reply answers with Vector of each input.
func (s *Server) ScriptEmbeddings(f func(EmbeddingsRequest) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.embed = f
}

// EmbeddingsRequests returns the embeddings requests so far.
func (s *Server) EmbeddingsRequests() []EmbeddingsRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []EmbeddingsRequest
	for _, r := range s.requests {
		if r.Path == "/v1/embeddings" {
			var er struct {
				Model string `json:"model"`
			}
			_ = json.Unmarshal(r.Raw, &er)
			out = append(out, EmbeddingsRequest{N: r.N, Model: er.Model, Input: embedInput(r.Raw)})
		}
	}
	return out
}

// Vector is the fake's embedding of text: deterministic, unit length, and
// the same for texts that differ only in case and spacing.
func Vector(text string, dims int) []float32 {
	key := strings.Join(strings.Fields(strings.ToLower(text)), " ")
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		_, _ = h.Write(b[:])
		_, _ = h.Write([]byte(key))
		x := float64(h.Sum64()%2001)/1000 - 1
		v[i] = float32(x)
		norm += x * x
	}
	norm = math.Sqrt(norm)
	if norm > 0 {
		for i := range v {
			v[i] = float32(float64(v[i]) / norm)
		}
	}
	return v
}

func embedInput(raw []byte) []string {
	var one struct {
		Input json.RawMessage `json:"input"`
	}
	_ = json.Unmarshal(raw, &one)
	var many []string
	if json.Unmarshal(one.Input, &many) == nil {
		return many
	}
	var single string
	if json.Unmarshal(one.Input, &single) == nil {
		return []string{single}
	}
	return nil
}

// embeddings answers with the data in reverse order: the API names each
// vector's input by index, and a client must not rely on the order.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var body struct {
		Model string `json:"model"`
	}
	_ = json.Unmarshal(b, &body)
	rec := s.record(Request{At: time.Now(), Path: r.URL.Path, Model: body.Model, Raw: b})
	input := embedInput(b)
	switch {
	case body.Model != s.opts.EmbeddingsModel:
		s.problem("embeddings request %d: model %q, the fake serves %q", rec.N, body.Model, s.opts.EmbeddingsModel)
		writeError(w, http.StatusNotFound, `{"error":{"message":"The model does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}`)
		s.finish(rec, http.StatusNotFound, false)
		return
	case len(input) == 0:
		s.problem("embeddings request %d: input is not a string or a non-empty list of strings", rec.N)
		writeError(w, http.StatusBadRequest, errorBody(http.StatusBadRequest, ""))
		s.finish(rec, http.StatusBadRequest, false)
		return
	}
	s.mu.Lock()
	f := s.embed
	s.mu.Unlock()
	var rep Reply
	if f != nil {
		rep = f(EmbeddingsRequest{N: rec.N, Model: body.Model, Input: input})
	}
	if rep.HangBeforeHeaders || rep.Hang {
		s.finish(rec, 0, s.hang(r))
		return
	}
	if !s.wait(r, rep.Delay) {
		s.finish(rec, 0, true)
		return
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
		s.finish(rec, rep.Status, false)
		return
	}
	type datum struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]datum, 0, len(input))
	tokens := 0
	for i := len(input) - 1; i >= 0; i-- {
		data = append(data, datum{Object: "embedding", Index: i, Embedding: Vector(input[i], s.opts.Dims)})
		tokens += len(strings.Fields(input[i]))
	}
	out, _ := json.Marshal(map[string]any{
		"object": "list", "data": data, "model": s.opts.EmbeddingsModel,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
	s.finish(rec, http.StatusOK, false)
}
