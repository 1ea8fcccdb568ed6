package session

import (
	"encoding/json"
	"strconv"
)

// A console that opts in follows the queue as deltas instead of a full
// snapshot per change: a full queue costs every console O(queue) bytes per
// handoff, so a burst of handoffs to a large team fills send queues (cut
// with 1013). Each node derives the deltas from the snapshots it already
// builds, one merchant at a time (hub.rebuildQueue), by comparing each with
// the one before: so they describe exactly what the snapshots show (checked
// entries, the first snapshotCap conversations, the total), and a crash
// anywhere between a step and its index writes can never leave a delta
// unsent while the snapshot moved on.
//
// Versions count the deltas of one node's merchant room. They need not
// agree between nodes: a console's stream comes from one socket, and every
// socket starts from a snapshot that carries its version. Reconnecting, to
// any node, starts over from a snapshot.

// encodeQueued is a queued conversation as deltas carry it: without its
// position, which changes for everyone behind whenever one leaves, so a
// console derives positions from the order instead.
func encodeQueued(c *Conversation) []byte {
	cc := *c
	cc.QueuePosition = 0
	b, _ := json.Marshal(&cc)
	return b
}

// diffQueue numbers snap after prev (the last snapshot this node's room
// delivered, nil for its first) and lays out the queue_delta frames that
// take a console holding prev to snap: removals in prev's order, then
// additions and changes in snap's, each at its final position, so applying
// them in order yields snap. Conversations keep their relative order while
// queued (the index is scored by when they were queued; a conversation
// queued again is another member), so no delta moves one.
func diffQueue(prev, snap *QueueSnapshot) {
	if snap.enc == nil {
		snap.enc = make(map[string][]byte, len(snap.Conversations))
	}
	for _, c := range snap.Conversations {
		m := queueMember(c.ID, c.queueEp)
		if snap.enc[m] == nil {
			snap.enc[m] = encodeQueued(c)
		}
	}
	if prev != nil {
		snap.base = prev.version
		v := prev.version
		total := strconv.Itoa(snap.Total)
		head := func(op string) []byte {
			v++
			b := make([]byte, 0, 128)
			b = append(b, `{"type":"queue_delta","op":"`...)
			b = append(b, op...)
			b = append(b, `","version":`...)
			b = strconv.AppendInt(b, v, 10)
			b = append(b, `,"total":`...)
			b = append(b, total...)
			return b
		}
		for _, c := range prev.Conversations {
			if _, ok := snap.enc[queueMember(c.ID, c.queueEp)]; ok {
				continue
			}
			id, _ := json.Marshal(c.ID)
			b := append(head("removed"), `,"conversation":{"id":`...)
			b = append(b, id...)
			b = append(b, "}}"...)
			snap.deltas = append(snap.deltas, b)
		}
		for i, c := range snap.Conversations {
			m := queueMember(c.ID, c.queueEp)
			enc := snap.enc[m]
			op := "added"
			if was, ok := prev.enc[m]; ok {
				if string(was) == string(enc) {
					continue
				}
				op = "changed"
			}
			b := append(head(op), `,"position":`...)
			b = strconv.AppendInt(b, int64(i+1), 10)
			b = append(b, `,"conversation":`...)
			b = append(b, enc...)
			b = append(b, '}')
			snap.deltas = append(snap.deltas, b)
		}
		if len(snap.deltas) == 0 && prev.Total != snap.Total {
			// Only the count moved: the change is beyond what is described.
			snap.deltas = append(snap.deltas, append(head("total"), '}'))
		}
		snap.version = v
		for _, d := range snap.deltas {
			snap.deltaN += len(d)
		}
	}
	if n := len(snap.frame); n > 0 {
		b := make([]byte, 0, n+32)
		b = append(b, snap.frame[:n-1]...)
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, snap.version, 10)
		snap.vframe = append(b, '}')
	}
}

// Version is the snapshot's place in its node's delta stream.
func (q *QueueSnapshot) Version() int64 { return q.version }

// VersionedFrame is Frame with the snapshot's "version", for consoles that
// follow deltas.
func (q *QueueSnapshot) VersionedFrame() []byte { return q.vframe }

// DeltasAfter returns the queue_delta frames that take a console holding
// version v to this snapshot. It reports false when they cannot (v is not
// on the way here) or should not (they outweigh the snapshot itself): the
// console is then sent VersionedFrame.
func (q *QueueSnapshot) DeltasAfter(v int64) ([][]byte, bool) {
	if v < q.base || v > q.version {
		return nil, false
	}
	if v == q.version {
		return nil, true
	}
	if q.deltaN > len(q.vframe) {
		return nil, false
	}
	return q.deltas[v-q.base:], true
}
