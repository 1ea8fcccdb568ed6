package helpdesk

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/batonchat/baton/gateway/egress"
	"github.com/batonchat/baton/session"
)

// Options configure a Client. Zero values take the defaults.
type Options struct {
	// Timeout bounds every HTTP call (15s).
	Timeout time.Duration
	// Transport carries the calls; when nil, one like
	// http.DefaultTransport's whose dialer enforces the address policy
	// (address.go). A Transport given here carries no such check.
	Transport http.RoundTripper
	// AllowedBaseURLs are the URL prefixes an account's base_url may use
	// (BATON_HELPDESK_BASE_URLS); any other base_url is refused.
	AllowedBaseURLs []string
	// Resolver looks host names up for the dialer (net.DefaultResolver).
	Resolver egress.Resolver
	// Zendesk is the operator's own Zendesk OAuth client, for "Connect
	// with Zendesk" (BATON_ZENDESK_CLIENT_ID, BATON_ZENDESK_CLIENT_SECRET).
	Zendesk OAuthClient
	// ZendeskKeyTTL is how long Zendesk is trusted to remember an
	// idempotency key (1h, well inside what Zendesk keeps). Past it, a
	// ticket that may exist is looked up before posting again.
	ZendeskKeyTTL time.Duration
	// UserAgent names Baton to the helpdesks.
	UserAgent string
	Logger    *slog.Logger
	Now       func() time.Time
}

// OAuthClient is an OAuth client registered with Zendesk.
type OAuthClient struct {
	ID, Secret string
}

// Client checks helpdesk credentials and makes tickets.
type Client struct {
	http   *http.Client
	opts   Options
	addr   *egress.Policy
	log    *slog.Logger
	now    func() time.Time
	keyTTL time.Duration
}

// maxAnswer bounds how much of a helpdesk's answer is read.
const maxAnswer = 1 << 20

// maxRetryAfter bounds how long a Retry-After can hold a ticket back.
const maxRetryAfter = 24 * time.Hour

// New returns a Client. It fails only on an AllowedBaseURLs entry that is
// not a URL.
func New(o Options) (*Client, error) {
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.ZendeskKeyTTL <= 0 {
		o.ZendeskKeyTTL = time.Hour
	}
	if o.UserAgent == "" {
		o.UserAgent = "Baton (helpdesk handoff)"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	addr, err := egress.New(o.AllowedBaseURLs, o.Resolver)
	if err != nil {
		return nil, err
	}
	tr := o.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           addr.DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: o.Timeout,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
		}
	}
	return &Client{
		http: &http.Client{Transport: tr, Timeout: o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		opts: o, addr: addr, log: o.Logger, now: o.Now, keyTTL: o.ZendeskKeyTTL,
	}, nil
}

// Verify checks an account's credentials against its helpdesk and returns
// the account as verified: for OAuth client credentials with its first
// token, for OAuth the user the token acts as in Email. A refusal is a
// session error of kind Refused that carries the helpdesk's reason. An
// address the operator does not allow is refused before anything is sent.
func (c *Client) Verify(ctx context.Context, method session.HandoffMethod, acc session.HelpdeskAccount) (session.HelpdeskAccount, error) {
	switch method {
	case session.MethodZendesk:
		return c.verifyZendesk(ctx, acc)
	case session.MethodGorgias:
		return acc, c.verifyGorgias(ctx, acc)
	}
	return acc, &session.Error{Kind: session.KindInvalid, Code: "invalid_integration", Message: "no integration called " + string(method)}
}

// SendTicket implements session.TicketSender.
func (c *Client) SendTicket(ctx context.Context, r session.TicketRequest) (session.TicketResult, error) {
	switch r.Provider {
	case session.MethodZendesk:
		return c.zendeskTicket(ctx, r)
	case session.MethodGorgias:
		return c.gorgiasTicket(ctx, r)
	}
	return session.TicketResult{}, &session.TicketError{Permanent: true, Reason: "no helpdesk called " + string(r.Provider)}
}

