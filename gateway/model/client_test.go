package model_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/model"
	"github.com/batonchat/baton/gateway/model/modeltest"
	"github.com/batonchat/baton/session"
)

const apiKey = "sk-test-Zq8JvP2mW4xK9rT1"

// visitorText is what the visitor asked; it must reach the model and
// nothing else (no log line, no error).
const visitorText = "How long does delivery to Utrecht take for order 4711?"

// logs collects a client's log lines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newClient(t *testing.T, fake *modeltest.Server, o model.Options) (*model.Client, *logs) {
	t.Helper()
	l := &logs{}
	o.BaseURL = fake.URL()
	if o.Model == "" {
		o.Model = fake.Model()
	}
	if o.APIKey == "" {
		o.APIKey = apiKey
	}
	o.Logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := model.New(o)
	require.NoError(t, err)
	t.Cleanup(func() {
		// Nothing secret in any log line, whatever the test did.
		require.NotContains(t, l.String(), apiKey)
		require.NotContains(t, l.String(), "Utrecht")
	})
	return c, l
}

func request() session.ModelRequest {
	return session.ModelRequest{
		MerchantID: "m_1", MerchantName: "Bikes & Co", Locale: "en",
		Instructions: "Sign off with 'Happy riding!'.",
		History: []session.Message{
			{Role: session.RoleAssistant, Text: "Hi! How can I help?"},
			{Role: session.RoleVisitor, Text: visitorText},
		},
		Entries: []session.KnowledgeEntry{
			{ID: "k_ship", Question: "How long does shipping take?", Answer: "Orders arrive within 3 working days."},
			{ID: "k_return", Question: "Can I return a bike?", Answer: "Returns are free within 30 days."},
			{ID: "k_pay", Question: "How can I pay?", Answer: "iDEAL, card or PayPal."},
		},
	}
}

// answer runs Answer and collects the deltas.
func answer(ctx context.Context, c *model.Client, req session.ModelRequest) (session.ModelAnswer, []string, error) {
	var deltas []string
	ans, err := c.Answer(ctx, req, func(s string) { deltas = append(deltas, s) })
	return ans, deltas, err
}

