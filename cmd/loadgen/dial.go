package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// dialer opens client sockets round-robin over several loopback source
// addresses: one address runs out of ephemeral ports near 28k connections
// to one server address, and a big idle run needs more.
type dialer struct {
	sources []net.IP // nil: let the kernel choose
	next    atomic.Uint64
	ws      websocket.Dialer
	origin  string
}

// newDialer reads a source list such as "127.0.0.2-127.0.0.9",
// "127.0.0.2,127.0.0.3" or "none". bufSize is the client's read and write
// buffer: small for idle runs, where the generator holds many sockets.
func newDialer(sources, origin string, bufSize int) (*dialer, error) {
	d := &dialer{origin: origin}
	ips, err := parseSources(sources)
	if err != nil {
		return nil, err
	}
	d.sources = ips
	d.ws = websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   bufSize,
		WriteBufferSize:  bufSize,
		NetDialContext:   d.dialContext,
	}
	return d, nil
}

func (d *dialer) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: 10 * time.Second}
	if len(d.sources) > 0 {
		ip := d.sources[d.next.Add(1)%uint64(len(d.sources))]
		nd.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return nd.DialContext(ctx, network, addr)
}

// dial opens a WebSocket to base (http://host:port) + path.
func (d *dialer) dial(ctx context.Context, base, path string) (*websocket.Conn, error) {
	h := http.Header{}
	if d.origin != "" {
		h.Set("Origin", d.origin)
	}
	c, res, err := d.ws.DialContext(ctx, wsURL(base)+path, h)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("dial %s%s: %w (HTTP %d)", base, path, err, res.StatusCode)
		}
		return nil, fmt.Errorf("dial %s%s: %w", base, path, err)
	}
	return c, nil
}

func wsURL(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(base, "http://")
}

func parseSources(s string) ([]net.IP, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []net.IP
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a := net.ParseIP(lo).To4()
		if a == nil {
			return nil, fmt.Errorf("--src: %q is not an IPv4 address", lo)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b := net.ParseIP(hi).To4()
		if b == nil || a[0] != b[0] || a[1] != b[1] || a[2] != b[2] || b[3] < a[3] {
			return nil, fmt.Errorf("--src: %q is not a range like 127.0.0.2-127.0.0.9", part)
		}
		for i := int(a[3]); i <= int(b[3]); i++ {
			out = append(out, net.IPv4(a[0], a[1], a[2], byte(i)).To4())
		}
	}
	return out, nil
}
