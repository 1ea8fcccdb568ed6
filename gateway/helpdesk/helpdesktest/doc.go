// Package helpdesktest runs fake Zendesk and Gorgias servers (httptest)
// for tests. They check authentication and request bodies the way the real
// APIs document them, keep the tickets they make, and fail on command: an
// error status for a while, 429 or 503 with Retry-After (seconds or an
// HTTP-date), a hang past the caller's timeout, a dropped connection, before
// or after the ticket is made. They also measure what tests must prove: how
// many tickets each conversation got, and whether any request came sooner
// than a Retry-After allowed.
package helpdesktest
