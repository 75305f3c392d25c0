package service_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/intake/service"
)

// syncBuffer is a bytes.Buffer safe for concurrent loggers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsCarryNoPersonalData runs registrations, searches, failures and
// duplicates with every log line captured at debug level, and checks that no
// name, phone, e-mail or national id reaches the logs.
func TestLogsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := testharness.StartService(t, service.Service, func(o *platform.Options) {
		o.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	require.NoError(t, service.Service.Seed(context.Background(), s.Runtime))
	p := map[string]any{"family_name": "诸葛", "given_name": "孔明", "birth_date": "1949-12-31", "sex": "male",
		"phone": "+8613912345678", "email": "kongming@example.cn",
		"national_id": map[string]any{"type": "cn_resident", "value": "11010519491231002X"}}
	r := s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", p)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	require.Equal(t, http.StatusConflict, s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", p).Status)
	bad := map[string]any{"family_name": "诸葛", "given_name": "孔明", "birth_date": "1949-12-31", "sex": "male",
		"national_id": map[string]any{"type": "cn_resident", "value": "110105194912310021"}}
	require.Equal(t, http.StatusUnprocessableEntity, s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", bad).Status)
	for _, q := range []string{"q=" + url.QueryEscape("诸葛"), "phone=" + url.QueryEscape("+8613912345678"), "national_id=11010519491231002X"} {
		require.Equal(t, http.StatusOK, s.Do(t, httpx.RoleFrontDesk, http.MethodGet, "/v1/patients?"+q, nil).Status)
	}
	require.Equal(t, http.StatusBadRequest, s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", `{"family_name":"诸葛","x":1}`).Status)
	testharness.Eventually(t, 10*time.Second, func() bool { return s.Count(t, `SELECT count(*) FROM outbox`) == 0 }, "relay idle")
	out := logs.String()
	require.Contains(t, out, `"route":"POST /v1/patients"`, "the access log is captured")
	for _, secret := range []string{"诸葛", "孔明", "13912345678", "kongming", "11010519491231002X", "110105194912310021", "1949-12-31"} {
		require.NotContains(t, out, secret)
	}
}
