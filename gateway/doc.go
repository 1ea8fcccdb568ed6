// Package gateway is Baton's HTTP server and the visitor's WebSocket: it
// turns widget frames into session operations and session events into
// frames. It holds no conversation state of its own beyond what one socket
// has shown its visitor.
//
// Concurrency contract: each visitor socket has one reading goroutine, which
// runs that socket's operations in order; session feeds call the socket's
// watcher methods from other goroutines, guarded by the socket's mutex, and
// those only queue frames.
package gateway
