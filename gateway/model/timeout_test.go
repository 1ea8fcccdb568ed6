package model_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/model"
	"github.com/batonchat/baton/gateway/model/modeltest"
	"github.com/batonchat/baton/session"
)

// slack is how late past its timeout a call may return on a loaded
// machine (-race, two cores shared).
const slack = 250 * time.Millisecond

// gone waits until the fake has seen the client leave request n.
func gone(t *testing.T, fake *modeltest.Server, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		r := fake.Requests()
		return len(r) > n && r[n].Done && r[n].ClientGone
	}, 2*time.Second, 5*time.Millisecond, "the fake saw the client leave")
}

func TestTimeouts(t *testing.T) {
	cases := []struct {
		name    string
		opts    model.Options
		reply   modeltest.Reply
		within  time.Duration
		message string
	}{
		{name: "hang before the first byte", opts: model.Options{Timeout: 400 * time.Millisecond},
			reply: modeltest.Reply{HangBeforeHeaders: true}, within: 400 * time.Millisecond, message: "no complete answer"},
		{name: "hang before the first chunk", opts: model.Options{Timeout: 400 * time.Millisecond},
			reply: modeltest.Reply{Content: []string{"a", "b"}, Hang: true}, within: 400 * time.Millisecond},
		{name: "hang mid-stream, the whole timeout first", opts: model.Options{Timeout: 400 * time.Millisecond},
			reply: modeltest.Reply{Content: []string{"Orders ", "arrive"}, Hang: true, HangAfter: 1}, within: 400 * time.Millisecond},
		{name: "hang mid-stream, the stall first", opts: model.Options{Timeout: 10 * time.Second, IdleTimeout: 300 * time.Millisecond},
			reply: modeltest.Reply{Content: []string{"Orders ", "arrive"}, Hang: true, HangAfter: 1}, within: 300 * time.Millisecond, message: "stalled"},
		{name: "a slow stream past the whole timeout", opts: model.Options{Timeout: 400 * time.Millisecond, IdleTimeout: 300 * time.Millisecond},
			reply: modeltest.Reply{Content: modeltest.Split("Orders arrive within three working days.", 2), Delay: 50 * time.Millisecond}, within: 400 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
			c, _ := newClient(t, fake, tc.opts)
			fake.Enqueue(tc.reply)
			start := time.Now()
			_, _, err := answer(context.Background(), c, request())
			took := time.Since(start)
			me := kindOf(t, err)
			require.Equal(t, session.ModelTimeout, me.Kind, me.Message)
			require.Contains(t, me.Message, tc.message)
			require.GreaterOrEqual(t, took, tc.within-20*time.Millisecond, "not before the timeout")
			require.Less(t, took, tc.within+slack, "returned %v after the call began", took)
			t.Logf("timeout %v: returned after %v", tc.within, took)
			gone(t, fake, 0)
		})
	}
}

// TestStreamKeepsGoingWhileBytesCome: the stall timer restarts on every
// byte; a stream slower in total than IdleTimeout is fine.
func TestStreamKeepsGoingWhileBytesCome(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
	// Gaps of 40 ms against a 1 s stall bound (25 times the gap, so a
	// loaded machine's scheduling cannot make a gap look like a stall; a
	// 4 times bound failed at load 16), and a stream that lasts longer
	// than the bound in total: only a timer that restarts on every byte
	// lets it through.
	c, _ := newClient(t, fake, model.Options{IdleTimeout: time.Second})
	words := strings.Fields(strings.Repeat("Orders arrive within three working days at most. ", 5))
	content := make([]string, len(words))
	for i, w := range words {
		content[i] = w + " "
	}
	fake.Enqueue(modeltest.Reply{Content: content, Delay: 40 * time.Millisecond})
	start := time.Now()
	ans, _, err := answer(context.Background(), c, request())
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(strings.Join(content, "")), ans.Text)
	require.Greater(t, time.Since(start), 1100*time.Millisecond, "the stream lasted longer than IdleTimeout")
}

// TestCancelMidStream: the caller cancels (a person took over); Answer
// returns at once with context.Canceled and the server sees the request
// end.
func TestCancelMidStream(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
	c, _ := newClient(t, fake, model.Options{})
	fake.Enqueue(modeltest.Reply{Content: modeltest.Split("Orders arrive within three working days, and returns are free.", 3), Delay: 40 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelled time.Time
	var deltas int
	_, err := c.Answer(ctx, request(), func(string) {
		deltas++
		if deltas == 2 {
			cancelled = time.Now()
			cancel()
		}
	})
	took := time.Since(cancelled)
	require.ErrorIs(t, err, context.Canceled)
	var me *session.ModelError
	require.False(t, errors.As(err, &me), "a cancel is not a model failure")
	require.Equal(t, 2, deltas, "no delta after the cancel")
	require.Less(t, took, 100*time.Millisecond, "returned %v after the cancel", took)
	gone(t, fake, 0)
}

// TestCallerDeadline: the caller's own deadline, shorter than Timeout,
// is a timeout too.
func TestCallerDeadline(t *testing.T) {
	fake := modeltest.New(t, modeltest.Options{APIKey: apiKey})
	c, _ := newClient(t, fake, model.Options{})
	fake.Enqueue(modeltest.Reply{HangBeforeHeaders: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := answer(ctx, c, request())
	require.Equal(t, session.ModelTimeout, kindOf(t, err).Kind)
	require.Less(t, time.Since(start), 200*time.Millisecond+slack)
	gone(t, fake, 0)
}
