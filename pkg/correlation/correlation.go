// Package correlation carries the correlation and causation ids of a unit of
// work through a context. An HTTP request starts a chain (correlation = the
// request's correlation id, causation = its request id); every event written
// while handling it carries both, and a consumer handling that event continues
// the chain (same correlation, causation = the event's id).
package correlation

import "context"

type ctxKey struct{}

type ids struct {
	correlation string
	causation   string
}

// With returns a context that carries the given correlation and causation ids.
func With(ctx context.Context, correlationID, causationID string) context.Context {
	return context.WithValue(ctx, ctxKey{}, ids{correlation: correlationID, causation: causationID})
}

// ID returns the correlation id carried by ctx, or "".
func ID(ctx context.Context) string {
	v, _ := ctx.Value(ctxKey{}).(ids)
	return v.correlation
}

// Causation returns the causation id carried by ctx, or "".
func Causation(ctx context.Context) string {
	v, _ := ctx.Value(ctxKey{}).(ids)
	return v.causation
}
