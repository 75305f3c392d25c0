package service

import (
	"context"
	"log/slog"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// LogAlert is the on-call channel of `make run` until the delivery
// channels are wired: it logs the alert's kind and idempotency key (which
// names the escalation or adverse event), never its text.
type LogAlert struct{ Log *slog.Logger }

// Name is the channel's name.
func (LogAlert) Name() string { return "log" }

// Idempotent: a log line twice harms no one.
func (LogAlert) Idempotent() bool { return true }

// Send logs the alert.
func (l LogAlert) Send(_ context.Context, m app.Message) error {
	l.Log.Warn("on-call alert", "kind", m.Kind, "key", m.IdempotencyKey)
	return nil
}
