package agentconsole

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// fakeDesk is an agentDesk with only what a test sets; the rest answers an
// error, so a test that reaches further fails.
type fakeDesk struct {
	claim        func(ctx context.Context, a session.Actor, convID string) (*session.Conversation, error)
	agentMessage func(ctx context.Context, a session.Actor, convID, clientID, text string) (session.RawEntry, bool, error)
}

var errNotFaked = errors.New("fakeDesk: not part of this test")

func (fakeDesk) LoginFrom(context.Context, string, string, string) (*session.Agent, error) {
	return nil, errNotFaked
}
func (fakeDesk) Logout(context.Context, session.Actor) error { return errNotFaked }
func (fakeDesk) ChangePassword(context.Context, session.Actor, string, string) (*session.Agent, int64, error) {
	return nil, 0, errNotFaked
}
func (fakeDesk) Agent(context.Context, string, string) (*session.Agent, error) {
	return nil, errNotFaked
}
func (fakeDesk) Conversations(context.Context, string, session.Status) ([]*session.Conversation, error) {
	return nil, errNotFaked
}
func (fakeDesk) Conversation(context.Context, string, string) (*session.Conversation, []session.RawEntry, error) {
	return nil, nil, errNotFaked
}
func (f fakeDesk) Claim(ctx context.Context, a session.Actor, convID string) (*session.Conversation, error) {
	if f.claim == nil {
		return nil, errNotFaked
	}
	return f.claim(ctx, a, convID)
}
func (fakeDesk) Release(context.Context, session.Actor, string) (*session.Conversation, error) {
	return nil, errNotFaked
}
func (fakeDesk) CloseByAgent(context.Context, session.Actor, string) (*session.Conversation, error) {
	return nil, errNotFaked
}
func (f fakeDesk) AgentMessage(ctx context.Context, a session.Actor, convID, clientID, text string) (session.RawEntry, bool, error) {
	if f.agentMessage == nil {
		return session.RawEntry{}, false, errNotFaked
	}
	return f.agentMessage(ctx, a, convID, clientID, text)
}
func (fakeDesk) SetPresence(context.Context, session.Actor, string) error { return errNotFaked }
func (fakeDesk) Presence(context.Context, session.Actor) (string, error)  { return "", errNotFaked }
func (fakeDesk) Load(context.Context, session.Actor) (int, int, error)    { return 0, 0, errNotFaked }

// trusting is an authorizer for which every token's session stands.
type trusting struct{}

func (trusting) Authorize(_ context.Context, a session.Actor, _ int64) (session.Actor, error) {
	return a, nil
}
func (trusting) TokenVersion(context.Context, string, string) (int64, error) { return 0, nil }
func (trusting) OnAccountChange(func(string, string)) func()                 { return func() {} }

// deskServer serves the agent routes on desk, and returns a token of agent
// a_1 at merchant m_1.
func deskServer(t *testing.T, desk agentDesk) (*httptest.Server, string) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	tokens := NewTokens([]byte("desk-test-secret-0123456789"), nil)
	c := &Console{desk: desk, auth: trusting{}, tokens: tokens, log: slog.New(slog.DiscardHandler)}
	r := gin.New()
	c.registerAgent(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	tok, _, err := tokens.Issue(&session.Agent{ID: "a_1", MerchantID: "m_1", Name: "Ann", Role: session.RoleNameAgent}, 0)
	require.NoError(t, err)
	return srv, tok
}

func post(t *testing.T, url, token, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

// TestClaimAnswersTheCoresError: a claim the core refuses is answered with
// the status of the error's kind and the core's own code and message; an
// error that is not the core's says only "internal".
func TestClaimAnswersTheCoresError(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		want    int
		code    string
		message string
	}{
		{"taken", &session.Error{Kind: session.KindConflict, Code: "already_claimed", Message: "someone else has it"},
			http.StatusConflict, "already_claimed", "someone else has it"},
		{"not found", session.ErrNotFound, http.StatusNotFound, "not_found", session.ErrNotFound.Message},
		{"storage away", &session.Error{Kind: session.KindUnavailable, Code: "unavailable", Message: "try again"},
			http.StatusServiceUnavailable, "unavailable", "try again"},
		{"a bug", errors.New("nil map in claim.go:42"), http.StatusInternalServerError, "internal", "internal error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			type call struct {
				a      session.Actor
				convID string
			}
			got := make(chan call, 1)
			srv, tok := deskServer(t, fakeDesk{claim: func(_ context.Context, a session.Actor, convID string) (*session.Conversation, error) {
				got <- call{a, convID}
				return nil, tc.err
			}})
			res, body := post(t, srv.URL+"/v1/agent/conversations/c_42/claim", tok, "")
			require.Equal(t, tc.want, res.StatusCode, body)
			var out struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &out), body)
			require.Equal(t, tc.code, out.Error.Code)
			require.Equal(t, tc.message, out.Error.Message)
			require.Equal(t, call{session.Actor{ID: "a_1", MerchantID: "m_1", Name: "Ann"}, "c_42"}, <-got,
				"the claim is the token's agent's, of the conversation in the path")
		})
	}
}

// TestPostMessageSaysWhenItWasAReplay: a message whose client_id was stored
// before answers 201 with the stored message and Idempotent-Replayed: true;
// a new one has no such header.
func TestPostMessageSaysWhenItWasAReplay(t *testing.T) {
	stored := session.RawEntry{Seq: 7, JSON: []byte(`{"seq":7,"id":"m_1","client_id":"k1","role":"agent","text":"first text"}`)}
	for _, created := range []bool{true, false} {
		args := make(chan []string, 1)
		srv, tok := deskServer(t, fakeDesk{agentMessage: func(_ context.Context, _ session.Actor, convID, clientID, text string) (session.RawEntry, bool, error) {
			args <- []string{convID, clientID, text}
			return stored, created, nil
		}})
		res, body := post(t, srv.URL+"/v1/agent/conversations/c_42/messages", tok, `{"client_id":"k1","text":"hello"}`)
		require.Equal(t, []string{"c_42", "k1", "hello"}, <-args)
		require.Equal(t, http.StatusCreated, res.StatusCode, body)
		require.JSONEq(t, `{"message":`+string(stored.JSON)+`}`, body)
		if created {
			require.Empty(t, res.Header.Get("Idempotent-Replayed"))
		} else {
			require.Equal(t, "true", res.Header.Get("Idempotent-Replayed"))
		}
	}
}
