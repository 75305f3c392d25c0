package httpx_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
)

func okHandler(w http.ResponseWriter, _ *http.Request) error {
	return httpx.WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
}

func TestRouterNotFoundAndMethodNotAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantAllow  string
		wantRoute  string
	}{
		{"unknown path", http.MethodGet, "/v1/nothing", 404, "", "unmatched"},
		{"root", http.MethodGet, "/", 404, "", "unmatched"},
		{"wrong method", http.MethodDelete, "/v1/patients", 405, "GET, HEAD, POST", "unmatched"},
		{"wrong method with wildcard", http.MethodPost, "/v1/patients/p-1", 405, "GET, HEAD", "unmatched"},
		{"matched", http.MethodGet, "/v1/patients/p-1", 200, "", "GET /v1/patients/{id}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.router.Handle("POST /v1/patients", okHandler, httpx.RoleFrontDesk)
			b.router.Handle("GET /v1/patients", okHandler, httpx.RoleFrontDesk)
			b.router.Handle("GET /v1/patients/{id}", okHandler, httpx.RoleFrontDesk)

			rec := do(t, b.router, tt.method, tt.target, "", bearer(httpx.RoleFrontDesk))
			if tt.wantStatus == http.StatusOK {
				require.Equal(t, http.StatusOK, rec.Code)
			} else {
				p := requireProblem(t, rec, tt.wantStatus)
				require.Equal(t, rec.Header().Get(httpx.HeaderRequestID), p.Instance)
				require.Equal(t, tt.wantAllow, rec.Header().Get("Allow"))
			}
			lines := b.logs.lines(t)
			require.Len(t, lines, 1)
			require.Equal(t, tt.wantRoute, lines[0]["route"])
			require.EqualValues(t, tt.wantStatus, lines[0]["status"])
		})
	}
}

func TestRouterNotFoundWithoutToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := do(t, b.router, http.MethodGet, "/v1/nothing", "", nil)
	requireProblem(t, rec, http.StatusNotFound)
}

func TestRouterRegistrationPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		register func(rt *httpx.Router)
		noTokens bool
	}{
		{"no roles", func(rt *httpx.Router) { rt.Handle("GET /v1/x", okHandler) }, false},
		{"unknown role", func(rt *httpx.Router) { rt.Handle("GET /v1/x", okHandler, "doctor") }, false},
		{"no token store", func(rt *httpx.Router) { rt.Handle("GET /v1/x", okHandler, httpx.RoleAdmin) }, true},
		{"duplicate pattern", func(rt *httpx.Router) {
			rt.Handle("GET /v1/x", okHandler, httpx.RoleAdmin)
			rt.Handle("GET /v1/x", okHandler, httpx.RoleAdmin)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := setup(t).router
			if tt.noTokens {
				rt = httpx.NewRouter(nil, nil)
			}
			require.Panics(t, func() { tt.register(rt) })
		})
	}
}

func TestRouterPublic(t *testing.T) {
	t.Parallel()
	rt := httpx.NewRouter(nil, setup(t).log) // public-only routers need no tokens
	rt.Public("GET /openapi.yaml", func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml")
		_, err := w.Write([]byte("openapi: 3.1.0\n"))
		return err
	})
	rec := do(t, rt, http.MethodGet, "/openapi.yaml", "", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "openapi: 3.1.0\n", rec.Body.String())
}

func TestRouterRedirectsUncleanPaths(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.router.Handle("GET /v1/patients/{id}", okHandler, httpx.RoleFrontDesk)
	rec := do(t, b.router, http.MethodGet, "/v1//patients/p-1", "", bearer(httpx.RoleFrontDesk))
	require.Equal(t, http.StatusTemporaryRedirect, rec.Code)
	require.Equal(t, "/v1/patients/p-1", rec.Header().Get("Location"))
}

func TestRouterListsItsRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.router.Handle("POST /v1/things", func(http.ResponseWriter, *http.Request) error { return nil }, httpx.RoleAdmin)
	b.router.Public("GET /openapi.yaml", func(http.ResponseWriter, *http.Request) error { return nil })
	b.router.Health(nil)
	require.Equal(t, []string{"GET /healthz", "GET /openapi.yaml", "GET /readyz", "POST /v1/things"}, b.router.Routes())
}