// answer is what a helpdesk said.
type answer struct {
	status int
	header http.Header
	body   []byte
	at     time.Time
}

// callError is a call that got no answer. wrote says whether the request
// went out in full: if it did, the helpdesk may have acted on it.
type callError struct {
	wrote bool
	err   error
}

func (e *callError) Error() string { return e.err.Error() }

// credentials sign a call in: basic auth, or a bearer token.
type credentials struct{ user, pass, bearer string }

func basicAuth(user, pass string) credentials { return credentials{user: user, pass: pass} }
func bearer(token string) credentials         { return credentials{bearer: token} }

// call makes one HTTP request with the client's timeout.
func (c *Client) call(ctx context.Context, method, url string, cred credentials, header map[string]string, body []byte) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) { wrote.Store(i.Err == nil) },
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, &callError{err: err}
	}
	switch {
	case cred.bearer != "":
		req.Header.Set("Authorization", "Bearer "+cred.bearer)
	case cred.user != "" || cred.pass != "":
		req.SetBasicAuth(cred.user, cred.pass)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, &callError{wrote: wrote.Load(), err: describe(err, c.opts.Timeout)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		// The status came, the body broke off: the helpdesk acted.
		return nil, &callError{wrote: true, err: describe(err, c.opts.Timeout)}
	}
	return &answer{status: res.StatusCode, header: res.Header, body: b, at: c.now()}, nil
}

// describe says what went wrong with a call, for admins, without the URL
// (which the error carries and admins know).
func describe(err error, timeout time.Duration) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("no answer within %s", timeout)
	case errors.Is(err, context.Canceled):
		return errors.New("the call was abandoned")
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// unanswered turns a call error into a ticket error.
func unanswered(desk string, err error) *session.TicketError {
	var ce *callError
	if !errors.As(err, &ce) {
		ce = &callError{wrote: true, err: err}
	}
	return &session.TicketError{MayExist: ce.wrote, Reason: desk + " did not answer: " + ce.err.Error()}
}

// refusedTicket classifies a helpdesk's refusal of a ticket request.
func (c *Client) refusedTicket(desk string, a *answer) *session.TicketError {
	te := &session.TicketError{Status: a.status, Reason: fmt.Sprintf("%s answered %d: %s", desk, a.status, reasonOf(a))}
	switch {
	case a.status == http.StatusTooManyRequests:
		te.RetryAfter = retryAfter(a.header.Get("Retry-After"), a.at)
	case a.status == http.StatusServiceUnavailable:
		te.RetryAfter = retryAfter(a.header.Get("Retry-After"), a.at)
		te.MayExist = true
	case a.status == http.StatusRequestTimeout:
		// The helpdesk gave up waiting for the request: nothing was made.
	case a.status == http.StatusConflict && desk == "zendesk":
		// Zendesk: another request with this idempotency key is still
		// being processed; it may make the ticket. (Gorgias has no such
		// key: its 409 is a refusal like any other 4xx.)
		te.MayExist = true
	case a.status == http.StatusUnauthorized:
		// The credentials were not accepted: nothing was made. The outbox
		// renews an OAuth token, or holds the handoff for a reconnection.
		te.Unauthorized, te.Permanent = true, true
	case a.status >= 500:
		te.MayExist = true
	case a.status >= 400:
		te.Permanent = true
	default:
		te.Permanent = true
		te.Reason = fmt.Sprintf("%s answered %d, not a ticket (check base_url): %s", desk, a.status, reasonOf(a))
	}
	return te
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP-date,
// measured from when the answer came.
func retryAfter(v string, at time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		// Compared in seconds: n*time.Second overflows past 292 years and
		// would come out negative.
		if n >= int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(at), 0), maxRetryAfter)
	}
	return 0
}

