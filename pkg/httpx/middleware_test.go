package httpx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/correlation"
	"github.com/clinicops/clinicops/pkg/httpx"
)

func TestRequestIDPropagation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 65)
	tests := []struct {
		name            string
		reqID, corrID   string
		wantReqID       string // "" means generated
		wantCorrelation string // "" means equal to the request id
	}{
		{name: "none given"},
		{name: "request id kept", reqID: "abc-123_X.y", wantReqID: "abc-123_X.y"},
		{name: "both kept", reqID: "req-1", corrID: "flow-9", wantReqID: "req-1", wantCorrelation: "flow-9"},
		{name: "correlation only", corrID: "flow-9", wantCorrelation: "flow-9"},
		{name: "64 chars kept", reqID: long[:64], wantReqID: long[:64]},
		{name: "65 chars replaced", reqID: long},
		{name: "unsafe chars replaced", reqID: "a b", corrID: "x\ny"},
		{name: "injection replaced", reqID: `"},{"admin":true`, corrID: "<script>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got struct{ req, corr, cause string }
			h := httpx.RequestID(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				ctx := r.Context()
				got.req, got.corr, got.cause = httpx.RequestIDFrom(ctx), httpx.CorrelationIDFrom(ctx), httpx.CausationIDFrom(ctx)
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.reqID != "" {
				req.Header.Set(httpx.HeaderRequestID, tt.reqID)
			}
			if tt.corrID != "" {
				req.Header.Set(httpx.HeaderCorrelationID, tt.corrID)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if tt.wantReqID != "" {
				require.Equal(t, tt.wantReqID, got.req)
			} else {
				id, err := uuid.Parse(got.req)
				require.NoError(t, err)
				require.Equal(t, uuid.Version(7), id.Version())
			}
			wantCorr := tt.wantCorrelation
			if wantCorr == "" {
				wantCorr = got.req
			}
			require.Equal(t, wantCorr, got.corr)
			require.Equal(t, got.req, got.cause, "an HTTP request causes what follows it")
			require.Equal(t, got.req, rec.Header().Get(httpx.HeaderRequestID))
			require.Equal(t, got.corr, rec.Header().Get(httpx.HeaderCorrelationID))
		})
	}
}

func TestWithCorrelation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	require.Empty(t, httpx.CorrelationIDFrom(ctx))
	require.Empty(t, httpx.CausationIDFrom(ctx))
	ctx = httpx.WithCorrelation(ctx, "flow-1", "event-7")
	require.Equal(t, "flow-1", httpx.CorrelationIDFrom(ctx))
	require.Equal(t, "event-7", httpx.CausationIDFrom(ctx))
}

func TestRecover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		handler    httpx.HandlerFunc
		wantStatus int
	}{
		{"panic before writing", func(http.ResponseWriter, *http.Request) error { panic("boom") }, http.StatusInternalServerError},
		{"nil map write", func(http.ResponseWriter, *http.Request) error {
			var m map[string]int
			m["x"] = 1 //nolint:staticcheck // the panic is the point of this case
			return nil
		}, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.router.Handle("POST /v1/patients", tt.handler, httpx.RoleFrontDesk)
			h := bearer(httpx.RoleFrontDesk)
			h.Set("Content-Type", "application/json")
			rec := do(t, b.router, http.MethodPost, "/v1/patients", `{"name":"Zhang San"}`, h)
			p := requireProblem(t, rec, tt.wantStatus)
			require.Equal(t, httpx.TypeInternal, p.Type)

			var panicLine, accessLine map[string]any
			for _, l := range b.logs.lines(t) {
				switch l["msg"] {
				case "panic serving request":
					panicLine = l
				case "http request":
					accessLine = l
				}
			}
			require.NotNil(t, panicLine)
			require.Contains(t, panicLine["stack"], "goroutine")
			require.Equal(t, p.Instance, panicLine["request_id"])
			require.Equal(t, "POST /v1/patients", panicLine["route"])
			require.NotNil(t, accessLine)
			require.EqualValues(t, 500, accessLine["status"])
			require.NotContains(t, b.logs.String(), "Zhang San", "bodies are never logged")
		})
	}
}

func TestRecoverAfterResponseStartedAborts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.router.Public("GET /stream", func(w http.ResponseWriter, _ *http.Request) error {
		_, _ = w.Write([]byte("partial"))
		panic("boom")
	})
	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		do(t, b.router, http.MethodGet, "/stream", "", nil)
	})
	lines := b.logs.lines(t)
	require.Len(t, lines, 2, "the panic and the access log are both recorded")
}

func TestAccessLogKeepsPersonalDataOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.router.Handle("POST /v1/patients/{id}/contacts", func(w http.ResponseWriter, r *http.Request) error {
		var body map[string]any
		if err := httpx.DecodeJSON(r, &body, 0); err != nil {
			return err
		}
		return httpx.WriteJSON(w, http.StatusCreated, body)
	}, httpx.RoleFrontDesk)

	h := bearer(httpx.RoleFrontDesk)
	h.Set("Content-Type", "application/json")
	h.Set(httpx.HeaderCorrelationID, "flow-1")
	rec := do(t, b.router, http.MethodPost, "/v1/patients/p-secret-77/contacts?phone=13800138000",
		`{"phone":"13912345678"}`, h)
	require.Equal(t, http.StatusCreated, rec.Code)

	lines := b.logs.lines(t)
	require.Len(t, lines, 1)
	l := lines[0]
	require.Equal(t, "http request", l["msg"])
	require.Equal(t, "POST", l["method"])
	require.Equal(t, "POST /v1/patients/{id}/contacts", l["route"])
	require.EqualValues(t, 201, l["status"])
	require.Equal(t, "front_desk", l["role"])
	require.Equal(t, rec.Header().Get(httpx.HeaderRequestID), l["request_id"])
	require.Equal(t, "flow-1", l["correlation_id"])
	require.Contains(t, l, "duration_ms")

	logs := b.logs.String()
	for _, secret := range []string{"p-secret-77", "13800138000", "13912345678", testTokens[httpx.RoleFrontDesk]} {
		require.NotContains(t, logs, secret)
	}
}

// The messaging package reads package correlation; ids set by HTTP must be
// the same ones it sees when a handler writes events.
func TestCorrelationSharedWithMessaging(t *testing.T) {
	t.Parallel()
	var gotCorr, gotCause string
	h := httpx.RequestID(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		gotCorr, gotCause = correlation.ID(r.Context()), correlation.Causation(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(httpx.HeaderRequestID, "req-5")
	req.Header.Set(httpx.HeaderCorrelationID, "flow-5")
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.Equal(t, "flow-5", gotCorr)
	require.Equal(t, "req-5", gotCause)
}
