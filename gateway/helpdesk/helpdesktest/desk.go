package helpdesktest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batonchat/baton/session"
)

// Fault is what a fake does with one ticket request (a POST).
type Fault struct {
	// Status answers with this status instead of the ticket (500, 503,
	// 429, 422...).
	Status int
	// RetryAfterSeconds and RetryAfterDate add a Retry-After header: a
	// number of seconds, or an HTTP-date this far from the answer (rounded
	// up to a whole second).
	RetryAfterSeconds int
	RetryAfterDate    time.Duration
	// Body replaces the default JSON error body.
	Body string
	// Drop closes the connection without an answer.
	Drop bool
	// Hang waits this long (or until the caller gives up) before answering.
	Hang time.Duration
	// AfterMake: the ticket is made first, then Status, Drop or Hang.
	AfterMake bool
	// Then is called once the ticket is made, before anything is answered,
	// with the request (its User-Agent names the node): a test's chance to
	// kill the worker that is waiting for the answer.
	Then func(r *http.Request)
}

// Plan picks the fault for the n-th ticket request (from 0) about one
// external id. The zero Fault makes the ticket and answers at once.
type Plan func(externalID string, n int) Fault

// Ticket is a ticket a fake made.
type Ticket struct {
	ID         int64
	ExternalID string
	Subject    string
	Email      string // the requester's or customer's
	HTML       string
	Text       string // Gorgias only
	Body       map[string]any
	At         time.Time
}

// Request is one request a fake received.
type Request struct {
	At             time.Time
	Method, Path   string
	ExternalID     string
	IdempotencyKey string
	// Auth is how the request signed in: "basic", "bearer" or "".
	Auth   string
	Agent  string // its User-Agent: the node that sent it
	Status int    // 0 when the connection was dropped or abandoned
}

// Wait is a Retry-After a fake asked for and when the next request about
// the same ticket came.
type Wait struct {
	ExternalID string
	NotBefore  time.Time
	Next       time.Time
}

// Early reports whether the next request came before Retry-After allowed.
func (w Wait) Early() bool { return w.Next.Before(w.NotBefore) }

// desk is what both fakes share.
type desk struct {
	t      testing.TB
	name   string
	srv    *httptest.Server
	email  string
	secret string

	mu        sync.Mutex
	plan      Plan
	nextID    int64
	tickets   []*Ticket
	byExt     map[string][]*Ticket
	posts     map[string]int
	requests  []Request
	problems  []string
	notBefore map[string]time.Time
	waits     []Wait
}

func newDesk(t testing.TB, name, email, secret string, h http.Handler) *desk {
	d := &desk{t: t, name: name, email: email, secret: secret, nextID: 1000,
		byExt: map[string][]*Ticket{}, posts: map[string]int{}, notBefore: map[string]time.Time{}}
	d.srv = httptest.NewServer(h)
	t.Cleanup(d.srv.Close)
	return d
}

// ChangeSecret replaces the API token or key the fake accepts, as when a
// token is deactivated and another made.
func (d *desk) ChangeSecret(secret string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.secret = secret
}

func (d *desk) currentSecret() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.secret
}

// URL is the fake's base address (an integration's base_url).
func (d *desk) URL() string { return d.srv.URL }

// SetPlan decides the faults from now on; nil makes every ticket at once.
func (d *desk) SetPlan(p Plan) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.plan = p
}

// Tickets returns every ticket made, in order.
func (d *desk) Tickets() []Ticket {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Ticket, len(d.tickets))
	for i, t := range d.tickets {
		out[i] = *t
	}
	return out
}

// TicketsFor returns the tickets made for one external id.
func (d *desk) TicketsFor(externalID string) []Ticket {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Ticket
	for _, t := range d.byExt[externalID] {
		out = append(out, *t)
	}
	return out
}

// Duplicates counts external ids with more than one ticket.
func (d *desk) Duplicates() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, ts := range d.byExt {
		if len(ts) > 1 {
			n++
		}
	}
	return n
}

// Posts counts the ticket requests about one external id.
func (d *desk) Posts(externalID string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.posts[externalID]
}

// Requests returns every request received, in order.
func (d *desk) Requests() []Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Request(nil), d.requests...)
}

// Problems lists requests the real API would have refused (bad auth, bad
// body shape); a test expects none.
func (d *desk) Problems() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.problems...)
}

// Waits returns every Retry-After asked for that a later request followed.
func (d *desk) Waits() []Wait {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Wait(nil), d.waits...)
}

