package session

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session/sessiontest"
)

func TestSealer(t *testing.T) {
	old := newSealer([]byte("the-old-secret-0123456789"))
	sealed := old.seal([]byte("refresh-token"), "m_1|zendesk|abc")
	require.NotContains(t, sealed, "refresh-token")

	p, ok := old.open(sealed, "m_1|zendesk|abc")
	require.True(t, ok)
	require.Equal(t, "refresh-token", string(p))
	_, ok = old.open(sealed, "m_2|zendesk|abc")
	require.False(t, ok, "a value sealed for one place opened for another")
	tampered := sealed[:len(sealed)-2] + map[bool]string{true: "AA", false: "BA"}[strings.HasSuffix(sealed, "BA")]
	_, ok = old.open(tampered, "m_1|zendesk|abc")
	require.False(t, ok, "a tampered value opened")

	// Rotating: the new secret seals, the previous still opens.
	rotating := newSealer([]byte("the-new-secret-0123456789"), []byte("the-old-secret-0123456789"))
	p, ok = rotating.open(sealed, "m_1|zendesk|abc")
	require.True(t, ok)
	require.Equal(t, "refresh-token", string(p))
	require.False(t, rotating.current(sealed))
	resealed := rotating.seal(p, "m_1|zendesk|abc")
	require.True(t, rotating.current(resealed))
	// After the rotation, without the previous secret, only the new opens.
	after := newSealer([]byte("the-new-secret-0123456789"))
	_, ok = after.open(sealed, "m_1|zendesk|abc")
	require.False(t, ok)
	_, ok = after.open(resealed, "m_1|zendesk|abc")
	require.True(t, ok)
	// Nothing sealed with the agents' signing secret as such.
	require.NotEqual(t, newSealer([]byte("x")).keys[0].id, newSealer([]byte("y")).keys[0].id)
}

// countingRenewer renews like Zendesk: a pair can be refreshed once.
type countingRenewer struct {
	mu        sync.Mutex
	presented map[string]int
	n         int
	fail      error // returned instead, when set
	block     chan struct{}
}

func (r *countingRenewer) RenewToken(ctx context.Context, _ HandoffMethod, _ HelpdeskAccount, cur OAuthToken) (OAuthToken, error) {
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return OAuthToken{}, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return OAuthToken{}, r.fail
	}
	r.presented[cur.Refresh]++
	if r.presented[cur.Refresh] > 1 {
		return OAuthToken{}, &GrantError{Reason: "invalid_grant: refresh token " + cur.Refresh + " was already used"}
	}
	r.n++
	now := time.Now()
	return OAuthToken{Access: fmt.Sprintf("access-%d", r.n), Refresh: fmt.Sprintf("refresh-%d", r.n), Issued: now, Expires: now.Add(time.Hour)}, nil
}

func (r *countingRenewer) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// authNodes are Services on one Redis prefix, as three gateway nodes.
func authNodes(t *testing.T, n int, renewer TokenRenewer, lease time.Duration) ([]*Service, *Merchant) {
	t.Helper()
	rdb, prefix := sessiontest.Redis(t)
	var nodes []*Service
	for range n {
		nodes = append(nodes, New(Options{Redis: rdb, Prefix: prefix, Secret: []byte("node-secret-0123456789"),
			Renewer: renewer, Outbox: OutboxOptions{TokenLease: lease}}))
	}
	ctx := context.Background()
	m, err := nodes[0].CreateMerchant(ctx, "Auth Shop", nil, "")
	require.NoError(t, err)
	acc := &HelpdeskAccount{Site: "authshop", Auth: AuthCode, ClientID: "baton", Email: "agent@authshop.example",
		Token: &OAuthToken{Access: "access-0", Refresh: "refresh-0", Issued: time.Now(), Expires: time.Now().Add(time.Hour)}}
	_, err = nodes[0].SetIntegration(ctx, m.ID, MethodZendesk, acc)
	require.NoError(t, err)
	return nodes, m
}

func accountOn(t *testing.T, s *Service, mid string) *HelpdeskAccount {
	t.Helper()
	m, err := s.loadMerchant(context.Background(), mid)
	require.NoError(t, err)
	a := *m.Integrations.Zendesk
	return &a
}

