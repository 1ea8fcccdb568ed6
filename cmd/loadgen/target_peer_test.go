package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPeerFrames: what the peer sends in one WebSocket frame (replies and
// pushes, a line each) reaches the relay as Baton-shaped frames: each
// push's data, an error as an error frame, and a subscribe reply on an
// agent's connection as the confirmation open waits for.
func TestPeerFrames(t *testing.T) {
	tg := &peerTarget{}
	c := &console{}
	acked := c.awaitFollow("7")
	var got []string
	h := tg.frames(c, func(b []byte, _ time.Time) { got = append(got, string(b)) })
	frame := appendFrame(nil, 3, 9, 1, 42, 60)
	push := `{"push":{"channel":"lgab_7","pub":{"data":` + string(frame) + `,"offset":5}}}`
	h([]byte(`{"id":7,"subscribe":{"recoverable":true,"epoch":"x"}}`+"\n"+push+"\n"+`{"id":3,"error":{"code":103,"message":"permission denied"}}`), time.Now())
	require.Len(t, got, 2)
	require.Equal(t, string(frame)+`,"offset":5}}}`, got[0], "the push's data first, the rest is ignored by parseMark")
	idx, seq, step, due, ok := parseMark([]byte(got[0][len(`{"type":"message","client_id":"3-9","text":"lg|`):]))
	require.True(t, ok)
	require.Equal(t, [4]int64{3, 9, 1, 42}, [4]int64{idx, seq, step, due})
	require.Contains(t, got[1], `{"type":"error","peer":{"id":3,"error":`)
	select {
	case <-acked:
	default:
		t.Fatal("the subscribe reply did not confirm the agent's subscription")
	}

	// The publish command around a frame.
	b := tg.tail(appendFrame(tg.head(nil, "lgab_7"), 3, 9, 1, 42, 60))
	require.Equal(t, `{"id":3,"publish":{"channel":"lgab_7","data":`+string(frame)+`}}`, string(b))
}
