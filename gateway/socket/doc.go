// Package socket is the WebSocket plumbing that the visitor gateway and the
// agent console share: a connection with a bounded outgoing queue drained by
// a writer that exists only while there is something to write, and a
// registry that pings every open socket from one timer and drains them all
// on shutdown. It knows nothing of Baton's frames.
//
// Concurrency contract: exactly one goroutine reads a Conn (its owner, via
// Read); Send, Close and CloseNow may be called from any goroutine and never
// wait for the network. Every write (frames, pings, pongs, close frames) is
// made by the Conn's writer goroutine alone; the others queue work for it
// under the Conn's mutex, which is never held across I/O. Frames are written
// in the order Send accepted them. A peer too slow for the queue is cut at
// once, whatever the writer is doing.
package socket
