package app

import (
	"context"
	"errors"
)

// Channel is one way of delivering a message: e-mail over SMTP, SMS
// through a gateway, a signed webhook, or the log (`make run`). The
// reminder engine decides when and whether to send; a Channel only
// delivers, and says what became of the attempt.
//
// Implementations live in internal/adapters/channels.
type Channel interface {
	// Name is "email", "sms", "webhook" or "log": the contact consent it
	// needs and the name in the API and events.
	Name() string
	// Idempotent reports whether the channel takes an idempotency key, so
	// that an attempt whose outcome is unknown (the process died, or the
	// request timed out, after the message may have left) can be retried
	// with the same key without a second message: true for the webhook
	// (an Idempotency-Key header) and SMTP (a stable Message-ID); false
	// for the SMS gateway, whose attempts in doubt are marked unknown and
	// shown to staff instead.
	Idempotent() bool
	// Send delivers msg. A nil error means the channel accepted it. An
	// error wrapping ErrRefused will never succeed (a bad address, a 4xx
	// from the gateway): do not retry. An error wrapping ErrOutcomeUnknown
	// means the message may have left. Any other error is transient: retry
	// with backoff.
	Send(ctx context.Context, msg Message) error
}

// Message is what a channel delivers. It never goes to the logs: it
// holds personal data (the address, and the text names the visit).
type Message struct {
	// IdempotencyKey is the same for every attempt of one reminder: the
	// webhook's Idempotency-Key header, the e-mail's Message-ID.
	IdempotencyKey string
	// To is the address on this channel: an e-mail address, a phone number
	// in E.164 form, or the patient id for the webhook and the log.
	To string
	// Subject is the e-mail's subject; other channels may ignore it.
	Subject string
	// Body is the text, already rendered in the patient's language.
	Body string
	// Language is the BCP 47 tag the text was rendered in ("zh-CN", "en").
	Language string
	// Kind is what the message is ("visit_24h", "check_in", "escalation",
	// ...), for the channels that forward it (the webhook).
	Kind string
}

// Errors a Channel's Send wraps.
var (
	ErrRefused        = errors.New("the channel refused the message")
	ErrOutcomeUnknown = errors.New("the message may have been delivered")
)
