package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

// HandlerFunc is an HTTP handler that returns an error instead of writing one.
// A returned error that is (via errors.As) a *Problem is written as is; any
// other error is logged with the request id and answered with a generic 500.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP implements http.Handler.
func (h HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &responseRecorder{ResponseWriter: w}
	if err := h(rw, r); err != nil {
		writeError(rw, r, err)
	}
}

// writeError turns a handler error into a response, unless the handler had
// already started one.
func writeError(rw *responseRecorder, r *http.Request, err error) {
	ctx := r.Context()
	log := loggerFrom(ctx)
	var p *Problem
	isProblem := errors.As(err, &p)
	if rw.wroteHeader {
		// Too late to change the status; record why the response is odd.
		log.WarnContext(ctx, "handler error after response started",
			slog.String("request_id", RequestIDFrom(ctx)),
			slog.String("error", err.Error()))
		return
	}
	if isProblem {
		WriteProblem(rw, r, p)
		return
	}
	if pgdb.Unavailable(err) && ctx.Err() == nil {
		// The database is down, restarting or offline: an outage the
		// client may wait out, not a bug. Almost always nothing was
		// applied; only a connection lost while COMMIT was on its way
		// leaves the outcome unknown, which is why a keyed POST is the
		// safe retry.
		log.WarnContext(ctx, "database unavailable",
			slog.String("request_id", RequestIDFrom(ctx)),
			slog.String("error", err.Error()))
		WriteProblem(rw, r, DatabaseUnavailable())
		return
	}
	level := slog.LevelError
	if ctx.Err() != nil {
		// The client went away or the server is shutting down: not a bug.
		level = slog.LevelWarn
	}
	log.Log(ctx, level, "handler error",
		slog.String("request_id", RequestIDFrom(ctx)),
		slog.String("error", err.Error()))
	WriteProblem(rw, r, Internal())
}

// WriteJSON encodes v as the JSON response body with the given status. The
// value is marshalled before anything is written, so an encoding error can
// still become a 500 problem when returned from a [HandlerFunc].
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	if status == http.StatusNoContent || status == http.StatusNotModified {
		w.WriteHeader(status)
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return nil
}

// responseRecorder remembers the status and size of a response. Unwrap keeps
// http.ResponseController (flush, deadlines) working through it.
type responseRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (rw *responseRecorder) WriteHeader(code int) {
	if rw.wroteHeader {
		rw.ResponseWriter.WriteHeader(code) // let net/http report the superfluous call
		return
	}
	// 1xx informational responses (except 101) precede the real one.
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		rw.ResponseWriter.WriteHeader(code)
		return
	}
	rw.status = code
	rw.wroteHeader = true
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *responseRecorder) Write(b []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Flush keeps handlers that assert http.Flusher working.
func (rw *responseRecorder) Flush() {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}

func (rw *responseRecorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// statusOr returns the recorded status, or def when nothing was written.
func (rw *responseRecorder) statusOr(def int) int {
	if rw.wroteHeader {
		return rw.status
	}
	return def
}

type loggerKey struct{}

func withLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// loggerFrom returns the router's logger, or slog.Default outside a Router.
func loggerFrom(ctx context.Context) *slog.Logger {
	if log, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && log != nil {
		return log
	}
	return slog.Default()
}
