package main

import (
	"context"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/gateway/helpdesk/helpdesktest"
	"github.com/batonchat/baton/gateway/socket/sockettest"
)

// permanentKeys are the keys that live without a TTL, as docs/architecture.md
// lists them: merchants' configuration and accounts, and the indexes that
// shrink by themselves (each says how in the docs). Anything else must
// carry a lifetime.
var permanentKeys = []*regexp.Regexp{
	regexp.MustCompile(`^\{m:[^}]+\}:(cfg|agents|tv|q|a|r|p|o|x|hd|hdf|qr|idle|cool|gone|await|waits|mailf)$`),
	regexp.MustCompile(`^\{m:[^}]+\}:s:[^:]+$`), // an agent's assignments (empty sets vanish)
	// An integration's credential record and its held handoffs.
	regexp.MustCompile(`^\{m:[^}]+\}:(hda|hdh):(zendesk|gorgias)$`),
	regexp.MustCompile(`^(agent-emails|merchants)$`),
	regexp.MustCompile(`^wk:[^:]+$`),
	regexp.MustCompile(`^\{(hd|wh)\}:(s|due)$`),
	regexp.MustCompile(`^\{mail\}:due$`),
}

// keyAudit scans every key under the env's prefix and returns those that
// have no TTL and are not in the permanent set, and all the keys' names.
func (e *env) keyAudit() (bad, all []string) {
	e.t.Helper()
	ctx := context.Background()
	rdb := e.cfg.Redis
	iter := rdb.Scan(ctx, 0, e.cfg.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		all = append(all, strings.TrimPrefix(key, e.cfg.Prefix))
		ttl, err := rdb.PTTL(ctx, key).Result()
		require.NoError(e.t, err)
		if ttl > 0 {
			continue
		}
		name := strings.TrimPrefix(key, e.cfg.Prefix)
		permanent := false
		for _, re := range permanentKeys {
			permanent = permanent || re.MatchString(name)
		}
		if !permanent || strings.HasPrefix(name, "{c:") {
			bad = append(bad, name)
		}
	}
	require.NoError(e.t, iter.Err())
	slices.Sort(all)
	return bad, all
}

// TestEveryKeyHasALifetime: after conversations in every status (a hello
// alone, queued for good, claimed with only the agent writing, closed,
// ticketed), every key either expires or is one the docs list as
// permanent. (Before: a transcript's client_id hash written first by the
// agent had no TTL.)
func TestEveryKeyHasALifetime(t *testing.T) {
	e := newEnv(t, fastHelpdesk)
	s := e.shop("Audit Shop")
	agent := e.addAgent(s, "ann@audit.example", "Ann")

	// A hello alone.
	hello(e.visitor(s.m.WidgetKey))

	// Queued for good.
	v := e.visitor(s.m.WidgetKey)
	hello(v)
	handoff(v, "waits@example.com")

	// Claimed, and only the agent writes.
	v = e.visitor(s.m.WidgetKey)
	conv := hello(v)["conversation_id"].(string)
	handoff(v, "quiet@example.com")
	code, body := e.do("POST", "/v1/agent/conversations/"+conv+"/claim", agent, nil)
	require.Equal(t, 200, code, "%v", body)
	for i := range 3 {
		code, body = e.do("POST", "/v1/agent/conversations/"+conv+"/messages", agent, map[string]any{"client_id": cid("a", i), "text": "hello?"})
		require.Equal(t, 201, code, "%v", body)
	}

	// Closed.
	v = e.visitor(s.m.WidgetKey)
	hello(v)
	say(v, "c1", "How long does shipping take?")
	v.Send(map[string]any{"type": "close"})
	v.Expect("closed")

	// Ticketed.
	g := helpdesktest.NewGorgias(t, "owner@gg.example", "gg-secret-key-4567")
	desk := e.shop("Audit Desk")
	code, body = e.connect(desk, "gorgias", map[string]any{"domain": "ggshop", "email": "owner@gg.example", "api_key": "gg-secret-key-4567", "base_url": g.URL()})
	require.Equal(t, 200, code, "%v", body)
	code, _ = e.do("PUT", "/v1/admin/settings", desk.adminToken, map[string]any{"handoff": map[string]any{"method": "gorgias"}})
	require.Equal(t, 200, code)
	code, _ = e.do("PUT", "/v1/admin/knowledge", desk.adminToken, knowledge())
	require.Equal(t, 200, code)
	ticketed := e.ticketed(desk.m.WidgetKey, "tina@example.com", "Can I change my order?")
	require.Eventually(t, func() bool { return len(g.TicketsFor("baton-"+ticketed)) == 1 }, 10*time.Second, 10*time.Millisecond)

	bad, all := e.keyAudit()
	require.Empty(t, bad, "keys without a lifetime that the docs do not list as permanent (of %d)", len(all))
}

