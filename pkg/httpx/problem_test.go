package httpx_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
)

func TestProblemJSON(t *testing.T) {
	t.Parallel()
	p := httpx.Unprocessable("patient is invalid",
		httpx.FieldError{Field: "birth_date", Message: "must be in the past"},
	).WithExtension("existing_patient_id", "0190a1b2").
		WithExtension("status", 999) // may not override a standard member
	p.Instance = "req-1"

	b, err := json.Marshal(p)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"type": "https://clinicops.dev/problems/validation",
		"title": "Validation failed",
		"status": 422,
		"detail": "patient is invalid",
		"instance": "req-1",
		"errors": [{"field": "birth_date", "message": "must be in the past"}],
		"existing_patient_id": "0190a1b2"
	}`, string(b))

	// A value marshals the same way as a pointer.
	bv, err := json.Marshal(*p)
	require.NoError(t, err)
	require.Equal(t, string(b), string(bv))

	var back httpx.Problem
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, p.Type, back.Type)
	require.Equal(t, p.Errors, back.Errors)
	require.Equal(t, map[string]any{"existing_patient_id": "0190a1b2"}, back.Extensions)
}

func TestProblemConstructors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		p      *httpx.Problem
		status int
		typ    string
	}{
		{"bad request", httpx.BadRequest("x"), 400, httpx.TypeBadRequest},
		{"unprocessable", httpx.Unprocessable("x"), 422, httpx.TypeValidation},
		{"not found", httpx.NotFound("x"), 404, httpx.TypeNotFound},
		{"conflict", httpx.Conflict("x"), 409, httpx.TypeConflict},
		{"unauthorized", httpx.Unauthorized("x"), 401, httpx.TypeUnauthorized},
		{"forbidden", httpx.Forbidden("x"), 403, httpx.TypeForbidden},
		{"precondition failed", httpx.PreconditionFailed("x"), 412, httpx.TypePreconditionFailed},
		{"precondition required", httpx.PreconditionRequired("x"), 428, httpx.TypePreconditionRequired},
		{"unsupported media type", httpx.UnsupportedMediaType("x"), 415, httpx.TypeUnsupportedMediaType},
		{"payload too large", httpx.PayloadTooLarge("x"), 413, httpx.TypePayloadTooLarge},
		{"method not allowed", httpx.MethodNotAllowed("GET"), 405, httpx.TypeMethodNotAllowed},
		{"unavailable", httpx.Unavailable("x"), 503, httpx.TypeUnavailable},
		{"internal", httpx.Internal(), 500, httpx.TypeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.status, tt.p.Status)
			require.Equal(t, tt.typ, tt.p.Type)
			require.NotEmpty(t, tt.p.Title)
			require.Error(t, tt.p)
		})
	}
}

func TestWriteProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		p          *httpx.Problem
		wantHeader map[string]string
	}{
		{"unauthorized challenges", httpx.Unauthorized("a bearer token is required"), map[string]string{"WWW-Authenticate": "Bearer"}},
		{"method not allowed lists methods", httpx.MethodNotAllowed("GET", "HEAD"), map[string]string{"Allow": "GET, HEAD"}},
		{"conflict", httpx.Conflict("duplicate"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := httpx.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				httpx.WriteProblem(w, r, tt.p)
			}))
			rec := do(t, h, http.MethodGet, "/", "", http.Header{httpx.HeaderRequestID: {"req-42"}})
			p := requireProblem(t, rec, tt.p.Status)
			require.Equal(t, "req-42", p.Instance, "instance defaults to the request id")
			require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			for k, v := range tt.wantHeader {
				require.Equal(t, v, rec.Header().Get(k))
			}
		})
	}
}

func TestHandlerFuncErrors(t *testing.T) {
	t.Parallel()
	const secret = "patient Jane Doe 13800138000"
	tests := []struct {
		name       string
		handler    httpx.HandlerFunc
		wantStatus int
		wantType   string
		wantLog    bool
	}{
		{
			name:       "problem written as is",
			handler:    func(http.ResponseWriter, *http.Request) error { return httpx.Conflict("already booked") },
			wantStatus: http.StatusConflict,
			wantType:   httpx.TypeConflict,
		},
		{
			name: "wrapped problem found with errors.As",
			handler: func(http.ResponseWriter, *http.Request) error {
				return fmt.Errorf("get patient 42: %w", httpx.NotFound("no such patient"))
			},
			wantStatus: http.StatusNotFound,
			wantType:   httpx.TypeNotFound,
		},
		{
			name: "database shutting down is a 503, not a bug",
			handler: func(http.ResponseWriter, *http.Request) error {
				return fmt.Errorf("begin tx: %w", &pq.Error{Code: "57P01", Message: "terminating connection due to administrator command"})
			},
			wantStatus: http.StatusServiceUnavailable,
			wantType:   httpx.TypeUnavailable,
		},
		{
			name: "database unreachable is a 503",
			handler: func(http.ResponseWriter, *http.Request) error {
				return fmt.Errorf("begin tx: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
			},
			wantStatus: http.StatusServiceUnavailable,
			wantType:   httpx.TypeUnavailable,
		},
		{
			name: "other error is a generic 500",
			handler: func(http.ResponseWriter, *http.Request) error {
				return errors.New("insert failed: " + secret)
			},
			wantStatus: http.StatusInternalServerError,
			wantType:   httpx.TypeInternal,
			wantLog:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.router.Handle("POST /v1/things", tt.handler, httpx.RoleAdmin)
			rec := do(t, b.router, http.MethodPost, "/v1/things", "", bearer(httpx.RoleAdmin))
			p := requireProblem(t, rec, tt.wantStatus)
			require.Equal(t, tt.wantType, p.Type)
			if tt.wantStatus == http.StatusServiceUnavailable {
				require.Equal(t, "2", rec.Header().Get("Retry-After"), "a 503 says when to try again")
			} else {
				require.Empty(t, rec.Header().Get("Retry-After"))
			}
			require.NotContains(t, rec.Body.String(), secret, "error text never reaches the client")

			var errLine map[string]any
			for _, l := range b.logs.lines(t) {
				if l["msg"] == "handler error" {
					errLine = l
				}
			}
			if !tt.wantLog {
				require.Nil(t, errLine)
				return
			}
			require.NotNil(t, errLine)
			require.Equal(t, rec.Header().Get(httpx.HeaderRequestID), errLine["request_id"])
			require.Equal(t, p.Instance, errLine["request_id"])
			require.Contains(t, errLine["error"], "insert failed")
		})
	}
}

func TestHandlerFuncErrorAfterWrite(t *testing.T) {
	t.Parallel()
	h := httpx.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if err := httpx.WriteJSON(w, http.StatusCreated, map[string]string{"id": "1"}); err != nil {
			return err
		}
		return errors.New("late failure")
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	require.Equal(t, http.StatusCreated, rec.Code)
	require.JSONEq(t, `{"id":"1"}`, rec.Body.String())
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		v        any
		wantErr  bool
		wantBody string
	}{
		{"object", http.StatusOK, map[string]int{"n": 1}, false, `{"n":1}`},
		{"no content", http.StatusNoContent, nil, false, ``},
		{"unencodable", http.StatusOK, map[string]any{"c": make(chan int)}, true, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			err := httpx.WriteJSON(rec, tt.status, tt.v)
			if tt.wantErr {
				require.Error(t, err)
				require.Empty(t, rec.Body.String(), "nothing written before encoding succeeds")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.status, rec.Code)
			if tt.wantBody != "" {
				require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
				require.JSONEq(t, tt.wantBody, rec.Body.String())
			}
		})
	}
}
