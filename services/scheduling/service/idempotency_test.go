package service_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// TestKeyedBookingUnderConcurrentRetries: eight retries of one booking
// with one Idempotency-Key, all in flight at once, book one appointment,
// publish one AppointmentBooked and get the same 201; the key is claimed
// and answered in the booking's own transaction, so the seven duplicates
// wait on the key and replay the answer without trying to book.
func TestKeyedBookingUnderConcurrentRetries(t *testing.T) {
	t.Parallel()
	s := startScheduling(t)
	patient := uuid.NewString()
	s.Publish(t, "intake", patient, registered(patient, 1, "芳"))
	s.WaitConsumed(t, "INTAKE", "scheduling_patient_registered")
	resources := s.Do(t, httpx.RoleFrontDesk, http.MethodGet, "/v1/resources", nil).JSON(t)["items"].([]any)
	require.NotEmpty(t, resources)
	body, err := json.Marshal(map[string]any{"patient_id": patient, "kind": "consultation",
		"resource_id": resources[0].(map[string]any)["id"], "start": "2026-12-03T10:00:00+08:00", "end": "2026-12-03T11:00:00+08:00"})
	require.NoError(t, err)

	// The exclusion constraint alone would keep a duplicate from booking the
	// slot twice (it would be refused, and its refusal replaced by a replay
	// of the stored 201), so the answers and the rows cannot tell whether
	// the key was claimed first. What can: how many bookings were tried.
	// A sequence counts them, since a rolled-back insert keeps its nextval.
	for _, ddl := range []string{
		`CREATE SEQUENCE test_booking_attempts`,
		`CREATE FUNCTION test_count_booking_attempt() RETURNS trigger LANGUAGE plpgsql
			AS $$ BEGIN PERFORM nextval('test_booking_attempts'); RETURN NEW; END $$`,
		`CREATE TRIGGER test_count_booking_attempts BEFORE INSERT ON appointments
			FOR EACH ROW EXECUTE FUNCTION test_count_booking_attempt()`,
	} {
		_, err := s.DB.Exec(ddl)
		require.NoError(t, err)
	}

	// No booking can insert until all eight requests are in the database:
	// the test holds the appointments table (reads go on) and lets go once
	// eight of the service's statements wait on a lock, on the key or on
	// this table.
	hold, err := s.DB.BeginTxx(t.Context(), nil)
	require.NoError(t, err)
	defer func() { _ = hold.Rollback() }()
	_, err = hold.Exec(`LOCK TABLE appointments IN SHARE MODE`)
	require.NoError(t, err)

	const n = 8
	type answer struct {
		status int
		header http.Header
		body   []byte
		err    error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, "http://"+s.Runtime.Addr()+"/v1/appointments", bytes.NewReader(body))
			if err != nil {
				answers[i].err = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+s.Tokens[httpx.RoleFrontDesk])
			req.Header.Set(idempotency.Header, "desk-retry")
			resp, err := s.HTTP.Do(req)
			if err != nil {
				answers[i].err = err
				return
			}
			defer func() { _ = resp.Body.Close() }()
			answers[i].status, answers[i].header = resp.StatusCode, resp.Header
			answers[i].body, answers[i].err = io.ReadAll(resp.Body)
		}()
	}
	testharness.Eventually(t, 10*time.Second, func() bool {
		return s.Count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND (query LIKE '%idempotency_keys%' OR query LIKE '%INSERT INTO appointments%')`) == n
	}, "all %d requests waiting in the database", n)
	require.NoError(t, hold.Rollback())
	wg.Wait()

	first := answers[0]
	replayed := 0
	for _, a := range answers {
		require.NoError(t, a.err)
		// A duplicate waits for the first request's commit and replays
		// its answer: a 201, never a 409 "still in progress".
		require.Equal(t, http.StatusCreated, a.status, string(a.body))
		require.Equal(t, string(first.body), string(a.body), "one answer, byte for byte")
		require.Equal(t, first.header.Get("ETag"), a.header.Get("ETag"))
		if a.header.Get(idempotency.ReplayedHeader) == "true" {
			replayed++
		}
	}
	require.Equal(t, n-1, replayed, "every answer but the first is a replay")

	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM appointments WHERE patient_id = $1`, patient))
	require.Equal(t, 1, s.Count(t, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM test_booking_attempts`),
		"the duplicates waited on the key and never tried to book")
	// The key and the appointment were written by one transaction.
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM appointments a JOIN idempotency_keys k
		ON k.key = 'desk-retry' AND k.status = 201 AND a.xmin = k.xmin WHERE a.patient_id = $1`, patient))
	require.Equal(t, 1, published(t, s, "clinicops.scheduling.v1.AppointmentBooked"))
}

// TestKeyedCreatesAnswerInTheirOwnCommit: a lot, a resource and a closure
// created with a key store their answer in the creating transaction, and
// the same request again gets that answer back (not the 409 a second
// create of the same DIN, name or day would be).
func TestKeyedCreatesAnswerInTheirOwnCommit(t *testing.T) {
	t.Parallel()
	s := startScheduling(t)
	now := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC) // startScheduling's clock
	tests := []struct {
		name  string
		role  httpx.Role
		path  string
		body  map[string]any
		table string // where the created row is
	}{
		{"lot", httpx.RoleLab, "/v1/lots", map[string]any{"program": "msc", "din": "G123426900001", "donor_id": "donor-0042",
			"doses": 3, "collected_at": now.AddDate(0, 0, -5).Format(time.RFC3339),
			"infection_tests_on": now.AddDate(0, 0, -20).Format(time.DateOnly), "expires_at": now.AddDate(0, 6, 0).Format(time.RFC3339)}, "lots"},
		{"resource", httpx.RoleAdmin, "/v1/resources", map[string]any{"kind": "infusion_chair", "name": "Chair 9"}, "resources"},
		{"closure", httpx.RoleAdmin, "/v1/calendar/closures", map[string]any{"date": "2027-05-01", "reason": "Labour Day"}, "closures"},
	}
	for _, tc := range tests {
		key := "create-" + tc.name
		first := s.Do(t, tc.role, http.MethodPost, tc.path, tc.body, idempotency.Header, key)
		require.Equal(t, http.StatusCreated, first.Status, string(first.Body))
		require.Empty(t, first.Header.Get(idempotency.ReplayedHeader), tc.name)
		again := s.Do(t, tc.role, http.MethodPost, tc.path, tc.body, idempotency.Header, key)
		require.Equal(t, http.StatusCreated, again.Status, "%s: %s", tc.name, again.Body)
		require.Equal(t, "true", again.Header.Get(idempotency.ReplayedHeader), tc.name)
		require.Equal(t, string(first.Body), string(again.Body), "%s: the first answer, byte for byte", tc.name)
		require.Equal(t, first.Header.Get("Content-Type"), again.Header.Get("Content-Type"), tc.name)
		// The row and the key's answer were written by one transaction.
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM `+tc.table+` x JOIN idempotency_keys k
			ON k.key = $1 AND k.status = 201 AND x.xmin = k.xmin`, key), tc.name)
	}
}
