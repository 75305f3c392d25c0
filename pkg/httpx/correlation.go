package httpx

import (
	"context"

	"github.com/clinicops/clinicops/pkg/correlation"
)

// Correlation travels with a unit of work across services: the correlation id
// names the whole flow (one front-desk action and every event it causes), the
// causation id names what directly caused the current work. An HTTP request
// starts with causation = its request id.
//
// The ids live in package correlation (unexported context keys), which the
// messaging package reads when writing events and sets when handling them;
// these wrappers only keep HTTP code from needing a second import.

// WithCorrelation returns ctx carrying the given correlation and causation ids.
func WithCorrelation(ctx context.Context, correlationID, causationID string) context.Context {
	return correlation.With(ctx, correlationID, causationID)
}

// CorrelationIDFrom returns the correlation id in ctx, or "".
func CorrelationIDFrom(ctx context.Context) string { return correlation.ID(ctx) }

// CausationIDFrom returns the causation id in ctx, or "".
func CausationIDFrom(ctx context.Context) string { return correlation.Causation(ctx) }
