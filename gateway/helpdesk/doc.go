// Package helpdesk speaks to the helpdesks a merchant can hand
// conversations to: Zendesk and Gorgias. It checks credentials before an
// admin's integration is kept, and makes tickets for the session core's
// outbox (it implements session.TicketSender).
//
// It decides nothing about retrying: it makes one attempt and says how it
// went (session.TicketError: permanent or not, whether the ticket may exist
// anyway, how long the helpdesk asked us to wait). What it does guarantee is
// that an attempt after one that may have made the ticket does not make a
// second: Zendesk gets the same Idempotency-Key and remembers it; Gorgias,
// which has no such key, is asked for the ticket by external_id first, and
// so is Zendesk when its memory of the key may have run out.
//
// Every call has a timeout. Redirects are not followed: a helpdesk that
// redirects a POST has not made a ticket, and credentials must not travel
// to another host.
//
// Concurrency contract: a *Client is safe for concurrent use.
package helpdesk
