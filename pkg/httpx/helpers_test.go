package httpx_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// logBuffer is a goroutine-safe log sink for asserting on log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines decodes the JSON log lines.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		out = append(out, m)
	}
	return out
}

// Plaintext tokens for the tests, one per role.
var testTokens = map[httpx.Role]string{
	httpx.RoleFrontDesk: "cop_frontdesk-token",
	httpx.RoleNurse:     "cop_nurse-token",
	httpx.RoleLab:       "cop_lab-token",
	httpx.RoleClinician: "cop_clinician-token",
	httpx.RoleBilling:   "cop_billing-token",
	httpx.RoleAdmin:     "cop_admin-token",
}

type testBundle struct {
	router *httpx.Router
	logs   *logBuffer
	log    *slog.Logger
}

func setup(t *testing.T) testBundle {
	t.Helper()
	plain := map[httpx.Role][]string{}
	for role, tok := range testTokens {
		plain[role] = []string{tok}
	}
	tokens, err := httpx.NewTokenStore(plain)
	require.NoError(t, err)
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return testBundle{router: httpx.NewRouter(tokens, log), logs: logs, log: log}
}

// do sends a request through h and returns the recorded response.
func do(t *testing.T, h http.Handler, method, target, body string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func bearer(role httpx.Role) http.Header {
	return http.Header{"Authorization": {"Bearer " + testTokens[role]}}
}

// requireProblem asserts rec is a problem+json response with the status and
// returns the decoded problem.
func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) httpx.Problem {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	require.Equal(t, httpx.ContentTypeProblem, rec.Header().Get("Content-Type"))
	var p httpx.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, status, p.Status)
	require.NotEmpty(t, p.Title)
	require.True(t, strings.HasPrefix(p.Type, httpx.ProblemTypeBase), p.Type)
	return p
}
