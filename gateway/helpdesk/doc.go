// Package helpdesk speaks to the helpdesks a merchant can hand
// conversations to: Zendesk and Gorgias. It checks credentials before an
// admin's integration is kept (the user must be able to make Baton's
// tickets), makes tickets for the session core's outbox (it implements
// session.TicketSender), and runs Zendesk's OAuth: the client credentials,
// authorization code (with PKCE) and refresh token grants (oauth.go; it
// implements session.TokenRenewer, while the session core decides when to
// renew and makes sure one node does).
//
// It decides nothing about retrying: it makes one attempt and says how it
// went (session.TicketError: permanent or not, whether the ticket may exist
// anyway, whether the credentials were refused, how long the helpdesk asked
// us to wait). What it does guarantee is that an attempt after one that may
// have made the ticket does not make a second: Zendesk gets the same
// Idempotency-Key and remembers it; Gorgias, which has no such key, is asked
// for the ticket by external_id first, and so is Zendesk when its memory of
// the key may have run out.
//
// It sends credentials only where they belong (address.go): a base_url
// within the operator's allowed prefixes, or the helpdesk's own
// https://SITE.zendesk.com / https://SITE.gorgias.com, through a dialer
// that refuses loopback, private, link-local, metadata and other special
// addresses after resolving the name. Every call has a timeout. Redirects
// are not followed: a helpdesk that redirects a POST has not made a ticket,
// and credentials must not travel to another host. What a helpdesk says is
// repeated to admins only from its error fields, never a raw body.
//
// Concurrency contract: a *Client is safe for concurrent use.
package helpdesk