func TestAnswerStreams(t *testing.T) {
	text := "Orders arrive within 3 working days [1]. Returns are free [2][1]. Happy riding!"
	plain := "Orders arrive within 3 working days. Returns are free. Happy riding!"
	cases := []struct {
		name    string
		reply   modeltest.Reply
		want    string
		sources []string
		usage   session.ModelUsage
	}{
		{name: "a marker split across chunks",
			reply: modeltest.Chunks("Orders arrive within 3 working days [", "1", "]. Returns are free [2", "][1]. Happy riding!"),
			want:  plain, sources: []string{"k_ship", "k_return"}},
		{name: "two bytes a chunk", reply: modeltest.Text(text, 2), want: plain, sources: []string{"k_ship", "k_return"}},
		{name: "one chunk", reply: modeltest.Text(text, 1000), want: plain, sources: []string{"k_ship", "k_return"}},
		{name: "usage as reported",
			reply: modeltest.Reply{Content: []string{"iDEAL, card or PayPal [3]."}, Usage: &modeltest.Usage{PromptTokens: 812, CompletionTokens: 9}},
			want:  "iDEAL, card or PayPal.", sources: []string{"k_pay"}, usage: session.ModelUsage{PromptTokens: 812, CompletionTokens: 9}},
		{name: "a greeting cites nothing", reply: modeltest.Text("Hello! What can I do for you?", 5), want: "Hello! What can I do for you?"},
		{name: "a marker out of range",
			reply: modeltest.Chunks("Returns are free [9][2]."),
			want:  "Returns are free.", sources: []string{"k_return"}},
		{name: "no ids, keep-alive comments, usage in the last chunk, no [DONE]",
			reply: modeltest.Reply{Content: modeltest.Split(text, 7), OmitIDs: true, KeepAlive: true, UsageInLast: true, NoDone: true,
				Usage: &modeltest.Usage{PromptTokens: 5, CompletionTokens: 6}},
			want: plain, sources: []string{"k_ship", "k_return"}, usage: session.ModelUsage{PromptTokens: 5, CompletionTokens: 6}},
		{name: "a server that does not stream",
			reply: modeltest.Reply{Content: []string{text}, JSON: true, Usage: &modeltest.Usage{PromptTokens: 1, CompletionTokens: 2}},
			want:  plain, sources: []string{"k_ship", "k_return"}, usage: session.ModelUsage{PromptTokens: 1, CompletionTokens: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
			c, _ := newClient(t, fake, model.Options{})
			fake.Enqueue(tc.reply)
			ans, deltas, err := answer(context.Background(), c, request())
			require.NoError(t, err)
			require.Equal(t, tc.want, ans.Text)
			require.Equal(t, ans.Text, strings.Join(deltas, ""), "the deltas are the answer")
			for _, d := range deltas {
				require.NotEmpty(t, d)
			}
			require.Equal(t, tc.sources, ans.Sources)
			require.False(t, ans.Handoff)
			if tc.usage != (session.ModelUsage{}) {
				require.Equal(t, tc.usage, ans.Usage)
			}
			require.Positive(t, ans.Usage.PromptTokens)

			require.Empty(t, fake.Problems())
			reqs := fake.Requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			require.True(t, r.Stream)
			require.True(t, r.IncludeUsage)
			require.True(t, r.Handoff, "the handoff tool is offered")
			require.Equal(t, "auto", r.ToolChoice)
			require.Equal(t, 512, r.MaxTokens)
			require.Equal(t, modeltest.Message{Role: "user", Content: visitorText}, r.Last())
			require.Contains(t, r.System(), "[3]\nQuestion: How can I pay?")
			require.Contains(t, r.System(), "Happy riding!")
		})
	}
}

// TestAnswerStreamsAsItArrives: each delta reaches the caller while the
// model is still writing, not when the answer is complete.
func TestAnswerStreamsAsItArrives(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
	c, _ := newClient(t, fake, model.Options{})
	fake.Enqueue(modeltest.Reply{Content: []string{"Orders ", "arrive ", "within ", "3 days [1]."}, Delay: 80 * time.Millisecond})
	var at []time.Duration
	start := time.Now()
	ans, err := c.Answer(context.Background(), request(), func(string) { at = append(at, time.Since(start)) })
	require.NoError(t, err)
	require.Equal(t, "Orders arrive within 3 days.", ans.Text)
	require.GreaterOrEqual(t, len(at), 4)
	require.Less(t, at[0], time.Since(start)-150*time.Millisecond, "the first delta came well before the end")
}

func TestAnswerHandoff(t *testing.T) {
	cases := []struct {
		name   string
		reply  modeltest.Reply
		reason string
	}{
		{"arguments in many fragments", modeltest.Handoff("the entries say nothing about boats", 6), "the entries say nothing about boats"},
		{"text before the call is not an answer",
			func() modeltest.Reply {
				r := modeltest.Handoff("visitor asked for a person", 3)
				r.Content = []string{"Let me get ", "someone [1]"}
				return r
			}(), "visitor asked for a person"},
		{"finish_reason stop, as some servers say", func() modeltest.Reply {
			r := modeltest.Handoff("unsure", 2)
			r.Finish = "stop"
			return r
		}(), "unsure"},
		{"arguments that are not JSON", modeltest.Reply{ToolArgs: []string{`{"reas`, `on": `}}, ""},
		{"not streamed", func() modeltest.Reply { r := modeltest.Handoff("refund dispute", 1); r.JSON = true; return r }(), "refund dispute"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
			c, _ := newClient(t, fake, model.Options{})
			fake.Enqueue(tc.reply)
			ans, _, err := answer(context.Background(), c, request())
			require.NoError(t, err)
			require.True(t, ans.Handoff)
			require.Equal(t, tc.reason, ans.Reason)
			require.Empty(t, ans.Text)
			require.Empty(t, ans.Sources)
			require.Positive(t, ans.Usage.CompletionTokens)
			require.Empty(t, fake.Problems())
		})
	}
}

