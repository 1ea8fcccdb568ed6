package model_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/model"
	"github.com/batonchat/baton/gateway/model/modeltest"
	"github.com/batonchat/baton/session"
)

func TestEmbed(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{APIKey: apiKey, Dims: 16})
	c, _ := newClient(t, fake, model.Options{EmbeddingsModel: fake.EmbeddingsModel()})
	texts := []string{"How long does shipping take?", "Can I return a bike?", "How can I pay?", "Opening hours", "Do you ship to Belgium?"}
	vs, usage, err := c.Embed(context.Background(), texts)
	require.NoError(t, err)
	require.Len(t, vs, len(texts))
	for i, text := range texts {
		// The fake answers in reverse order: the vectors are put back by
		// index.
		require.Equal(t, modeltest.Vector(text, 16), vs[i], text)
	}
	require.Equal(t, 5+5+4+2+5, usage.PromptTokens) // the fake counts words
	require.Empty(t, fake.Problems())
	got := fake.EmbeddingsRequests()
	require.Len(t, got, 1)
	require.Equal(t, texts, got[0].Input)
	require.Equal(t, "fake-embed", got[0].Model)
}

func TestEmbedInBatches(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
	c, _ := newClient(t, fake, model.Options{EmbeddingsModel: fake.EmbeddingsModel()})
	var texts []string
	for i := range 300 {
		texts = append(texts, fmt.Sprintf("entry number %d", i))
	}
	vs, usage, err := c.Embed(context.Background(), texts)
	require.NoError(t, err)
	for i, text := range texts {
		require.Equal(t, modeltest.Vector(text, 8), vs[i], text)
	}
	require.Equal(t, 900, usage.PromptTokens)
	require.Len(t, fake.EmbeddingsRequests(), 3)
	require.Empty(t, fake.Problems())

	vs, _, err = c.Embed(context.Background(), nil)
	require.NoError(t, err)
	require.Empty(t, vs)
	require.Len(t, fake.EmbeddingsRequests(), 3, "nothing to embed, no call")
}

func TestEmbedErrors(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
	c, _ := newClient(t, fake, model.Options{EmbeddingsModel: fake.EmbeddingsModel()})
	fake.ScriptEmbeddings(func(r modeltest.EmbeddingsRequest) modeltest.Reply {
		if r.N == 0 {
			return modeltest.Fail(429, "3")
		}
		return modeltest.Fail(500, "")
	})
	_, _, err := c.Embed(context.Background(), []string{"a"})
	me := kindOf(t, err)
	require.Equal(t, session.ModelRateLimited, me.Kind)
	require.Equal(t, 3e9, float64(me.RetryAfter))
	_, _, err = c.Embed(context.Background(), []string{"a"})
	require.Equal(t, session.ModelUnavailable, kindOf(t, err).Kind)

	none, _ := newClient(t, fake, model.Options{})
	_, _, err = none.Embed(context.Background(), []string{"a"})
	require.Equal(t, session.ModelRejected, kindOf(t, err).Kind)
}

// TestEmbedChecksTheAnswer: a server that answers fewer vectors than
// texts, or vectors of different lengths, is not believed.
func TestEmbedChecksTheAnswer(t *testing.T) {
	for name, body := range map[string]string{
		"too few":        `{"data":[{"index":0,"embedding":[0.1,0.2]}]}`,
		"index twice":    `{"data":[{"index":0,"embedding":[0.1]},{"index":0,"embedding":[0.2]}]}`,
		"index past end": `{"data":[{"index":0,"embedding":[0.1]},{"index":2,"embedding":[0.2]}]}`,
		"ragged":         `{"data":[{"index":0,"embedding":[0.1]},{"index":1,"embedding":[0.2,0.3]}]}`,
		"not JSON":       `<html>`,
	} {
		t.Run(name, func(t *testing.T) {
			rt := roundTrip(func(r *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
			})
			c, err := model.New(model.Options{BaseURL: "http://fake/v1", Model: "m", EmbeddingsModel: "e", Transport: rt})
			require.NoError(t, err)
			_, _, err = c.Embed(context.Background(), []string{"a", "b"})
			require.Equal(t, session.ModelUnavailable, kindOf(t, err).Kind)
		})
	}
}

func TestEmbedTimeout(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
	c, _ := newClient(t, fake, model.Options{EmbeddingsModel: fake.EmbeddingsModel(), Timeout: 300 * time.Millisecond})
	fake.ScriptEmbeddings(func(modeltest.EmbeddingsRequest) modeltest.Reply { return modeltest.Reply{Hang: true} })
	start := time.Now()
	_, _, err := c.Embed(context.Background(), []string{"a", "b"})
	require.Equal(t, session.ModelTimeout, kindOf(t, err).Kind)
	require.Less(t, time.Since(start), 300*time.Millisecond+slack)
}
