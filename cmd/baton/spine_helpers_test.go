package main

import (
	"encoding/json"
	"fmt"
	"github.com/batonchat/baton/gateway/socket/sockettest"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Helpers shared by the end-to-end tests. They sit on top of
// helpers_test.go's env and client. (The tests of bad input and hostile
// callers live with their adapters: gateway and agentconsole.)

// withT returns the same Baton seen from another test (a subtest): requests,
// sockets and their cleanups then belong to t, so a failure stops t only.
func (e *env) withT(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// transcript reads a conversation's messages over REST.
func (e *env) transcript(token, convID string) []map[string]any {
	e.t.Helper()
	code, body := e.do("GET", "/v1/agent/conversations/"+convID, token, nil)
	require.Equal(e.t, 200, code, "%v", body)
	raw, _ := body["messages"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for i, m := range raw {
		mm := m.(map[string]any)
		require.EqualValues(e.t, i+1, num(mm["seq"]), "transcript seq gap at %d: %v", i, raw)
		out = append(out, mm)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func cid(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

// doRaw sends a request and returns the status and the raw body (see
// sockettest.Do for what body may be).
func (e *env) doRaw(method, path, token string, body any, header http.Header) (int, []byte) {
	e.t.Helper()
	return sockettest.Do(e.t, e.srv.URL, method, path, token, body, header)
}

// The visitor's common steps (see sockettest).
var (
	hello   = sockettest.Hello
	say     = sockettest.Say
	echoOf  = sockettest.EchoOf
	handoff = sockettest.Handoff
)
