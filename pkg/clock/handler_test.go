package clock_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/httpx"
)

func serve(t *testing.T, h http.Handler, method, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "/dev/clock", strings.NewReader(body))
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerGet(t *testing.T) {
	t.Parallel()
	d := clock.NewDev()
	w := serve(t, clock.Handler(d), http.MethodGet, "")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var got map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	now, err := time.Parse(time.RFC3339Nano, got["now"])
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), now, time.Minute)
	require.Equal(t, "0s", got["offset"])
}

func TestHandlerAdvance(t *testing.T) {
	t.Parallel()
	d := clock.NewDev()
	w := serve(t, clock.Handler(d), http.MethodPost, `{"advance":"336h"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var got map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	now, err := time.Parse(time.RFC3339Nano, got["now"])
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(336*time.Hour), now, time.Minute)
	require.Equal(t, "336h0m0s", got["offset"])
	require.Equal(t, 336*time.Hour, d.Offset())

	// GET now reports the moved clock.
	w = serve(t, clock.Handler(d), http.MethodGet, "")
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	later, err := time.Parse(time.RFC3339Nano, got["now"])
	require.NoError(t, err)
	require.False(t, later.Before(now))
}

func TestHandlerRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		body   string
		status int
	}{
		{"malformed json", http.MethodPost, `{"advance":`, http.StatusBadRequest},
		{"unknown field", http.MethodPost, `{"advance":"1h","by":"2h"}`, http.StatusBadRequest},
		{"wrong type", http.MethodPost, `{"advance":3600}`, http.StatusBadRequest},
		{"empty body", http.MethodPost, ``, http.StatusBadRequest},
		{"missing advance", http.MethodPost, `{}`, http.StatusUnprocessableEntity},
		{"unparseable", http.MethodPost, `{"advance":"two weeks"}`, http.StatusUnprocessableEntity},
		{"zero", http.MethodPost, `{"advance":"0s"}`, http.StatusUnprocessableEntity},
		{"negative", http.MethodPost, `{"advance":"-1h"}`, http.StatusUnprocessableEntity},
		{"too far", http.MethodPost, `{"advance":"2562047h"}`, http.StatusUnprocessableEntity},
		{"method", http.MethodDelete, ``, http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := clock.NewDev()
			w := serve(t, clock.Handler(d), tc.method, tc.body)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			require.Equal(t, httpx.ContentTypeProblem, w.Header().Get("Content-Type"))
			var p httpx.Problem
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
			require.Equal(t, tc.status, p.Status)
			if tc.status == http.StatusUnprocessableEntity {
				require.Equal(t, "advance", p.Errors[0].Field)
			}
			require.Zero(t, d.Offset(), "a rejected request must not move the clock")
		})
	}
}
