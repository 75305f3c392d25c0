package httpx

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Check reports whether a dependency (Postgres, NATS) is reachable.
type Check func(ctx context.Context) error

// CheckTimeout bounds each readiness check.
const CheckTimeout = 2 * time.Second

// Health registers the public probes:
//
//   - GET /healthz: 200 {"status":"ok"} while the process can serve at all;
//   - GET /readyz: runs every check concurrently, each within CheckTimeout;
//     200 {"status":"ready","checks":{"postgres":"ok"}} when all pass,
//     otherwise a 503 problem naming the failed checks. Check errors are
//     logged, never returned: they can carry hostnames and credentials.
func (rt *Router) Health(checks map[string]Check) {
	checks = maps.Clone(checks)
	rt.Public("GET /healthz", func(w http.ResponseWriter, r *http.Request) error {
		markQuiet(r)
		w.Header().Set("Cache-Control", "no-store")
		return WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	rt.Public("GET /readyz", func(w http.ResponseWriter, r *http.Request) error {
		markQuiet(r)
		w.Header().Set("Cache-Control", "no-store")
		results := runChecks(r, checks)
		var failed []string
		for name, res := range results {
			if res != "ok" {
				failed = append(failed, name)
			}
		}
		if len(failed) > 0 {
			slices.Sort(failed)
			return Unavailable("not ready: "+strings.Join(failed, ", ")).
				WithExtension("checks", results)
		}
		return WriteJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": results})
	})
}

func markQuiet(r *http.Request) {
	if info := infoFrom(r.Context()); info != nil {
		info.quiet = true
	}
}

// runChecks runs the checks concurrently and returns name -> "ok", "failed"
// or "timeout".
func runChecks(r *http.Request, checks map[string]Check) map[string]string {
	ctx := r.Context()
	log := loggerFrom(ctx)
	results := make(map[string]string, len(checks))
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for name, check := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
			defer cancel()
			err := runCheck(cctx, check)
			res := "ok"
			if err != nil {
				res = "failed"
				if errors.Is(err, context.DeadlineExceeded) || cctx.Err() != nil {
					res = "timeout"
				}
				log.WarnContext(ctx, "readiness check failed",
					"check", name, "request_id", RequestIDFrom(ctx), "error", err.Error())
			}
			mu.Lock()
			results[name] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	return results
}

// runCheck runs one check, treating a panic as a failure, and gives up at the
// deadline even if the check ignores its context.
func runCheck(ctx context.Context, check Check) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("check panicked: %v", v)
			}
		}()
		done <- check(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
