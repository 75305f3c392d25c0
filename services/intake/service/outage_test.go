package service_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/intake/api/client"
	"github.com/clinicops/clinicops/services/intake/service"
)

// TestDatabaseOutageIsA503ThatChangesNothing: with intake's database taken
// offline (ALLOW_CONNECTIONS false and its sessions ended, as a DBA's
// maintenance or a failover looks from the service), the front desk's
// registration and search are answered 503 problem+json with Retry-After,
// not a 500 (which would say the service has a bug); nothing is stored or
// published. Once the database is back, the same registration under the
// same Idempotency-Key registers the patient once, on the pool's
// connections that the outage ended.
func TestDatabaseOutageIsA503ThatChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testharness.StartService(t, service.Service)
	var name string
	require.NoError(t, s.DB.Get(&name, `SELECT current_database()`))
	admin, err := sqlx.Open("postgres", testharness.Cluster(t).DSN("postgres"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	online := func(on bool) {
		t.Helper()
		_, err := admin.ExecContext(ctx, `ALTER DATABASE `+pq.QuoteIdentifier(name)+` WITH ALLOW_CONNECTIONS `+map[bool]string{true: "true", false: "false"}[on])
		require.NoError(t, err)
		if !on {
			_, err = admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1`, name)
			require.NoError(t, err)
		}
	}
	// Warm the pool, so that the outage ends connections the service holds.
	require.Equal(t, http.StatusOK, s.Do(t, httpx.RoleFrontDesk, http.MethodGet, "/v1/patients?q=nobody", nil).Status)

	online(false)
	t.Cleanup(func() { online(true) })
	key := "Idempotency-Key"
	for range 3 {
		r := s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", validPatient(), key, "outage-1")
		require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Body))
		require.Equal(t, httpx.ContentTypeProblem, r.Header.Get("Content-Type"))
		require.Equal(t, "2", r.Header.Get("Retry-After"))
		require.Equal(t, httpx.TypeUnavailable, r.JSON(t)["type"])
		r = s.Do(t, httpx.RoleFrontDesk, http.MethodGet, "/v1/patients?q=nobody", nil)
		require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Body))
	}
	// The client generated from the document reads the outage as documented.
	gc, err := client.NewClientWithResponses("http://"+s.Runtime.Addr(), client.WithHTTPClient(s.HTTP),
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+s.Tokens[httpx.RoleFrontDesk])
			return nil
		}))
	require.NoError(t, err)
	q := "nobody"
	search, err := gc.SearchPatientsWithResponse(ctx, &client.SearchPatientsParams{Q: &q})
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, search.StatusCode())
	require.NotNil(t, search.ApplicationproblemJSON503, string(search.Body))
	require.EqualValues(t, 503, search.ApplicationproblemJSON503.Status)
	require.Equal(t, "2", search.Headers503.RetryAfter)

	online(true)
	r := s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", validPatient(), key, "outage-1")
	require.Equal(t, http.StatusCreated, r.Status, "the first request after the outage is served: %s", r.Body)
	again := s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", validPatient(), key, "outage-1")
	require.Equal(t, http.StatusCreated, again.Status)
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM patients`))
	m := streamMsg(t, s.NATS.JS, 1)
	require.Equal(t, "clinicops.intake.v1.PatientRegistered", m.Subject)
	info, err := s.NATS.JS.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	require.EqualValues(t, 1, info.CachedInfo().State.Msgs, "one registration, published once")
}
