// Package egress decides where Baton may open connections on a merchant's
// behalf: helpdesk APIs and webhook endpoints are addresses a merchant's
// admin types, and neither may turn Baton into a way into the operator's
// network.
package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// A Policy holds two rules:
//
//   - a URL the merchant gives is honoured only within the prefixes the
//     operator allows (BATON_HELPDESK_BASE_URLS, BATON_WEBHOOK_BASE_URLS),
//     or when it is a public address;
//   - every connection is checked after DNS resolution, on the address
//     actually dialled: loopback, private, link-local (and so the cloud
//     metadata addresses 169.254.169.254 and fd00:ec2::254), unspecified,
//     multicast and other special-purpose addresses are refused, unless
//     the host is one the operator allowed, or the operator's proxy.

// Resolver looks host names up (net.DefaultResolver; tests map names).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// allowedBase is one of the operator's base URL prefixes.
type allowedBase struct {
	prefix   string // normalised, without a trailing slash unless it is all path
	hostname string
	port     string
	bare     bool // scheme://host only: any port of that host
}

// Policy is one address policy.
type Policy struct {
	allowed  []allowedBase
	proxies  map[string]bool // host:port of the proxies the environment names
	resolver Resolver
	plain    *net.Dialer
	guarded  *net.Dialer
}

// New returns the policy that allows the URL prefixes allowed beside public
// addresses; resolver looks names up (nil: net.DefaultResolver).
func New(allowed []string, resolver Resolver) (*Policy, error) {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	p := &Policy{resolver: resolver, proxies: map[string]bool{},
		plain: &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}}
	p.guarded = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: guardControl}
	for _, raw := range allowed {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q is not an http(s) URL prefix like https://proxy.example/path", raw)
		}
		b := allowedBase{prefix: normalBase(u), hostname: strings.ToLower(u.Hostname()), port: u.Port()}
		b.bare = strings.Trim(u.Path, "/") == "" && u.Port() == ""
		p.allowed = append(p.allowed, b)
	}
	for _, scheme := range []string{"https", "http"} {
		pu, err := http.ProxyFromEnvironment(&http.Request{URL: &url.URL{Scheme: scheme, Host: "egress.example"}})
		if err == nil && pu != nil {
			port := pu.Port()
			if port == "" {
				port = map[string]string{"https": "443", "http": "80", "socks5": "1080"}[pu.Scheme]
			}
			p.proxies[net.JoinHostPort(strings.ToLower(pu.Hostname()), port)] = true
		}
	}
	return p, nil
}

// normalBase is a URL as prefixes are compared: lower-case scheme and
// host, no trailing slash.
func normalBase(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.EscapedPath(), "/")
}

// Allows reports whether base is within one of the operator's prefixes. A prefix matches whole path segments only
// ("https://p.example/zd" allows ".../zd/eu" but not ".../zdx"), and a
// prefix without port or path allows that host on any port.
func (p *Policy) Allows(base string) bool {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return false
	}
	b := normalBase(u)
	for _, a := range p.allowed {
		if b == a.prefix {
			return true
		}
		if !strings.HasPrefix(b, a.prefix) {
			continue
		}
		switch b[len(a.prefix)] {
		case '/':
			return true
		case ':':
			if a.bare {
				return true
			}
		}
	}
	return false
}

// trusted reports whether a dial to host:port needs no address check: a
// host the operator allowed, or the operator's proxy.
func (p *Policy) trusted(host, port string) bool {
	host = strings.ToLower(strings.Trim(host, "[]"))
	if p.proxies[net.JoinHostPort(host, port)] {
		return true
	}
	for _, a := range p.allowed {
		if a.hostname == host && (a.port == "" || a.port == port) {
			return true
		}
	}
	return false
}

// RefusedError is a connection refused by the address policy.
type RefusedError struct {
	host string
	ip   netip.Addr
	why  string
}

func (e *RefusedError) Error() string {
	if e.host == "" || e.host == e.ip.String() {
		return fmt.Sprintf("Baton does not connect to %s (%s)", e.ip, e.why)
	}
	return fmt.Sprintf("Baton does not connect to %s: it resolves to %s (%s)", e.host, e.ip, e.why)
}

// DialContext is a transport's dialer: it resolves the host itself and
// dials only addresses the policy accepts, so what was checked is what is
// connected to.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if p.trusted(host, port) {
		return p.plain.DialContext(ctx, network, addr)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = p.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%s has no address", host)
	}
	for _, ip := range ips {
		if why := special(ip); why != "" {
			return nil, &RefusedError{host: host, ip: ip.Unmap(), why: why}
		}
	}
	var errs []error
	for _, ip := range ips {
		c, err := p.guarded.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// guardControl checks the address a socket is about to connect to, the
// last word whatever resolved it.
func guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refusing to connect to %q", address)
	}
	if why := special(ap.Addr()); why != "" {
		return &RefusedError{ip: ap.Addr().Unmap(), why: why}
	}
	return nil
}

// Special-purpose ranges beyond what netip names.
var specialPrefixes = []struct {
	p   netip.Prefix
	why string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local translation address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
}

// special says why ip is not a public unicast address, or "" when it is.
func special(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "not an address"
	case ip == netip.MustParseAddr("169.254.169.254") || ip == netip.MustParseAddr("fd00:ec2::254"):
		return "a cloud metadata address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsUnspecified():
		return "an unspecified address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	case ip.Is4() && ip == netip.MustParseAddr("255.255.255.255"):
		return "the broadcast address"
	}
	for _, s := range specialPrefixes {
		if s.p.Contains(ip) {
			return s.why
		}
	}
	return ""
}

// CheckURL reports whether Baton may post to raw, before anything is sent:
// a URL within the operator's prefixes always; any other must be https to
// a name that does not resolve to a special address. A name that does not
// resolve now is let through (DNS may be down, or the record come later):
// the dialer checks again at every connection.
func (p *Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	if p.Allows(raw) {
		return nil
	}
	if u.Scheme != "https" {
		return errors.New("use https: plain http goes only to addresses the operator allows")
	}
	host := strings.Trim(u.Hostname(), "[]")
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := special(ip); why != "" {
			return &RefusedError{ip: ip.Unmap(), why: why}
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return &RefusedError{host: host, ip: netip.MustParseAddr("127.0.0.1"), why: "a loopback address"}
	}
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ips, err := p.resolver.LookupNetIP(lctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, ip := range ips {
		if why := special(ip); why != "" {
			return &RefusedError{host: host, ip: ip.Unmap(), why: why}
		}
	}
	return nil
}

// Transport is an HTTP transport that connects only where the policy
// allows, through the environment's proxy if it names one.
func (p *Policy) Transport() http.RoundTripper {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           p.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
}
