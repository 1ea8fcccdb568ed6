// Package helpdesktest runs fake Zendesk and Gorgias servers (httptest)
// for tests. They check authentication and request bodies the way the real
// APIs document them, keep the tickets they make, and fail on command: an
// error status for a while, 429 or 503 with Retry-After (seconds or an
// HTTP-date), a hang past the caller's timeout, a dropped connection, before
// or after the ticket is made. They also measure what tests must prove: how
// many tickets each conversation got, and whether any request came sooner
// than a Retry-After allowed.
//
// The fake Zendesk also plays Zendesk's OAuth (oauth.go): its authorization
// page, the token endpoint's client credentials, authorization code (with
// the PKCE verifier checked) and refresh token grants, tokens that expire,
// refreshes that replace the pair, revocation and invalid_grant; it counts
// how often each refresh token was presented and can kill the node that
// asks. Both fakes answer the user checks (role, role_type, suspended,
// active) the real APIs answer.
package helpdesktest
