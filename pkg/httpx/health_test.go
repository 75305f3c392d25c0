package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	failing := func(context.Context) error { return errors.New("dial tcp db.internal:5432: password=hunter2") }
	hanging := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	panicking := func(context.Context) error { panic("boom") }

	tests := []struct {
		name       string
		checks     map[string]httpx.Check
		wantStatus int
		wantChecks map[string]any
	}{
		{"no checks", nil, 200, map[string]any{}},
		{"all ok", map[string]httpx.Check{"postgres": ok, "nats": ok}, 200, map[string]any{"postgres": "ok", "nats": "ok"}},
		{"one failing", map[string]httpx.Check{"postgres": failing, "nats": ok}, 503, map[string]any{"postgres": "failed", "nats": "ok"}},
		{"panicking", map[string]httpx.Check{"nats": panicking}, 503, map[string]any{"nats": "failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.router.Health(tt.checks)

			rec := do(t, b.router, http.MethodGet, "/healthz", "", nil)
			require.Equal(t, http.StatusOK, rec.Code)
			require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())

			rec = do(t, b.router, http.MethodGet, "/readyz", "", nil)
			if tt.wantStatus == http.StatusOK {
				require.Equal(t, http.StatusOK, rec.Code)
				var body struct {
					Status string         `json:"status"`
					Checks map[string]any `json:"checks"`
				}
				require.NoError(t, decodeBody(rec.Body.Bytes(), &body))
				require.Equal(t, "ready", body.Status)
				require.Equal(t, tt.wantChecks, body.Checks)
				return
			}
			p := requireProblem(t, rec, http.StatusServiceUnavailable)
			require.Equal(t, tt.wantChecks, p.Extensions["checks"])
			for name, res := range tt.wantChecks {
				if res != "ok" {
					require.Contains(t, p.Detail, name)
				}
			}
			require.NotContains(t, rec.Body.String(), "hunter2", "check errors are not returned")
		})
	}

	t.Run("hanging check times out", func(t *testing.T) {
		t.Parallel()
		if testing.Short() {
			t.Skip("waits for the 2s check timeout")
		}
		b := setup(t)
		b.router.Health(map[string]httpx.Check{"nats": hanging, "postgres": ok})
		rec := do(t, b.router, http.MethodGet, "/readyz", "", nil)
		p := requireProblem(t, rec, http.StatusServiceUnavailable)
		require.Equal(t, map[string]any{"nats": "timeout", "postgres": "ok"}, p.Extensions["checks"])
	})
}
