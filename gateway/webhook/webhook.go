// Package webhook posts Baton's webhook deliveries to merchants'
// endpoints, signed as the Standard Webhooks specification says: headers
// webhook-id, webhook-timestamp (Unix seconds) and webhook-signature, a
// space-separated list of "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body" under each secret (the base64 after "whsec_").
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/batonchat/baton/session"
)

// Sign returns the webhook-signature header for body under secrets, one
// "v1," signature per secret.
func Sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil || len(key) == 0 {
			return "", errors.New("webhook: a secret is not whsec_ and base64")
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}

// Guard says where deliveries may go: the operator's allow-list and the
// addresses a name resolves to. Its Transport dials only what it allows.
type Guard interface {
	CheckURL(ctx context.Context, raw string) error
	Transport() http.RoundTripper
}

// Sender posts deliveries.
type Sender struct {
	guard  Guard
	client *http.Client
}

// New returns a sender whose connections the guard vets.
func New(guard Guard) *Sender {
	return &Sender{guard: guard, client: &http.Client{
		Transport: guard.Transport(),
		// A redirect is an answer, not a 2xx: the endpoint must be the URL
		// the merchant gave.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// CheckURL reports whether deliveries may go to raw.
func (s *Sender) CheckURL(ctx context.Context, raw string) error { return s.guard.CheckURL(ctx, raw) }

// maxAnswer is how much of an endpoint's answer is kept for admins.
const maxAnswer = 512

// SendWebhook makes one attempt. An endpoint's answer, whatever its status,
// is a result; only no answer at all is an error.
func (s *Sender) SendWebhook(ctx context.Context, r session.WebhookRequest) (session.WebhookResult, error) {
	sig, err := Sign(r.Secrets, r.ID, r.Timestamp, r.Body)
	if err != nil {
		return session.WebhookResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, strings.NewReader(string(r.Body)))
	if err != nil {
		return session.WebhookResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Baton-Webhooks/1")
	req.Header.Set("webhook-id", r.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(r.Timestamp.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	res, err := s.client.Do(req)
	if err != nil {
		return session.WebhookResult{}, fmt.Errorf("posting: %w", unwrapURL(err))
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	// Read a little more so the connection can be reused, but never wait
	// on an endpoint that streams forever.
	_, _ = io.CopyN(io.Discard, res.Body, 64<<10)
	return session.WebhookResult{Status: res.StatusCode, Body: string(b)}, nil
}

// unwrapURL drops url.Error's "Post URL:" prefix: the admin knows the URL.
func unwrapURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && strings.HasPrefix(err.Error(), "Post ") {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
