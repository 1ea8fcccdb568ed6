package agentconsole

import (
	"context"
	"sync"
)

// CloseRevoked is the close code of a console socket whose session ended
// (the agent was disabled or removed, signed out, or changed password).
const CloseRevoked = 4001

// liveSockets are this node's authenticated console sockets by account, so
// that a session that ends anywhere ends here too.
type liveSockets struct {
	mu  sync.Mutex
	all map[string]map[*consoleSocket]bool // merchant|agent
}

func accountKey(merchantID, agentID string) string { return merchantID + "|" + agentID }

func (l *liveSockets) add(s *consoleSocket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.all == nil {
		l.all = map[string]map[*consoleSocket]bool{}
	}
	k := accountKey(s.actor.MerchantID, s.actor.ID)
	if l.all[k] == nil {
		l.all[k] = map[*consoleSocket]bool{}
	}
	l.all[k][s] = true
}

func (l *liveSockets) remove(s *consoleSocket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := accountKey(s.actor.MerchantID, s.actor.ID)
	delete(l.all[k], s)
	if len(l.all[k]) == 0 {
		delete(l.all, k)
	}
}

// of returns the sockets of one account ("" agent: of everyone).
func (l *liveSockets) of(merchantID, agentID string) []*consoleSocket {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*consoleSocket
	for k, set := range l.all {
		if agentID != "" && k != accountKey(merchantID, agentID) {
			continue
		}
		for s := range set {
			out = append(out, s)
		}
	}
	return out
}

// accountChanged checks again the sessions of the sockets of an account
// that changed, and closes those that ended. Called by the core, which must
// not wait: the checks run on their own.
func (c *Console) accountChanged(merchantID, agentID string) {
	socks := c.open.of(merchantID, agentID)
	if len(socks) == 0 {
		return
	}
	go func() {
		for _, s := range socks {
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			_, err := c.auth.Authorize(ctx, s.actor, s.version)
			cancel()
			if err == nil {
				continue
			}
			if revoked(err) {
				s.revoke()
				continue
			}
			s.log.Warn("checking a console's session", "err", err)
		}
	}()
}

// revoke ends a socket whose session ended, with its reason.
func (s *consoleSocket) revoke() {
	s.sendError("token_revoked", "this sign-in has ended; sign in again", "", "")
	s.conn.Close(CloseRevoked, "session ended")
}
