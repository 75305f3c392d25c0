package adapters

import (
	"context"
	"log/slog"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// LogChannel is the channel of `make run`: it sends nothing outside and
// logs that a message would have left (its kind, idempotency key and
// language; never the address or the text, which hold personal data). It
// takes an idempotency key trivially: logging twice sends nothing twice.
type LogChannel struct{ Log *slog.Logger }

var _ app.Channel = LogChannel{}

// Name is "log".
func (LogChannel) Name() string { return "log" }

// Idempotent is true: nothing leaves, so a repeat harms no one.
func (LogChannel) Idempotent() bool { return true }

// Send logs the message's kind, key and language.
func (c LogChannel) Send(ctx context.Context, m app.Message) error {
	c.Log.InfoContext(ctx, "reminder delivered to the log channel", "channel", "log", "kind", m.Kind,
		"key", m.IdempotencyKey, "language", m.Language)
	return nil
}
