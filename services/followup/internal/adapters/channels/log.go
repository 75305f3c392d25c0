package channels

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// LogName is the log channel's name.
const LogName = "log"

// Log is the channel of `make run`: it sends nothing outside the process
// and logs that a message went, by its ids only.
type Log struct {
	logger *slog.Logger
}

// NewLog makes a log channel writing to logger (nil: slog.Default()).
func NewLog(logger *slog.Logger) *Log {
	if logger == nil {
		logger = slog.Default()
	}
	return &Log{logger: logger}
}

// Name is "log".
func (l *Log) Name() string { return LogName }

// Idempotent is true: a second log line harms no one.
func (l *Log) Idempotent() bool { return true }

// Send logs the kind, the idempotency key and the language. Never the
// address, the subject or the body: they are personal data.
func (l *Log) Send(ctx context.Context, msg app.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("log channel: %w", err)
	}
	l.logger.InfoContext(ctx, "followup message delivered to the log channel",
		slog.String("channel", LogName), slog.String("kind", msg.Kind),
		slog.String("idempotency_key", msg.IdempotencyKey), slog.String("language", msg.Language))
	return nil
}
