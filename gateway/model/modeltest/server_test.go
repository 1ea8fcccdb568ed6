package modeltest_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/model/modeltest"
)

const goodTool = `{"type":"function","function":{"name":"handoff","description":"Hand over.","parameters":{"type":"object","properties":{"reason":{"type":"string"}},"required":["reason"]}}}`

func post(t *testing.T, url, key, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return res, b.String()
}

// TestFakeChecksRequests: what the real API would refuse is refused and
// listed, so a client test that expects no problems can fail.
func TestFakeChecksRequests(t *testing.T) {
	msgs := `"messages":[{"role":"system","content":"rules"},{"role":"user","content":"hi"}]`
	cases := []struct {
		name, key, body string
		status          int
		problem         string
	}{
		{"fine", "k", `{"model":"fake-chat","stream":true,"stream_options":{"include_usage":true},` + msgs + `,"tools":[` + goodTool + `],"tool_choice":"auto"}`, 200, ""},
		{"no key", "", `{"model":"fake-chat","stream":true,` + msgs + `}`, 401, "bearer"},
		{"wrong key", "nope", `{"model":"fake-chat","stream":true,` + msgs + `}`, 401, "bearer"},
		{"other model", "k", `{"model":"gpt-9","stream":true,"stream_options":{"include_usage":true},` + msgs + `}`, 404, "model"},
		{"no messages", "k", `{"model":"fake-chat","stream":true,"stream_options":{"include_usage":true},"messages":[]}`, 400, "messages is empty"},
		{"bad role", "k", `{"model":"fake-chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"visitor","content":"x"}]}`, 400, "role"},
		{"tool without a schema", "k", `{"model":"fake-chat","stream":true,"stream_options":{"include_usage":true},` + msgs + `,"tools":[{"type":"function","function":{"name":"handoff"}}]}`, 400, "parameters"},
		{"tool choice without tools", "k", `{"model":"fake-chat","stream":true,"stream_options":{"include_usage":true},` + msgs + `,"tool_choice":"auto"}`, 400, "tool_choice"},
		{"not streamed", "k", `{"model":"fake-chat",` + msgs + `}`, 200, "stream is not true"},
		{"no usage asked", "k", `{"model":"fake-chat","stream":true,` + msgs + `}`, 200, "include_usage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := modeltest.New(t, modeltest.Options{APIKey: "k"})
			fake.Enqueue(modeltest.Chunks("Hello"))
			res, body := post(t, fake.URL()+"/chat/completions", tc.key, tc.body)
			require.Equal(t, tc.status, res.StatusCode, body)
			if tc.problem == "" {
				require.Empty(t, fake.Problems())
				require.Contains(t, body, `"content":"Hello"`)
				require.True(t, strings.HasSuffix(body, "data: [DONE]\n\n"), body)
				require.True(t, fake.Requests()[0].Handoff)
				return
			}
			require.Len(t, fake.Problems(), 1)
			require.Contains(t, fake.Problems()[0], tc.problem)
		})
	}
}

func TestFakeNeedsAReply(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{})
	res, _ := post(t, fake.URL()+"/chat/completions", "", `{"model":"fake-chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, 500, res.StatusCode)
	require.Equal(t, []string{"request 0: no reply scripted"}, fake.Problems())
}

// TestFakeStreamShape: the documented order of a streamed tool call.
func TestFakeStreamShape(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{})
	r := modeltest.Handoff("needs a person", 3)
	r.Usage = &modeltest.Usage{PromptTokens: 10, CompletionTokens: 4}
	fake.Enqueue(r)
	_, body := post(t, fake.URL()+"/chat/completions", "", `{"model":"fake-chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}],"tools":[`+goodTool+`]}`)
	var data []string
	for _, line := range strings.Split(body, "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			data = append(data, d)
		}
	}
	require.Len(t, data, 1+1+3+1+1+1, body) // role, the call, 3 fragments, finish, usage, [DONE]
	require.Contains(t, data[0], `"role":"assistant"`)
	require.Contains(t, data[1], `"tool_calls":[{"index":0,"id":"call_fake0","type":"function","function":{"name":"handoff","arguments":""}}]`)
	require.Contains(t, data[2], `"tool_calls":[{"index":0,"function":{"arguments":"{\"reason\""}}]`)
	require.NotContains(t, data[3], `"name"`)
	require.Contains(t, data[5], `"finish_reason":"tool_calls"`)
	require.Contains(t, data[6], `"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14}`)
	require.Equal(t, "[DONE]", data[7])
}
