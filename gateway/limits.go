package gateway

import "sync"

// socketCounts caps this node's open visitor sockets per address and per
// merchant, so one script cannot hold a node's sockets (and file
// descriptors). A load balancer spreads a client's sockets over nodes; the
// caps are per node.
type socketCounts struct {
	perAddr, perMerchant int // 0: no cap

	mu         sync.Mutex
	byAddr     map[string]int
	byMerchant map[string]int
}

func newSocketCounts(perAddr, perMerchant int) *socketCounts {
	return &socketCounts{perAddr: perAddr, perMerchant: perMerchant, byAddr: map[string]int{}, byMerchant: map[string]int{}}
}

// take counts a socket in, unless a cap is reached; release undoes it.
func (s *socketCounts) take(addr, merchant string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perAddr > 0 && s.byAddr[addr] >= s.perAddr || s.perMerchant > 0 && s.byMerchant[merchant] >= s.perMerchant {
		return nil, false
	}
	s.byAddr[addr]++
	s.byMerchant[merchant]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.byAddr[addr]--; s.byAddr[addr] <= 0 {
				delete(s.byAddr, addr)
			}
			if s.byMerchant[merchant]--; s.byMerchant[merchant] <= 0 {
				delete(s.byMerchant, merchant)
			}
		})
	}, true
}