// visitorFrom opens a visitor socket from a given loopback address, as
// another client would.
func (e *env) visitorFrom(key, ip string) (*client, error) {
	d := websocket.Dialer{NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext,
		HandshakeTimeout: 5 * time.Second}
	c, _, err := sockettest.DialWith(e.t, &d, e.wsURL("/v1/widget/ws?key="+key), nil, 64)
	return c, err
}

// TestAnonymousFloodsAreBounded: 3,000 hellos from one address store
// nothing; conversations that address goes on to open are capped; a visitor
// elsewhere still starts one. (Before: 3,000 hellos made 3,000 conversations
// kept for 30 days.)
func TestAnonymousFloodsAreBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("flood skipped in -short")
	}
	e := newEnv(t, func(c *appConfig) { c.Limits = visitorLimits{SocketsPerAddress: 5, NewPerAddress: 20} })
	s := e.shop("Flood Shop")
	_, before := e.keyAudit()

	for i := range 3000 {
		v, err := e.visitorFrom(s.m.WidgetKey, "127.0.0.2")
		require.NoError(t, err, "hello %d", i)
		hello(v)
		require.NoError(t, v.Conn.Close())
	}
	require.Eventually(t, func() bool { return e.app.sockets.Len() == 0 }, 10*time.Second, 10*time.Millisecond)
	_, after := e.keyAudit()
	// The routing pass takes a merchant's lock for four seconds every
	// five, hellos or not: it is no hello's key.
	notLocks := func(keys []string) []string {
		return slices.DeleteFunc(keys, func(k string) bool { return strings.Contains(k, ":lock:") })
	}
	require.Equal(t, notLocks(before), notLocks(after), "a hello alone stores nothing")

	// Open sockets from one address are capped at the upgrade.
	var open []*client
	for range 5 {
		v, err := e.visitorFrom(s.m.WidgetKey, "127.0.0.2")
		require.NoError(t, err)
		open = append(open, v)
	}
	code, err := e.dialStatusFrom("/v1/widget/ws?key="+s.m.WidgetKey, "127.0.0.2")
	require.NoError(t, err)
	require.Equal(t, 429, code, "the sixth socket from one address")
	for _, v := range open {
		_ = v.Conn.Close()
	}
	require.Eventually(t, func() bool { return e.app.sockets.Len() == 0 }, 10*time.Second, 10*time.Millisecond)

	// Conversations stored from one address are capped too.
	refused := 0
	for i := range 40 {
		v, err := e.visitorFrom(s.m.WidgetKey, "127.0.0.2")
		require.NoError(t, err)
		hello(v)
		v.Send(map[string]any{"type": "message", "client_id": cid("f", i), "text": "hi"})
		f := v.Next("echo or refusal", func(f map[string]any) bool {
			return f["type"] == "error" || (f["type"] == "message" && f["role"] == "visitor")
		})
		if f["type"] == "error" {
			require.Equal(t, "too_many_conversations", f["code"])
			refused++
		}
		require.NoError(t, v.Conn.Close())
	}
	require.Equal(t, 20, refused, "40 tries, 20 allowed")

	// Someone else is not held back.
	other, err := e.visitorFrom(s.m.WidgetKey, "127.0.0.3")
	require.NoError(t, err)
	hello(other)
	say(other, "o1", "How long does shipping take?")
}

// dialStatusFrom tries an upgrade from ip and returns the HTTP status.
func (e *env) dialStatusFrom(path, ip string) (int, error) {
	d := websocket.Dialer{NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
	conn, res, err := d.Dial(e.wsURL(path), nil)
	if err == nil {
		_ = conn.Close()
		return 101, nil
	}
	if res == nil {
		return 0, err
	}
	return res.StatusCode, nil
}
