// Package agentconsole is the team's side of Baton: sign-in (JWT), the agent
// REST API and socket, the admin API for merchant settings, and the console
// web page at /console/. Every route works within the caller's merchant only:
// the merchant comes from the verified token, never from the request.
//
// Concurrency contract: each console socket has one reading goroutine;
// session feeds and merchant watches call the socket's watcher methods from
// other goroutines, and those only queue frames.
package agentconsole
