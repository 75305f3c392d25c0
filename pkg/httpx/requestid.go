package httpx

import (
	"context"
	"net/http"

	"github.com/google/uuid"
)

// Headers carrying the request and correlation ids, in and out.
const (
	HeaderRequestID     = "X-Request-ID"
	HeaderCorrelationID = "X-Correlation-ID"
)

const maxIDLen = 64

type requestIDKey struct{}

// RequestIDFrom returns the request id in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestID is middleware that gives every request a request id and a
// correlation id. A caller's X-Request-ID / X-Correlation-ID is kept only if it
// is a sane token (at most 64 of [A-Za-z0-9._-]), since both end up in logs
// and headers; otherwise a UUIDv7 request id is generated and the correlation
// id defaults to it. Both are echoed in the response headers, and the request
// id becomes the causation id of whatever the request causes.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := r.Header.Get(HeaderRequestID)
		if !validID(reqID) {
			reqID = newID()
		}
		corrID := r.Header.Get(HeaderCorrelationID)
		if !validID(corrID) {
			corrID = reqID
		}
		w.Header().Set(HeaderRequestID, reqID)
		w.Header().Set(HeaderCorrelationID, corrID)
		ctx := context.WithValue(r.Context(), requestIDKey{}, reqID)
		ctx = WithCorrelation(ctx, corrID, reqID)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// newID returns a UUIDv7: time-ordered, so ids sort like the log.
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
