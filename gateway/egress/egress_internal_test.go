package egress

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSpecialAddresses(t *testing.T) {
	for ip, want := range map[string]string{
		"127.0.0.1":        "a loopback address",
		"::1":              "a loopback address",
		"::ffff:127.0.0.1": "a loopback address",
		"10.1.2.3":         "a private address",
		"172.16.0.1":       "a private address",
		"192.168.1.1":      "a private address",
		"fd12::1":          "a private address",
		"169.254.169.254":  "a cloud metadata address",
		"fd00:ec2::254":    "a cloud metadata address",
		"169.254.10.1":     "a link-local address",
		"fe80::1":          "a link-local address",
		"0.0.0.0":          "an unspecified address",
		"::":               "an unspecified address",
		"224.0.0.1":        "a multicast address",
		"ff02::1":          "a multicast address",
		"100.100.100.200":  "a shared (carrier-grade NAT) address",
		"0.1.2.3":          "this network",
		"255.255.255.255":  "the broadcast address",
		"93.184.215.14":    "",
		"2606:4700::6810":  "",
	} {
		require.Equal(t, want, special(netip.MustParseAddr(ip)), ip)
	}
}

// TestAllowedBaseURLs: prefixes match whole path segments, and a bare
// host allows its ports; nothing else passes.
func TestAllowedBaseURLs(t *testing.T) {
	p, err := New([]string{"https://proxy.example/zd", "http://127.0.0.1", "https://EU.Desk.example:8443/"}, nil)
	require.NoError(t, err)
	for base, want := range map[string]bool{
		"https://proxy.example/zd":          true,
		"https://proxy.example/zd/":         true,
		"https://proxy.example/zd/eu":       true,
		"https://PROXY.example/zd/eu":       true,
		"https://proxy.example/zdx":         false,
		"https://proxy.example/":            false,
		"https://proxy.example.evil.com/zd": false,
		"http://proxy.example/zd":           false,
		"https://proxy.example:444/zd":      false,
		"http://127.0.0.1":                  true,
		"http://127.0.0.1:8080":             true,
		"http://127.0.0.1:8080/x":           true,
		"http://127.0.0.10":                 false,
		"http://127.0.0.1.evil.com":         false,
		"https://127.0.0.1":                 false,
		"https://eu.desk.example:8443":      true,
		"https://eu.desk.example:8443/api":  true,
		"https://eu.desk.example":           false,
		"https://eu.desk.example:84430":     false,
	} {
		require.Equal(t, want, p.Allows(base), base)
	}
	_, err = New([]string{"ftp://x.example"}, nil)
	require.Error(t, err)
}

// mapResolver answers every name with the addresses it was given.
type mapResolver map[string][]netip.Addr

func (m mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ips, ok := m[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestDialerChecksResolvedAddresses: a name that resolves to a
// loopback address is not connected to, while a host the operator allowed
// is. The listener counts the connections it accepts.
func TestDialerChecksResolvedAddresses(t *testing.T) {
	var accepted atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	res := mapResolver{
		"evil.zendesk.com":  {netip.MustParseAddr("127.0.0.1")},
		"mixed.zendesk.com": {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("127.0.0.1")},
		"meta.zendesk.com":  {netip.MustParseAddr("169.254.169.254")},
	}
	p, err := New(nil, res)
	require.NoError(t, err)
	ctx := context.Background()
	for _, host := range []string{"evil.zendesk.com", "mixed.zendesk.com", "meta.zendesk.com", "127.0.0.1", "::1"} {
		_, err := p.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
		var refused *RefusedError
		require.ErrorAs(t, err, &refused, host)
	}
	require.Zero(t, accepted.Load(), "a refused address was connected to")

	// A host the operator allowed is connected to, loopback or not.
	allowed, err := New([]string{"http://127.0.0.1"}, res)
	require.NoError(t, err)
	c, err := allowed.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", port))
	require.NoError(t, err)
	_ = c.Close()
	require.Eventually(t, func() bool { return accepted.Load() == 1 }, time.Second, 5*time.Millisecond)
	// ...but not a name of the helpdesk's that resolves to it.
	_, err = allowed.DialContext(ctx, "tcp", net.JoinHostPort("evil.zendesk.com", port))
	var refused *RefusedError
	require.ErrorAs(t, err, &refused)
	require.Contains(t, err.Error(), "evil.zendesk.com: it resolves to 127.0.0.1 (a loopback address)")

	// The socket's Control is the last word, whatever resolved the name.
	_, err = p.guarded.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", port))
	require.ErrorAs(t, err, &refused)
	require.EqualValues(t, 1, accepted.Load())
}

// TestCheckURL: what an admin may give as a webhook endpoint before
// anything is sent to it.
func TestCheckURL(t *testing.T) {
	res := mapResolver{
		"hooks.shop.example":    {netip.MustParseAddr("93.184.215.14")},
		"internal.shop.example": {netip.MustParseAddr("10.0.0.5")},
		"meta.shop.example":     {netip.MustParseAddr("169.254.169.254")},
		"mixed.shop.example":    {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("::1")},
	}
	p, err := New([]string{"http://127.0.0.1", "http://hooks.lan:9000/baton"}, res)
	require.NoError(t, err)
	ctx := context.Background()
	for raw, ok := range map[string]bool{
		"https://hooks.shop.example/baton":   true,
		"https://not-yet-in-dns.example/x":   true, // the dialer checks at every connection
		"http://hooks.shop.example/baton":    false,
		"https://internal.shop.example/x":    false,
		"https://meta.shop.example/latest":   false,
		"https://mixed.shop.example/x":       false,
		"https://127.0.0.1/x":                false,
		"https://[::1]:8443/x":               false,
		"https://localhost/x":                false,
		"https://api.localhost/x":            false,
		"https://10.1.2.3/x":                 false,
		"http://127.0.0.1:8080/hooks":        true, // within the operator's prefixes
		"http://hooks.lan:9000/baton/orders": true,
		"http://hooks.lan:9000/other":        false,
		"https://93.184.215.14/x":            true,
	} {
		err := p.CheckURL(ctx, raw)
		if ok {
			require.NoError(t, err, raw)
		} else {
			require.Error(t, err, raw)
		}
	}
}
