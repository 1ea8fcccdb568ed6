package session

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// queued is a conversation as a snapshot holds it: id, episode, a field
// that may change while queued.
type queued struct{ id, ep, page string }

func testSnapshot(t *testing.T, total int, qs ...queued) *QueueSnapshot {
	t.Helper()
	snap := &QueueSnapshot{Total: total, Conversations: []*Conversation{}}
	for i, q := range qs {
		snap.Conversations = append(snap.Conversations,
			&Conversation{ID: q.id, Status: StatusQueued, queueEp: q.ep, Page: q.page, QueuePosition: i + 1})
	}
	var err error
	snap.frame, err = json.Marshal(map[string]any{"type": "queue", "conversations": snap.Conversations, "total": total})
	require.NoError(t, err)
	return snap
}

// consoleView is what a console following deltas holds.
type consoleView struct {
	version int64
	total   int
	list    []map[string]any
}

func viewOf(t *testing.T, vframe []byte) *consoleView {
	var f struct {
		Conversations []map[string]any `json:"conversations"`
		Total         int              `json:"total"`
		Version       *int64           `json:"version"`
	}
	require.NoError(t, json.Unmarshal(vframe, &f), "%s", vframe)
	require.NotNil(t, f.Version, "a versioned snapshot carries its version: %s", vframe)
	for _, c := range f.Conversations {
		delete(c, "queue_position")
	}
	return &consoleView{version: *f.Version, total: f.Total, list: f.Conversations}
}

func (v *consoleView) apply(t *testing.T, frame []byte) {
	var d struct {
		Type         string         `json:"type"`
		Op           string         `json:"op"`
		Version      int64          `json:"version"`
		Total        int            `json:"total"`
		Position     int            `json:"position"`
		Conversation map[string]any `json:"conversation"`
	}
	require.NoError(t, json.Unmarshal(frame, &d), "%s", frame)
	require.Equal(t, "queue_delta", d.Type)
	require.Equal(t, v.version+1, d.Version, "deltas are numbered one by one: %s", frame)
	v.version, v.total = d.Version, d.Total
	at := -1
	for i, c := range v.list {
		if c["id"] == d.Conversation["id"] {
			at = i
		}
	}
	switch d.Op {
	case "removed":
		require.GreaterOrEqual(t, at, 0, "removes one it holds: %s", frame)
		v.list = append(v.list[:at], v.list[at+1:]...)
	case "added":
		require.Equal(t, -1, at, "adds one it does not hold: %s", frame)
		require.True(t, d.Position >= 1 && d.Position <= len(v.list)+1, "%s", frame)
		v.list = append(v.list[:d.Position-1], append([]map[string]any{d.Conversation}, v.list[d.Position-1:]...)...)
	case "changed":
		require.Equal(t, d.Position-1, at, "a change keeps its place: %s", frame)
		v.list[at] = d.Conversation
	case "total":
	default:
		t.Fatalf("unknown op in %s", frame)
	}
}

// TestQueueDeltas: the deltas from one snapshot to the next, applied to a
// console holding the first, give exactly the second (order, content and
// total), numbered one by one from the first's version; a snapshot that
// did not change keeps its version, and a console that is not on the way
// (a gap) is told to take the snapshot instead.
func TestQueueDeltas(t *testing.T) {
	a, b, c, d := queued{"c_a", "q1", ""}, queued{"c_b", "q2", ""}, queued{"c_c", "q3", ""}, queued{"c_d", "q4", ""}
	cases := []struct {
		name        string
		before      []queued
		beforeTotal int
		after       []queued
		afterTotal  int
		deltas      int
	}{
		{"one queued at the end", []queued{a, b}, 2, []queued{a, b, c}, 3, 1},
		{"the first claimed", []queued{a, b, c}, 3, []queued{b, c}, 2, 1},
		{"one in the middle claimed, one queued", []queued{a, b, c}, 3, []queued{a, c, d}, 3, 2},
		{"a change while queued", []queued{a, b}, 2, []queued{a, {"c_b", "q2", "/cart"}}, 2, 1},
		{"released and queued again: another episode", []queued{a, b}, 2, []queued{b, {"c_a", "q9", ""}}, 2, 2},
		{"beyond what is described, only the total", []queued{a, b}, 40, []queued{a, b}, 41, 1},
		{"the head claimed, the next one comes into view", []queued{a, b}, 40, []queued{b, c}, 39, 2},
		{"nothing changed", []queued{a, b}, 2, []queued{a, b}, 2, 0},
		{"emptied", []queued{a, b}, 2, nil, 0, 2},
		{"from empty", nil, 0, []queued{a, b}, 2, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			first := testSnapshot(t, 0)
			diffQueue(nil, first)
			before := testSnapshot(t, tc.beforeTotal, tc.before...)
			diffQueue(first, before)
			after := testSnapshot(t, tc.afterTotal, tc.after...)
			diffQueue(before, after)
			require.Len(t, after.deltas, tc.deltas)
			require.Equal(t, before.Version()+int64(tc.deltas), after.Version())

			held := viewOf(t, before.VersionedFrame())
			frames, ok := after.DeltasAfter(held.version)
			// Deltas that outweigh the snapshot are not sent: it is.
			require.Equal(t, tc.deltas == 0 || after.deltaN <= len(after.vframe), ok)
			for _, f := range after.deltas {
				held.apply(t, f)
			}
			require.Equal(t, len(frames) > 0, ok && tc.deltas > 0)
			want := viewOf(t, after.VersionedFrame())
			require.Equal(t, want, held)

			_, ok = after.DeltasAfter(first.Version() - 1)
			require.False(t, ok, "a console behind the first delta takes the snapshot")
			_, ok = after.DeltasAfter(after.Version() + 1)
			require.False(t, ok, "a version from elsewhere takes the snapshot")
		})
	}
}