// reasonOf finds the helpdesk's own words in an error answer. Zendesk says
// {"error": "...", "description": "...", "details": {...}}; Gorgias
// {"error": {"msg": "...", "data": {...}}} or {"message": "..."}.
func reasonOf(a *answer) string {
	var v map[string]any
	if json.Unmarshal(a.body, &v) == nil {
		var parts []string
		add := func(s string) {
			s = strings.TrimSpace(s)
			if s != "" && len(parts) < 6 {
				for _, p := range parts {
					if p == s {
						return
					}
				}
				parts = append(parts, s)
			}
		}
		switch e := v["error"].(type) {
		case string:
			add(e)
		case map[string]any:
			for _, k := range []string{"title", "message", "msg"} {
				if s, ok := e[k].(string); ok {
					add(s)
				}
			}
			addDetails(e["data"], add)
		}
		for _, k := range []string{"description", "error_description", "message", "msg"} {
			if s, ok := v[k].(string); ok {
				add(s)
			}
		}
		addDetails(v["details"], add)
		if len(parts) > 0 {
			return clip(strings.Join(parts, "; "), 500)
		}
	}
	// Anything but a JSON error is not repeated: base_url can point at any
	// address, and an admin must not read arbitrary pages through Baton.
	return http.StatusText(a.status)
}

// addDetails flattens validation details such as Zendesk's
// {"requester": [{"description": "Requester email is invalid"}]}.
func addDetails(d any, add func(string)) {
	switch x := d.(type) {
	case map[string]any:
		for k, v := range x {
			switch y := v.(type) {
			case []any:
				for _, item := range y {
					switch z := item.(type) {
					case map[string]any:
						if s, ok := z["description"].(string); ok {
							add(s)
						}
					case string:
						add(k + ": " + z)
					}
				}
			case string:
				add(k + ": " + y)
			}
		}
	}
}

// clip shortens an error text a helpdesk sent, marking that it did.
func clip(s string, n int) string {
	if c, cut := session.Clip(s, n); cut {
		return c + "…"
	}
	return s
}

// refused is a failed credential check.
func refused(desk, reason string) error {
	return &session.Error{Kind: session.KindRefused, Code: "integration_unverified",
		Message: desk + " did not accept these credentials: " + reason}
}

func unreachable(desk string, err error) error {
	var ce *callError
	msg := err.Error()
	if errors.As(err, &ce) {
		msg = ce.err.Error()
	}
	return &session.Error{Kind: session.KindRefused, Code: "helpdesk_unreachable",
		Message: "could not reach " + desk + " to check the credentials: " + msg}
}

// flexID reads an id whether the helpdesk sends it as a number or a string.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" {
		s = ""
	}
	*f = flexID(s)
	return nil
}

// listedTicket is a ticket as a helpdesk lists it.
type listedTicket interface {
	ids() (id, externalID string)
}

// findTicket asks a helpdesk for the tickets carrying external_id ext and
// returns the oldest, or nil when there is none. Any failure may hide a
// ticket that exists, so it is never taken as "none": the caller must not
// post again on it.
func findTicket[T listedTicket](ctx context.Context, c *Client, desk, listURL string, cred credentials, ext string,
	list func(body []byte) ([]T, error), result func(*T) session.TicketResult) (*session.TicketResult, error) {
	a, err := c.call(ctx, http.MethodGet, listURL, cred, nil, nil)
	if err != nil {
		te := unanswered(desk, err)
		te.MayExist = true
		return nil, te
	}
	if a.status != http.StatusOK {
		te := c.refusedTicket(desk, a)
		te.MayExist = true
		return nil, te
	}
	tickets, err := list(a.body)
	if err != nil {
		return nil, &session.TicketError{MayExist: true, Status: a.status, Reason: desk + "'s ticket list was not JSON"}
	}
	var match []T
	for _, t := range tickets {
		if id, e := t.ids(); e == ext && id != "" {
			match = append(match, t)
		}
	}
	if len(match) == 0 {
		return nil, nil
	}
	sort.Slice(match, func(i, j int) bool {
		a, _ := match[i].ids()
		b, _ := match[j].ids()
		return idLess(a, b)
	})
	res := result(&match[0])
	return &res, nil
}

// idLess orders numeric ids numerically.
func idLess(a, b string) bool {
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	if err1 == nil && err2 == nil {
		return x < y
	}
	return a < b
}