// TestOneRenewalPerPair: 30 callers on 3 nodes find their token refused
// at once (as after a 401), round after round: each round exactly one of
// them renews, and all of them get the new pair's access token.
func TestOneRenewalPerPair(t *testing.T) {
	r := &countingRenewer{presented: map[string]int{}}
	nodes, m := authNodes(t, 3, r, 2*time.Second)
	ctx := context.Background()
	stale := "access-0"
	for round := 1; round <= 5; round++ {
		var wg sync.WaitGroup
		got := make(chan string, 30)
		errs := make(chan error, 30)
		for i := range 30 {
			s := nodes[i%3]
			acc := accountOn(t, s, m.ID)
			wg.Add(1)
			go func() {
				defer wg.Done()
				access, _, err := s.helpdeskCredentials(ctx, m.ID, MethodZendesk, acc, stale)
				if err != nil {
					errs <- err
					return
				}
				got <- access
			}()
		}
		wg.Wait()
		close(got)
		close(errs)
		for err := range errs {
			require.NoError(t, err, "round %d", round)
		}
		want := fmt.Sprintf("access-%d", round)
		n := 0
		for a := range got {
			require.Equal(t, want, a, "round %d: a caller got another token", round)
			n++
		}
		require.Equal(t, 30, n)
		require.Equal(t, round, r.count(), "round %d: renewals", round)
		stale = want
	}
	for rt, n := range r.presented {
		require.Equal(t, 1, n, "refresh token %s presented %d times", rt, n)
	}
	var total int64
	for _, s := range nodes {
		total += s.HelpdeskAuthStats().Renewals
	}
	require.EqualValues(t, 5, total)
}

// TestRenewalAfterLeaseHolderDied: a node that died holding the lease
// leaves it to expire; then the next caller renews.
func TestRenewalAfterLeaseHolderDied(t *testing.T) {
	r := &countingRenewer{presented: map[string]int{}}
	lease := 400 * time.Millisecond
	nodes, m := authNodes(t, 2, r, lease)
	ctx := context.Background()
	s := nodes[1]
	// The dead node's lease, as it left it.
	require.NoError(t, s.rdb.Set(ctx, s.keys.helpdeskLease(m.ID, MethodZendesk), "n_dead/f_x", lease).Err())
	start := time.Now()
	access, _, err := s.helpdeskCredentials(ctx, m.ID, MethodZendesk, accountOn(t, s, m.ID), "access-0")
	require.NoError(t, err)
	require.Equal(t, "access-1", access)
	require.GreaterOrEqual(t, time.Since(start), lease-50*time.Millisecond, "renewed while the dead node's lease stood")
	require.Equal(t, 1, r.count())

	// A holder whose refresh hangs gives up inside its lease and frees it.
	r.block = make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, _, err := nodes[0].helpdeskCredentials(ctx, m.ID, MethodZendesk, accountOn(t, nodes[0], m.ID), "access-1")
		done <- err
	}()
	require.Eventually(t, func() bool {
		return s.rdb.Exists(ctx, s.keys.helpdeskLease(m.ID, MethodZendesk)).Val() == 1
	}, time.Second, 5*time.Millisecond)
	require.Error(t, <-done)
	require.Zero(t, s.rdb.Exists(ctx, s.keys.helpdeskLease(m.ID, MethodZendesk)).Val(), "the lease outlived its holder's attempt")
	close(r.block)
	r.block = nil
	access, _, err = s.helpdeskCredentials(ctx, m.ID, MethodZendesk, accountOn(t, s, m.ID), "access-1")
	require.NoError(t, err)
	require.Equal(t, "access-2", access)
}

