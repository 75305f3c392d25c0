package channels

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// WebhookName is the webhook channel's name.
const WebhookName = "webhook"

// WebhookConfig configures the webhook channel.
type WebhookConfig struct {
	// URL is the receiver's endpoint (FOLLOWUP_WEBHOOK_URL).
	URL string
	// Secret signs every request (FOLLOWUP_WEBHOOK_SECRET).
	Secret string
	// Timeout bounds one request (FOLLOWUP_WEBHOOK_TIMEOUT).
	Timeout time.Duration
	// Now stamps sent_at and the signature; nil is time.Now.
	Now func() time.Time
}

// Webhook posts each message as signed JSON. It is idempotent: every
// attempt carries the same Idempotency-Key and id.
type Webhook struct {
	cfg    WebhookConfig
	client *http.Client
}

// NewWebhook checks cfg and makes the channel.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if err := checkEndpoint("webhook url", cfg.URL); err != nil {
		return nil, err
	}
	if cfg.Secret == "" {
		return nil, fmt.Errorf("webhook: a signing secret is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHTTPTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Webhook{cfg: cfg, client: newHTTPClient(cfg.Timeout)}, nil
}

// Name is "webhook".
func (w *Webhook) Name() string { return WebhookName }

// Idempotent is true: receivers de-duplicate by the Idempotency-Key.
func (w *Webhook) Idempotent() bool { return true }

// WebhookPayload is the JSON body of a webhook request.
type WebhookPayload struct {
	// ID is the idempotency key, the same for every attempt.
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	To       string    `json:"to"`
	Subject  string    `json:"subject"`
	Body     string    `json:"body"`
	Language string    `json:"language"`
	SentAt   time.Time `json:"sent_at"`
}

// Send posts msg, signed. 2xx: accepted. 408, 429 and 5xx: transient.
// Other 4xx: refused. No answer after the request left: outcome unknown.
func (w *Webhook) Send(ctx context.Context, msg app.Message) error {
	if msg.IdempotencyKey == "" || strings.ContainsFunc(msg.IdempotencyKey, isCtl) {
		return fmt.Errorf("webhook: the idempotency key cannot be a header value: %w", app.ErrRefused)
	}
	now := w.cfg.Now()
	body, err := json.Marshal(WebhookPayload{ID: msg.IdempotencyKey, Kind: msg.Kind, To: msg.To,
		Subject: msg.Subject, Body: msg.Body, Language: msg.Language, SentAt: now.UTC()})
	if err != nil {
		return fmt.Errorf("webhook: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: build the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(w.cfg.Secret, now, body))
	// Also tells net/http the POST may be replayed on a dead keep-alive connection.
	req.Header.Set("Idempotency-Key", msg.IdempotencyKey)
	return post(ctx, w.client, req, "webhook", webhookVerdict)
}

func webhookVerdict(status int) error {
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return statusError(status, nil)
	case status >= 400:
		return statusError(status, app.ErrRefused)
	default:
		return statusError(status, nil)
	}
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }
