package model

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/batonchat/baton/session"
)

// embedBatch bounds the texts sent in one embeddings call (OpenAI takes up
// to 2048; local servers fewer); each batch has its own Timeout.
const embedBatch = 128

type embedRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type embedResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Usage wireUsage `json:"usage"`
}

// Embed implements session.Embedder: one vector per text, in the texts'
// order. It needs Options.EmbeddingsModel.
func (c *Client) Embed(ctx context.Context, texts []string) ([][]float32, session.ModelUsage, error) {
	var usage session.ModelUsage
	if c.opts.EmbeddingsModel == "" {
		return nil, usage, &session.ModelError{Kind: session.ModelRejected, Message: "no embeddings model is configured"}
	}
	out := make([][]float32, 0, len(texts))
	for len(texts) > 0 {
		n := min(len(texts), embedBatch)
		vs, u, err := c.embed(ctx, texts[:n])
		usage.PromptTokens += u.PromptTokens
		if err != nil {
			return nil, usage, err
		}
		out = append(out, vs...)
		texts = texts[n:]
	}
	return out, usage, nil
}

func (c *Client) embed(ctx context.Context, texts []string) ([][]float32, session.ModelUsage, error) {
	// Embedded texts are the merchant's entries or the visitor's words:
	// neither may come back in an error.
	cl, done := c.newCall(ctx, append([]string{c.opts.APIKey}, texts...))
	defer done()
	vs, u, err := c.embedCall(cl, texts)
	if err != nil {
		err = c.failed(cl, err)
	}
	c.logDone(cl, "embed", u, err)
	return vs, u, err
}

func (c *Client) embedCall(cl *call, texts []string) ([][]float32, session.ModelUsage, error) {
	res, err := c.post(cl, c.embedURL, embedRequest{Model: c.opts.EmbeddingsModel, Input: texts})
	if err != nil {
		return nil, session.ModelUsage{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxEmbeddings+1))
	if err != nil {
		return nil, session.ModelUsage{}, err
	}
	bad := func(format string, args ...any) error {
		return &session.ModelError{Kind: session.ModelUnavailable, Message: fmt.Sprintf(format, args...)}
	}
	if len(b) > maxEmbeddings {
		return nil, session.ModelUsage{}, bad("the embeddings answer passed %d bytes", maxEmbeddings)
	}
	var er embedResponse
	if err := json.Unmarshal(b, &er); err != nil {
		return nil, session.ModelUsage{}, bad("the embeddings answer was not JSON")
	}
	usage := session.ModelUsage{PromptTokens: er.Usage.PromptTokens}
	if len(er.Data) != len(texts) {
		return nil, usage, bad("%d embeddings for %d texts", len(er.Data), len(texts))
	}
	out := make([][]float32, len(texts))
	dims := len(er.Data[0].Embedding)
	for _, d := range er.Data {
		switch {
		case d.Index < 0 || d.Index >= len(texts) || out[d.Index] != nil:
			return nil, usage, bad("an embedding with index %d", d.Index)
		case len(d.Embedding) == 0 || len(d.Embedding) != dims:
			return nil, usage, bad("embeddings of %d and %d dimensions", dims, len(d.Embedding))
		}
		out[d.Index] = d.Embedding
	}
	return out, usage, nil
}
