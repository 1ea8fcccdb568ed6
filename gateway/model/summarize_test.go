package model_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/model"
	"github.com/batonchat/baton/gateway/model/modeltest"
	"github.com/batonchat/baton/session"
)

func TestSummarize(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
	c, _ := newClient(t, fake, model.Options{})
	fake.Enqueue(modeltest.Reply{Content: modeltest.Split("De bezoeker wil weten hoe lang levering naar Utrecht duurt; de assistent zei 3 werkdagen.", 9),
		Usage: &modeltest.Usage{PromptTokens: 120, CompletionTokens: 22}})
	req := request()
	req.Locale = "nl"
	req.History = append(req.History, session.Message{Role: session.RoleAssistant, Text: "Orders arrive within 3 working days."},
		session.Message{Role: session.RoleVisitor, Text: "I want to talk to a person."})
	sum, usage, err := c.Summarize(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, "De bezoeker wil weten hoe lang levering naar Utrecht duurt; de assistent zei 3 werkdagen.", sum)
	require.Equal(t, session.ModelUsage{PromptTokens: 120, CompletionTokens: 22}, usage)

	require.Empty(t, fake.Problems())
	r := fake.Requests()[0]
	require.False(t, r.Handoff, "no tools for a summary")
	require.Empty(t, r.ToolChoice)
	require.Equal(t, 160, r.MaxTokens)
	require.Contains(t, r.System(), "Write in Dutch (Nederlands)")
	require.Equal(t, "user", r.Last().Role)
	require.Contains(t, r.Last().Content, "Visitor: "+visitorText+"\nAssistant: Orders arrive within 3 working days.\nVisitor: I want to talk to a person.\n")
}

func TestSummarizeErrors(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
	c, _ := newClient(t, fake, model.Options{})
	fake.Enqueue(modeltest.Fail(500, ""), modeltest.Reply{Content: []string{"The visitor wants"}, Finish: "length"}, modeltest.Reply{})
	_, _, err := c.Summarize(context.Background(), request())
	require.Equal(t, session.ModelUnavailable, kindOf(t, err).Kind)

	sum, _, err := c.Summarize(context.Background(), request())
	require.NoError(t, err, "a summary cut short still says something")
	require.Equal(t, "The visitor wants…", sum)

	_, _, err = c.Summarize(context.Background(), request())
	require.Equal(t, session.ModelUnavailable, kindOf(t, err).Kind, "an empty summary is none")
}

// TestConcurrentAnswers: one client, many conversations at once, each
// getting its own answer.
func TestConcurrentAnswers(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
	c, _ := newClient(t, fake, model.Options{})
	fake.Script(func(r modeltest.Request) modeltest.Reply {
		q := r.Last().Content
		return modeltest.Text("You asked: "+q+" [1]", 4)
	})
	var wg sync.WaitGroup
	errs := make([]error, 20)
	texts := make([]string, 20)
	for i := range 20 {
		wg.Go(func() {
			req := request()
			req.History = []session.Message{{Role: session.RoleVisitor, Text: fmt.Sprintf("question %d", i)}}
			var b strings.Builder
			ans, err := c.Answer(context.Background(), req, func(s string) { b.WriteString(s) })
			errs[i], texts[i] = err, ans.Text
			if err == nil && b.String() != ans.Text {
				errs[i] = fmt.Errorf("deltas %q, text %q", b.String(), ans.Text)
			}
		})
	}
	wg.Wait()
	for i := range 20 {
		require.NoError(t, errs[i])
		require.Equal(t, fmt.Sprintf("You asked: question %d", i), texts[i])
	}
	require.Len(t, fake.Requests(), 20)
	require.Empty(t, fake.Problems())
}
