package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/gorilla/websocket"
)

// head is the part of any server frame the setup steps look at.
type head struct {
	Type           string `json:"type"`
	Code           string `json:"code"`
	Message        string `json:"message"`
	ConversationID string `json:"conversation_id"`
	Status         string `json:"status"`
	LastSeq        int64  `json:"last_seq"`
}

// expectFrame reads frames until one of type want arrives, skipping others;
// an error frame or the deadline ends the wait. Only for setup, before the
// socket's own reader starts.
func expectFrame(c *websocket.Conn, timeout time.Duration, want string) (head, []byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return head{}, nil, fmt.Errorf("waiting for %s: %w", want, err)
		}
		var h head
		if err := json.Unmarshal(data, &h); err != nil {
			return h, nil, fmt.Errorf("waiting for %s: a frame that is not JSON: %q", want, data)
		}
		if h.Type == want {
			return h, data, nil
		}
		if h.Type == "error" || h.Type == "closed" {
			return h, data, fmt.Errorf("waiting for %s: got %s", want, data)
		}
	}
}

func writeJSON(c *websocket.Conn, v any) error {
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.WriteJSON(v)
}

// readLoop calls handle for every text frame until the socket ends, reusing
// one buffer: handle must not keep data. It returns the error that ended it.
func readLoop(c *websocket.Conn, handle func(data []byte, at time.Time)) error {
	var buf bytes.Buffer
	for {
		typ, r, err := c.NextReader()
		if err != nil {
			return err
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return err
		}
		if typ != websocket.TextMessage {
			continue
		}
		handle(buf.Bytes(), time.Now())
	}
}

// discardLoop reads and drops every frame until the socket ends.
func discardLoop(c *websocket.Conn) error {
	for {
		_, r, err := c.NextReader()
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	}
}