// TestRevokedGrantNeedsReconnect: a renewal refused for good marks the
// integration; nobody asks again until it is connected again.
func TestRevokedGrantNeedsReconnect(t *testing.T) {
	r := &countingRenewer{presented: map[string]int{}, fail: &GrantError{Reason: "Zendesk refused the refresh_token grant (400): invalid_grant"}}
	nodes, m := authNodes(t, 2, r, time.Second)
	ctx := context.Background()
	_, _, err := nodes[0].helpdeskCredentials(ctx, m.ID, MethodZendesk, accountOn(t, nodes[0], m.ID), "access-0")
	var nr *needsReconnect
	require.ErrorAs(t, err, &nr)
	require.Contains(t, nr.reason, "invalid_grant")
	mer, err := nodes[1].loadMerchant(ctx, m.ID)
	require.NoError(t, err)
	st, err := nodes[1].IntegrationState(ctx, mer, MethodZendesk)
	require.NoError(t, err)
	require.Equal(t, IntegrationNeedsReconnect, st.Status)
	require.Contains(t, st.Reason, "invalid_grant")
	require.EqualValues(t, 1, nodes[0].HelpdeskAuthStats().NeedsReconnect)

	r.fail = nil
	_, _, err = nodes[1].helpdeskCredentials(ctx, m.ID, MethodZendesk, accountOn(t, nodes[1], m.ID), "")
	require.ErrorAs(t, err, &nr, "asked again while the integration needs reconnecting")
	require.Zero(t, r.count())

	acc := accountOn(t, nodes[1], m.ID)
	acc.Token = &OAuthToken{Access: "access-new", Refresh: "refresh-new", Issued: time.Now(), Expires: time.Now().Add(time.Hour)}
	_, err = nodes[1].SetIntegration(ctx, m.ID, MethodZendesk, acc)
	require.NoError(t, err)
	access, _, err := nodes[0].helpdeskCredentials(ctx, m.ID, MethodZendesk, accountOn(t, nodes[0], m.ID), "")
	require.NoError(t, err)
	require.Equal(t, "access-new", access)
}

// TestTokenBoundToItsAccount: the token is sealed for the account's
// address; read for an account pointing elsewhere (a configuration that
// changed without the token), it does not open, so it is never sent there.
func TestTokenBoundToItsAccount(t *testing.T) {
	r := &countingRenewer{presented: map[string]int{}}
	nodes, m := authNodes(t, 1, r, time.Second)
	ctx := context.Background()
	acc := accountOn(t, nodes[0], m.ID)
	access, _, err := nodes[0].helpdeskCredentials(ctx, m.ID, MethodZendesk, acc, "")
	require.NoError(t, err)
	require.Equal(t, "access-0", access)
	moved := *acc
	moved.BaseURL = "https://elsewhere.example"
	_, _, err = nodes[0].helpdeskCredentials(ctx, m.ID, MethodZendesk, &moved, "")
	require.ErrorIs(t, err, errAccountChanged)

	// Tokens and secrets are sealed at rest; another BATON_SECRET cannot
	// read them, and then the integration needs reconnecting.
	tok, err := nodes[0].rdb.HGet(ctx, nodes[0].keys.helpdeskAuth(m.ID, MethodZendesk), "tok").Result()
	require.NoError(t, err)
	require.NotContains(t, tok, "access-0")
	require.NotContains(t, tok, "refresh-0")
	_, err = nodes[0].SetIntegration(ctx, m.ID, MethodGorgias, &HelpdeskAccount{Site: "authshop", Email: "owner@authshop.example", Secret: "gg-secret-api-key-987654"})
	require.NoError(t, err)
	raw, err := nodes[0].rdb.HGet(ctx, nodes[0].keys.merchantConfig(m.ID), cIntegrationPrefix+"gorgias").Result()
	require.NoError(t, err)
	require.NotContains(t, raw, "gg-secret-api-key")
	require.Contains(t, raw, `"secret_hint":"7654"`)
	mer, err := nodes[0].loadMerchant(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, "gg-secret-api-key-987654", mer.Integrations.Gorgias.Secret)
	require.Equal(t, "********7654", mer.Integrations.Gorgias.MaskedSecret())

	other := New(Options{Redis: nodes[0].rdb, Prefix: nodes[0].keys.prefix, Secret: []byte("another-secret-0123456789")})
	mer, err = other.loadMerchant(ctx, m.ID)
	require.NoError(t, err)
	require.True(t, mer.Integrations.Gorgias.Unreadable)
	require.Empty(t, mer.Integrations.Gorgias.Secret)
	st, err := other.IntegrationState(ctx, mer, MethodGorgias)
	require.NoError(t, err)
	require.Equal(t, IntegrationNeedsReconnect, st.Status)
	// With the old secret as BATON_SECRET_PREVIOUS it reads them again.
	rotated := New(Options{Redis: nodes[0].rdb, Prefix: nodes[0].keys.prefix, Secret: []byte("another-secret-0123456789"),
		SecretPrevious: []byte("node-secret-0123456789")})
	mer, err = rotated.loadMerchant(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, "gg-secret-api-key-987654", mer.Integrations.Gorgias.Secret)
	access, _, err = rotated.helpdeskCredentials(ctx, m.ID, MethodZendesk, mer.Integrations.Zendesk, "")
	require.NoError(t, err)
	require.Equal(t, "access-0", access)
}
