package helpdesk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/batonchat/baton/session"
)

// Where Baton may send a merchant's credentials. A merchant's admin types
// the subdomain and, perhaps, a base_url; neither may turn Baton into a
// way into the operator's network:
//
//   - a base_url is honoured only within the prefixes the operator allows
//     (BATON_HELPDESK_BASE_URLS); without one Baton calls only
//     https://SUBDOMAIN.zendesk.com or https://DOMAIN.gorgias.com, the
//     subdomain being a DNS label (session.HelpdeskAccount.Validate);
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

// addresses is the client's address policy.
type addresses struct {
	allowed  []allowedBase
	proxies  map[string]bool // host:port of the proxies the environment names
	resolver Resolver
	plain    *net.Dialer
	guarded  *net.Dialer
}

func newAddresses(allowed []string, resolver Resolver) (*addresses, error) {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	p := &addresses{resolver: resolver, proxies: map[string]bool{},
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
			return nil, fmt.Errorf("%q is not an http(s) URL prefix like https://proxy.example/zendesk", raw)
		}
		b := allowedBase{prefix: normalBase(u), hostname: strings.ToLower(u.Hostname()), port: u.Port()}
		b.bare = strings.Trim(u.Path, "/") == "" && u.Port() == ""
		p.allowed = append(p.allowed, b)
	}
	for _, scheme := range []string{"https", "http"} {
		pu, err := http.ProxyFromEnvironment(&http.Request{URL: &url.URL{Scheme: scheme, Host: "helpdesk.example"}})
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

// allows reports whether base (an account's base_url) is within one of
// the operator's prefixes. A prefix matches whole path segments only
// ("https://p.example/zd" allows ".../zd/eu" but not ".../zdx"), and a
// prefix without port or path allows that host on any port.
func (p *addresses) allows(base string) bool {
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
func (p *addresses) trusted(host, port string) bool {
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

// errRefusedAddress is a connection refused by the address policy.
type errRefusedAddress struct {
	host string
	ip   netip.Addr
	why  string
}

func (e *errRefusedAddress) Error() string {
	if e.host == "" || e.host == e.ip.String() {
		return fmt.Sprintf("Baton does not connect to %s (%s)", e.ip, e.why)
	}
	return fmt.Sprintf("Baton does not connect to %s: it resolves to %s (%s)", e.host, e.ip, e.why)
}

// dial is the helpdesk transport's DialContext: it resolves the host
// itself and dials only addresses the policy accepts, so what was checked
// is what is connected to.
func (p *addresses) dial(ctx context.Context, network, addr string) (net.Conn, error) {
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
			return nil, &errRefusedAddress{host: host, ip: ip.Unmap(), why: why}
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
		return &errRefusedAddress{ip: ap.Addr().Unmap(), why: why}
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

// baseFor is where an account's API lives: its base_url when the operator
// allows it, else the site under the helpdesk's domain. Nothing is sent
// anywhere else.
func (c *Client) baseFor(acc session.HelpdeskAccount, domain string) (string, error) {
	if acc.BaseURL == "" {
		if acc.Site == "" || strings.ContainsAny(acc.Site, "./:@[]%") {
			return "", &session.Error{Kind: session.KindInvalid, Code: "invalid_integration", Message: "the site must be the account's name, like \"myshop\""}
		}
		return "https://" + acc.Site + domain, nil
	}
	if !c.addr.allows(acc.BaseURL) {
		return "", &session.Error{Kind: session.KindRefused, Code: "base_url_not_allowed",
			Message: "base_url " + acc.BaseURL + " is not among the addresses this Baton allows (BATON_HELPDESK_BASE_URLS); leave it empty to use the helpdesk's own address"}
	}
	return strings.TrimRight(acc.BaseURL, "/"), nil
}

// CheckAddress refuses an account whose base_url the operator does not
// allow, before anything is sent to it.
func (c *Client) CheckAddress(method session.HandoffMethod, acc session.HelpdeskAccount) error {
	_, err := c.baseFor(acc, domainOf(method))
	return err
}

func domainOf(method session.HandoffMethod) string {
	if method == session.MethodGorgias {
		return ".gorgias.com"
	}
	return ".zendesk.com"
}
