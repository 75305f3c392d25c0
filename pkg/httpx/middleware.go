package httpx

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// requestInfo is filled in by the Router as a request goes through it, so that
// the access log, which sits outside, can report the route and role.
type requestInfo struct {
	route string
	role  Role
	quiet bool // health probes: logged at debug level when they succeed
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// AccessLog is middleware that logs one line per request: method, route
// pattern, status, duration, bytes, request and correlation ids, and the
// caller's role. It deliberately logs no URL path, query, header or body: those
// carry patient data and tokens. Place it inside RequestID and outside Recover
// (the Router does).
func AccessLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			info := &requestInfo{}
			ctx := context.WithValue(r.Context(), requestInfoKey{}, info)
			rw := &responseRecorder{ResponseWriter: w}
			// Deferred, so that a request aborted by a panic is logged too.
			defer func() {
				status := rw.statusOr(http.StatusOK)
				route := info.route
				if route == "" {
					route = "unmatched"
				}
				level := slog.LevelInfo
				switch {
				case status >= 500:
					level = slog.LevelError
				case info.quiet && status < 400:
					level = slog.LevelDebug
				}
				log.LogAttrs(ctx, level, "http request",
					slog.String("method", r.Method),
					slog.String("route", route),
					slog.Int("status", status),
					slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
					slog.Int64("bytes", rw.bytes),
					slog.String("request_id", RequestIDFrom(ctx)),
					slog.String("correlation_id", CorrelationIDFrom(ctx)),
					slog.String("role", string(info.role)),
				)
			}()
			next.ServeHTTP(rw, r.WithContext(ctx))
		})
	}
}

// Recover is middleware that turns a panic into a 500 problem and an error
// log line with the stack. The request body is never logged. If the response
// had already started, the connection is aborted instead, so the client cannot
// mistake a truncated response for a complete one.
func Recover(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw := &responseRecorder{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				ctx := r.Context()
				route := ""
				if info := infoFrom(ctx); info != nil {
					route = info.route
				}
				log.LogAttrs(ctx, slog.LevelError, "panic serving request",
					slog.String("request_id", RequestIDFrom(ctx)),
					slog.String("method", r.Method),
					slog.String("route", route),
					slog.String("panic", fmt.Sprint(v)),
					slog.String("stack", string(debug.Stack())),
				)
				if rw.wroteHeader {
					panic(http.ErrAbortHandler)
				}
				WriteProblem(rw, r, Internal())
			}()
			next.ServeHTTP(rw, r)
		})
	}
}
