package channels

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// SMSName is the SMS channel's name.
const SMSName = "sms"

// SMSConfig configures the SMS channel.
type SMSConfig struct {
	// URL is the gateway's endpoint for one message (FOLLOWUP_SMS_URL).
	URL string
	// Token is sent as "Authorization: Bearer <Token>" (FOLLOWUP_SMS_TOKEN).
	Token string
	// Timeout bounds one request (FOLLOWUP_SMS_TIMEOUT).
	Timeout time.Duration
}

// SMS posts each message to an HTTP gateway as JSON {to, text, reference}.
// It is not idempotent: see the package documentation.
type SMS struct {
	cfg    SMSConfig
	client *http.Client
}

// NewSMS checks cfg and makes the channel.
func NewSMS(cfg SMSConfig) (*SMS, error) {
	if err := checkEndpoint("sms url", cfg.URL); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHTTPTimeout
	}
	return &SMS{cfg: cfg, client: newHTTPClient(cfg.Timeout)}, nil
}

// Name is "sms".
func (s *SMS) Name() string { return SMSName }

// Idempotent is false: a gateway sends a second text for a second request.
func (s *SMS) Idempotent() bool { return false }

// e164 is a phone number in E.164 form, the only form the gateway takes.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

type smsRequest struct {
	To        string `json:"to"`
	Text      string `json:"text"`
	Reference string `json:"reference"`
}

// Send posts msg. 2xx: accepted. 4xx but 408 and 429: refused. 408, 429,
// 5xx and failures before the request left: transient. No answer after it
// left: outcome unknown.
func (s *SMS) Send(ctx context.Context, msg app.Message) error {
	if !e164.MatchString(msg.To) {
		return fmt.Errorf("sms: the number is not in E.164 form: %w", app.ErrRefused)
	}
	body, err := json.Marshal(smsRequest{To: msg.To, Text: msg.Body, Reference: msg.IdempotencyKey})
	if err != nil {
		return fmt.Errorf("sms: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sms: build the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	// No Idempotency-Key header: net/http would then replay the POST on a
	// dead keep-alive connection, and the gateway does not de-duplicate.
	return post(ctx, s.client, req, "sms gateway", smsVerdict)
}

func smsVerdict(status int) error {
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		// Throttled or timed out before acting: nothing was sent, so a
		// later try is safe even on this channel.
		return statusError(status, nil)
	case status >= 400 && status < 500:
		return statusError(status, app.ErrRefused)
	default:
		return statusError(status, nil)
	}
}
