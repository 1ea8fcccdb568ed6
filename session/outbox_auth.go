package session

import (
	"context"
	"errors"
	"fmt"
)

// What the outbox does when a helpdesk refuses the credentials of a ticket
// (see helpdesk_auth.go for the credentials themselves).

func unauthorized(err error) bool {
	var te *TicketError
	return errors.As(err, &te) && te.Unauthorized
}

// reauthorize follows a helpdesk's 401: an OAuth token is renewed (or the
// one another node just renewed is read) and the ticket tried once more;
// credentials refused after that, or an API token refused at all, mean the
// integration needs reconnecting, and the handoff waits for it. A 401 made
// nothing, so trying again cannot make a second ticket.
func (ob *outbox) reauthorize(ctx context.Context, mid string, req *TicketRequest, gen int64, first error) (TicketResult, error) {
	s := ob.svc
	refused := first
	if req.Account.OAuth() {
		access, g, err := s.helpdeskCredentials(ctx, mid, req.Provider, &req.Account, req.Account.AccessToken)
		if err != nil {
			return TicketResult{}, credentialError(req.Provider, err)
		}
		req.Account.AccessToken, gen = access, g
		res, err := ob.send.SendTicket(ctx, *req)
		if !unauthorized(err) {
			return res, err
		}
		refused = err
	}
	var te *TicketError
	errors.As(refused, &te)
	return TicketResult{}, credentialError(req.Provider, s.markNeedsReconnect(ctx, mid, req.Provider, gen, te.Reason))
}

// credentialError is what the outbox makes of a failure to get
// credentials: a hold when only an admin can help, a retry otherwise.
func credentialError(provider HandoffMethod, err error) error {
	var nr *needsReconnect
	if errors.As(err, &nr) {
		return &TicketError{Hold: true, Reason: fmt.Sprintf(
			"%s needs reconnecting (%s); this handoff waits and is made once it is connected again", provider, nr.reason)}
	}
	return &TicketError{Reason: string(provider) + " credentials: " + err.Error()}
}