func (d *desk) problem(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

// arrived records a request and measures it against any Retry-After given
// about the same ticket. It returns the request's index.
func (d *desk) arrived(r *http.Request, ext, key string) int {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if nb, ok := d.notBefore[ext]; ok && ext != "" {
		d.waits = append(d.waits, Wait{ExternalID: ext, NotBefore: nb, Next: now})
		delete(d.notBefore, ext)
	}
	auth := ""
	if scheme, _, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok {
		auth = strings.ToLower(scheme)
	}
	d.requests = append(d.requests, Request{At: now, Method: r.Method, Path: r.URL.Path, ExternalID: ext, IdempotencyKey: key,
		Auth: auth, Agent: r.UserAgent()})
	return len(d.requests) - 1
}

func (d *desk) answered(i, status int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests[i].Status = status
}

// nextFault counts a ticket request and picks its fault.
func (d *desk) nextFault(ext string) Fault {
	d.mu.Lock()
	n := d.posts[ext]
	d.posts[ext] = n + 1
	plan := d.plan
	d.mu.Unlock()
	if plan == nil {
		return Fault{}
	}
	return plan(ext, n)
}

// make stores a new ticket.
func (d *desk) make(t *Ticket) *Ticket {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextID++
	t.ID = d.nextID
	t.At = time.Now()
	d.tickets = append(d.tickets, t)
	d.byExt[t.ExternalID] = append(d.byExt[t.ExternalID], t)
	return t
}

// basicAuth reports whether the request carries user:pass.
func basicAuth(r *http.Request, user, pass string) (present, ok bool) {
	u, p, present := r.BasicAuth()
	if !present {
		return false, false
	}
	return true, subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(pass)) == 1
}

// fail answers a fault's status, with Retry-After when asked, and
// remembers the earliest moment the next request about ext may come.
func (d *desk) fail(w http.ResponseWriter, i int, ext string, f Fault, defaultBody string) {
	now := time.Now()
	var nb time.Time
	switch {
	case f.RetryAfterSeconds > 0:
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterSeconds))
		nb = now.Add(time.Duration(f.RetryAfterSeconds) * time.Second)
	case f.RetryAfterDate > 0:
		at := now.Add(f.RetryAfterDate).Truncate(time.Second).Add(time.Second).UTC()
		w.Header().Set("Retry-After", at.Format(http.TimeFormat))
		nb = at
	}
	if !nb.IsZero() {
		d.mu.Lock()
		d.notBefore[ext] = nb
		d.mu.Unlock()
	}
	body := f.Body
	if body == "" {
		body = defaultBody
	}
	writeRaw(w, f.Status, body)
	d.answered(i, f.Status)
}

// injure answers ticket request i with fault f when f is due at this point
// (before the ticket is made, or after when after is set), and says whether
// it did: the handler is then done.
func (d *desk) injure(w http.ResponseWriter, r *http.Request, i int, ext string, f Fault, after bool, failBody string) bool {
	if f.AfterMake != after {
		return false
	}
	if f.Hang > 0 && !hang(r, f.Hang) {
		return true
	}
	if f.Drop {
		d.drop(w, i)
		return true
	}
	if f.Status != 0 {
		d.fail(w, i, ext, f, failBody)
		return true
	}
	return false
}

// hang waits d or until the caller gives up; it reports whether the caller
// is still there.
func hang(r *http.Request, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}

// drop closes the connection without a word.
func (d *desk) drop(w http.ResponseWriter, i int) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		d.t.Errorf("%s fake: cannot drop a connection", d.name)
		return
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	writeRaw(w, status, string(b))
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// Figures summarise what a fake saw, for a test's report.
type Figures struct {
	Tickets      int
	Duplicates   int
	Requests     int
	RetryAfters  int           // Retry-Afters followed by another request
	EarlyRetries int           // of those, how many came too soon
	MinSlack     time.Duration // the closest a retry came to its Retry-After
}

// Figures measures the fake so far.
func (d *desk) Figures() Figures {
	f := Figures{Tickets: len(d.Tickets()), Duplicates: d.Duplicates(), Requests: len(d.Requests()), MinSlack: -1}
	for _, w := range d.Waits() {
		f.RetryAfters++
		if w.Early() {
			f.EarlyRetries++
		}
		if s := w.Next.Sub(w.NotBefore); f.MinSlack < 0 || s < f.MinSlack {
			f.MinSlack = s
		}
	}
	return f
}

func (f Figures) String() string {
	return fmt.Sprintf("%d tickets, %d duplicates, %d requests, %d Retry-Afters followed (%d early, closest %v after)",
		f.Tickets, f.Duplicates, f.Requests, f.RetryAfters, f.EarlyRetries, f.MinSlack)
}

// account is an integration pointing at a fake.
func (d *desk) account(site string) session.HelpdeskAccount {
	return session.HelpdeskAccount{Site: site, Email: d.email, Secret: d.secret, BaseURL: d.srv.URL}
}
