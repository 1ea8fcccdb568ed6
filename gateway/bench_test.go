package gateway

import (
	"encoding/json"
	"testing"
)

// Hot-path benchmarks: every visitor frame is decoded once and every stored
// entry becomes a frame once per socket.

func BenchmarkDecodeMessageFrame(b *testing.B) {
	data := []byte(`{"type":"message","client_id":"5f0c2d6e-8a7b-4c1e-9f3a-2b1d0e9c8a7f","text":"Hi, how long does shipping to Belgium take for an order placed today?"}`)
	b.ReportAllocs()
	for b.Loop() {
		var f inFrame
		if err := json.Unmarshal(data, &f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageFrame(b *testing.B) {
	entry := []byte(`{"seq":42,"id":"m_abcdefghijklmnop","client_id":"5f0c2d6e","role":"agent","author":"Anna","author_id":"a_x","text":"It takes one to two working days.","ts":"2026-11-25T09:30:00.120Z"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = messageFrame(entry)
	}
}

func BenchmarkEncodeStatusFrame(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = encode(statusFrame{Type: "status", Status: "queued", QueuePosition: 3})
	}
}
