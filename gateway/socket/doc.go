// Package socket is the WebSocket plumbing that the visitor gateway and the
// agent console share: a connection with a bounded outgoing queue drained by
// a writer that exists only while there is something to write, and a
// registry that pings every open socket from one timer and drains them all
// on shutdown. It knows nothing of Baton's frames.
//
// Concurrency contract: exactly one goroutine reads a Conn (its owner, via
// Read); Send, Close and CloseNow may be called from any goroutine. Frames
// are written in the order Send accepted them.
package socket
