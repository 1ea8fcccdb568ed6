package model

import (
	"context"
	"fmt"
	"strings"

	"github.com/batonchat/baton/session"
)

// maxSummaryTokens bounds a summary: one or two sentences.
const maxSummaryTokens = 160

// Answer implements session.Model. It streams the answer to delta with the
// citation markers taken out, and returns the answer with the entries it
// cited. When the model calls handoff, the answer is Handoff with the
// model's reason and no text: whatever it streamed before the call is not
// an answer. When ctx is cancelled, Answer returns ctx.Err() at once; every
// other failure is a *session.ModelError (its ModelAnswer still carries
// the usage when the model reported it).
func (c *Client) Answer(ctx context.Context, req session.ModelRequest, delta func(text string)) (session.ModelAnswer, error) {
	es := entriesOf(req.Entries)
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	cl, done := c.newCall(ctx, c.secrets(req))
	defer done()
	cites := newCitations(ids)
	var text strings.Builder
	pass := func(s string) {
		if s != "" {
			text.WriteString(s)
			delta(s)
		}
	}
	body := c.chatRequest(answerPrompt(req, es), c.opts.MaxTokens)
	body.Tools = []tool{handoffTool()}
	body.ToolChoice = "auto"
	res, err := c.stream(cl, body, func(s string) { pass(cites.feed(s)) })
	ans := session.ModelAnswer{Usage: res.usage}
	if err == nil {
		if reason, ok := res.handoff(); ok {
			ans.Handoff, ans.Reason = true, reason
		} else {
			pass(cites.flush())
			err = finished(res.finish, text.Len() > 0, body.MaxTokens)
			ans.Text, ans.Sources = text.String(), cites.sources()
		}
	}
	if err != nil {
		err = c.failed(cl, err)
		ans = session.ModelAnswer{Usage: res.usage}
	}
	c.logDone(cl, "answer", ans.Usage, err)
	return ans, err
}

// finished says whether an answer that ended with finish_reason is one.
func finished(reason string, hasText bool, maxTokens int) error {
	switch reason {
	case "length":
		return &session.ModelError{Kind: session.ModelUnavailable,
			Message: fmt.Sprintf("the answer was cut at max_tokens (%d)", maxTokens)}
	case "content_filter":
		return &session.ModelError{Kind: session.ModelRejected, Message: "the server's content filter stopped the answer"}
	}
	if !hasText {
		return &session.ModelError{Kind: session.ModelUnavailable, Message: "the answer was empty"}
	}
	return nil
}

// Summarize implements session.Model: one or two sentences for the person
// who takes the conversation over, in req.Locale (the core passes the
// merchant's), from req.History alone.
func (c *Client) Summarize(ctx context.Context, req session.ModelRequest) (string, session.ModelUsage, error) {
	cl, done := c.newCall(ctx, c.secrets(req))
	defer done()
	maxTokens := maxSummaryTokens
	if c.opts.MaxTokens > 0 {
		maxTokens = min(maxTokens, c.opts.MaxTokens)
	} else {
		maxTokens = -1
	}
	var text strings.Builder
	res, err := c.stream(cl, c.chatRequest(summaryPrompt(req), maxTokens), func(s string) { text.WriteString(s) })
	summary := oneLine(text.String())
	if err == nil {
		switch {
		case res.finish == "length" && summary != "":
			summary += "…" // cut, but still says what the visitor wants
		default:
			err = finished(res.finish, summary != "", maxTokens)
		}
	}
	if err != nil {
		err = c.failed(cl, err)
		summary = ""
	}
	summary = clipText(summary, 1000)
	c.logDone(cl, "summarize", res.usage, err)
	return summary, res.usage, err
}

func (c *Client) chatRequest(msgs []chatMessage, maxTokens int) chatRequest {
	r := chatRequest{
		Model:         c.opts.Model,
		Messages:      msgs,
		Stream:        true,
		StreamOptions: &streamOptions{IncludeUsage: true},
		Temperature:   c.opts.Temperature,
	}
	if maxTokens > 0 {
		r.MaxTokens = maxTokens
	}
	return r
}

// secrets are the texts no error may repeat.
func (c *Client) secrets(req session.ModelRequest) []string {
	return append([]string{c.opts.APIKey}, visitorWords(req.History)...)
}