func kindOf(t *testing.T, err error) *session.ModelError {
	t.Helper()
	var me *session.ModelError
	require.True(t, errors.As(err, &me), "a *session.ModelError: %v", err)
	return me
}

func TestAnswerErrors(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		name       string
		key        string
		reply      modeltest.Reply
		kind       session.ModelErrorKind
		status     int
		retryAfter [2]time.Duration // within
		message    string
	}{
		{name: "wrong key", key: "sk-wrong-key-00000000", kind: session.ModelRejected, status: 401, message: "invalid_api_key"},
		{name: "rate limited, seconds", reply: modeltest.Fail(429, "7"), kind: session.ModelRateLimited, status: 429,
			retryAfter: [2]time.Duration{7 * time.Second, 7 * time.Second}, message: "rate_limit_exceeded"},
		{name: "rate limited, a date", reply: modeltest.Fail(429, date), kind: session.ModelRateLimited, status: 429,
			retryAfter: [2]time.Duration{80 * time.Second, 90 * time.Second}},
		{name: "server error", reply: modeltest.Fail(500, ""), kind: session.ModelUnavailable, status: 500, message: "server_error"},
		{name: "overloaded", reply: modeltest.Fail(503, "2"), kind: session.ModelUnavailable, status: 503,
			retryAfter: [2]time.Duration{2 * time.Second, 2 * time.Second}},
		{name: "bad request", reply: modeltest.Reply{Status: 400, Body: `{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`},
			kind: session.ModelRejected, status: 400, message: "context_length_exceeded"},
		{name: "vLLM's flat error body", reply: modeltest.Reply{Status: 400, Body: `{"object":"error","message":"temperature must be positive","type":"BadRequestError","param":null,"code":400}`},
			kind: session.ModelRejected, status: 400, message: "BadRequestError/400 temperature must be positive"},
		{name: "an HTML page is not repeated", reply: modeltest.Reply{Status: 502, Body: "<html><body>Bad gateway at proxy-7</body></html>"},
			kind: session.ModelUnavailable, status: 502},
		{name: "stream cut without [DONE]", reply: modeltest.Reply{Content: []string{"Orders arrive"}, Cut: true}, kind: session.ModelUnavailable, message: "ended before"},
		{name: "connection dropped mid-stream", reply: modeltest.Reply{Content: []string{"Orders arrive"}, Drop: true}, kind: session.ModelUnavailable},
		{name: "error inside the stream", reply: modeltest.Reply{Content: []string{"Orders"}, StreamError: "upstream overloaded"}, kind: session.ModelUnavailable, message: "upstream overloaded"},
		{name: "cut at max_tokens", reply: modeltest.Reply{Content: []string{"Orders arrive within"}, Finish: "length"}, kind: session.ModelUnavailable, message: "max_tokens"},
		{name: "content filter", reply: modeltest.Reply{Content: []string{"x"}, Finish: "content_filter"}, kind: session.ModelRejected},
		{name: "an empty answer", reply: modeltest.Reply{}, kind: session.ModelUnavailable, message: "empty"},
		{name: "an answer past 1 MiB", reply: modeltest.Reply{Content: modeltest.Split(strings.Repeat("word ", 230_000), 64<<10)},
			kind: session.ModelUnavailable, message: "passed 1048576 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
			c, _ := newClient(t, fake, model.Options{APIKey: tc.key})
			fake.Enqueue(tc.reply)
			ans, _, err := answer(context.Background(), c, request())
			require.Error(t, err)
			me := kindOf(t, err)
			require.Equal(t, tc.kind, me.Kind, me.Message)
			require.Equal(t, tc.status, me.Status)
			require.GreaterOrEqual(t, me.RetryAfter, tc.retryAfter[0])
			require.LessOrEqual(t, me.RetryAfter, tc.retryAfter[1])
			require.Contains(t, me.Message, tc.message)
			require.Empty(t, ans.Text)
			for _, secret := range []string{apiKey, tc.key, "Utrecht", "proxy-7"} {
				if secret != "" {
					require.NotContains(t, err.Error(), secret)
				}
			}
			if tc.key != "" {
				require.NotContains(t, err.Error(), tc.key[len(tc.key)-4:], "not even the masked end of the key")
			}
		})
	}
}

// TestErrorsNeverRepeatSecrets: servers and proxies that echo the key or
// the visitor's words in their error bodies.
func TestErrorsNeverRepeatSecrets(t *testing.T) {
	for _, body := range []string{
		`{"error":{"message":"key ` + apiKey + ` is revoked","type":"auth"}}`,
		`{"error":{"message":"Incorrect API key provided: sk-tes***T1.","code":"invalid_api_key"}}`,
		`{"error":"Bearer ` + apiKey + `"}`,
		`{"detail":"x","error":{"message":"invalid input: '` + visitorText + `'"}}`,
		`{"error":{"message":"bad value 'delivery to Utrecht' in messages[1]"}}`,
	} {
		fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
		c, l := newClient(t, fake, model.Options{})
		fake.Enqueue(modeltest.Reply{Status: 400, Body: body})
		_, _, err := answer(context.Background(), c, request())
		me := kindOf(t, err)
		require.Equal(t, session.ModelRejected, me.Kind)
		for _, secret := range []string{apiKey, "Zq8JvP", "rT1", "Utrecht", "4711"} {
			require.NotContains(t, err.Error(), secret, body)
			require.NotContains(t, l.String(), secret, body)
		}
	}
}

func TestUnreachable(t *testing.T) {
	c, err := model.New(model.Options{BaseURL: "http://127.0.0.1:1/v1", Model: "m", APIKey: apiKey})
	require.NoError(t, err)
	_, _, err = answer(context.Background(), c, request())
	me := kindOf(t, err)
	require.Equal(t, session.ModelUnavailable, me.Kind)
	require.Contains(t, me.Message, "refused")
	require.NotContains(t, err.Error(), apiKey)
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, o := range []model.Options{
		{BaseURL: "", Model: "m"},
		{BaseURL: "api.openai.com/v1", Model: "m"},
		{BaseURL: "ftp://x/v1", Model: "m"},
		{BaseURL: "https://user:pass@x/v1", Model: "m"},
		{BaseURL: "https://api.openai.com/v1", Model: " "},
	} {
		_, err := model.New(o)
		require.Error(t, err, o.BaseURL)
		require.NotContains(t, err.Error(), "pass")
	}
}

// TestAzure: hosts under azure.com take the key as api-key, and the
// base URL's query (api-version) stays on every call.
func TestAzure(t *testing.T) {
	var got *http.Request
	rt := roundTrip(func(r *http.Request) (*http.Response, error) {
		got = r
		body := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})
	c, err := model.New(model.Options{BaseURL: "https://shop.openai.azure.com/openai/deployments/gpt4o/?api-version=2024-10-21",
		Model: "gpt4o", APIKey: apiKey, Transport: rt})
	require.NoError(t, err)
	ans, _, err := answer(context.Background(), c, request())
	require.NoError(t, err)
	require.Equal(t, "Hi", ans.Text)
	require.Equal(t, "/openai/deployments/gpt4o/chat/completions", got.URL.Path)
	require.Equal(t, "api-version=2024-10-21", got.URL.RawQuery)
	require.Equal(t, apiKey, got.Header.Get("api-key"))
	require.Empty(t, got.Header.Get("Authorization"))
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
