package service_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/intake/service"
)

func TestMain(m *testing.M) { testharness.Main(m) }

func validPatient() map[string]any {
	return map[string]any{"family_name": "欧阳", "given_name": "娜娜", "birth_date": "1990-02-28", "sex": "female",
		"phone": "+8613700000001", "email": "nana@example.cn", "preferred_language": "zh-CN"}
}

// streamMsg waits for the seq-th message of the INTAKE stream.
func streamMsg(t *testing.T, js jetstream.JetStream, seq uint64) *jetstream.RawStreamMsg {
	t.Helper()
	var m *jetstream.RawStreamMsg
	testharness.Eventually(t, 10*time.Second, func() bool {
		s, err := js.Stream(context.Background(), "INTAKE")
		if err != nil {
			return false
		}
		m, err = s.GetMsg(context.Background(), seq)
		return err == nil
	})
	return m
}

func TestRegisterPublishesPatientRegisteredWithCorrelation(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	r := s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", validPatient(),
		"X-Correlation-ID", "desk-42", "X-Request-ID", "req-42")
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	created := r.JSON(t)
	id := created["id"].(string)
	require.Equal(t, `"1"`, r.Header.Get("ETag"))
	require.Equal(t, "/v1/patients/"+id, r.Header.Get("Location"))

	m := streamMsg(t, s.NATS.JS, 1)
	require.Equal(t, "clinicops.intake.v1.PatientRegistered", m.Subject)
	require.Equal(t, id, m.Header.Get("ce-subject"))
	require.Equal(t, "desk-42", m.Header.Get("ce-correlationid"), "the request's correlation id travels with the event")
	require.Equal(t, "req-42", m.Header.Get("ce-causationid"), "the request caused the event")
	var ev intakev1.PatientRegistered
	require.NoError(t, proto.Unmarshal(m.Data, &ev))
	require.Equal(t, id, ev.GetPatientId())
	require.EqualValues(t, 1, ev.GetVersion())
	require.Equal(t, "娜娜", ev.GetGivenName())
	require.Equal(t, "1990-02-28", ev.GetBirthDate())
	require.Equal(t, "+8613700000001", ev.GetPhone())

	got := s.Do(t, httpx.RoleBilling, http.MethodGet, "/v1/patients/"+id, nil)
	require.Equal(t, http.StatusOK, got.Status)
	require.Equal(t, created, got.JSON(t))
	require.Equal(t, 0, s.Count(t, `SELECT count(*) FROM outbox`), "the relay published and removed it")
}

func TestDuplicateRegistrationNamesTheExistingPatient(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	first := s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", validPatient())
	require.Equal(t, http.StatusCreated, first.Status)
	again := s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", validPatient())
	require.Equal(t, http.StatusConflict, again.Status)
	require.Equal(t, first.JSON(t)["id"], again.JSON(t)["existing_patient_id"])
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM patients`))
	streamMsg(t, s.NATS.JS, 1)
	st, err := s.NATS.JS.Stream(context.Background(), "INTAKE")
	require.NoError(t, err)
	require.EqualValues(t, 1, st.CachedInfo().State.Msgs, "the duplicate published nothing")
}

func TestBadInputIsA4xxProblemAndChangesNothing(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	with := func(k string, v any) map[string]any {
		p := validPatient()
		if v == nil {
			delete(p, k)
		} else {
			p[k] = v
		}
		return p
	}
	tests := []struct {
		name    string
		role    httpx.Role
		body    any
		headers []string
		status  int
		field   string
	}{
		{"no token", "", validPatient(), nil, http.StatusUnauthorized, ""},
		{"nurse may not register", httpx.RoleNurse, validPatient(), nil, http.StatusForbidden, ""},
		{"billing may not register", httpx.RoleBilling, validPatient(), nil, http.StatusForbidden, ""},
		{"not JSON", httpx.RoleFrontDesk, "{nope", nil, http.StatusBadRequest, ""},
		{"empty body", httpx.RoleFrontDesk, "", nil, http.StatusBadRequest, ""},
		{"unknown field", httpx.RoleFrontDesk, with("blood_type", "A"), nil, http.StatusBadRequest, "blood_type"},
		{"wrong type", httpx.RoleFrontDesk, with("family_name", 7), nil, http.StatusBadRequest, "family_name"},
		{"missing name", httpx.RoleFrontDesk, with("family_name", nil), nil, http.StatusUnprocessableEntity, "family_name"},
		{"missing birth date", httpx.RoleFrontDesk, with("birth_date", nil), nil, http.StatusUnprocessableEntity, "birth_date"},
		{"bad date", httpx.RoleFrontDesk, with("birth_date", "1990-02-30"), nil, http.StatusUnprocessableEntity, "birth_date"},
		{"future birth", httpx.RoleFrontDesk, with("birth_date", "2999-01-01"), nil, http.StatusUnprocessableEntity, "birth_date"},
		{"bad sex", httpx.RoleFrontDesk, with("sex", "f"), nil, http.StatusUnprocessableEntity, "sex"},
		{"bad phone", httpx.RoleFrontDesk, with("phone", "0137"), nil, http.StatusUnprocessableEntity, "phone"},
		{"bad email", httpx.RoleFrontDesk, with("email", "nana@"), nil, http.StatusUnprocessableEntity, "email"},
		{"wrong media type", httpx.RoleFrontDesk, validPatient(), []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, ""},
		{"oversized", httpx.RoleFrontDesk, with("given_name", strings.Repeat("长", 40000)), nil, http.StatusRequestEntityTooLarge, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(t, tc.role, http.MethodPost, "/v1/patients", tc.body, tc.headers...)
			require.Equal(t, tc.status, r.Status, string(r.Body))
			require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
			if tc.field != "" {
				require.Contains(t, string(r.Body), `"field":"`+tc.field+`"`)
			}
		})
	}
	for _, path := range []string{"/v1/patients/x", "/v1/patients/00000000-0000-0000-0000-00000000000g"} {
		require.Equal(t, http.StatusBadRequest, s.Do(t, httpx.RoleFrontDesk, http.MethodGet, path, nil).Status)
	}
	require.Equal(t, http.StatusNotFound, s.Do(t, httpx.RoleFrontDesk, http.MethodGet, "/v1/patients/01a20047-9084-7116-8741-12f48a8eb19a", nil).Status)
	require.Equal(t, http.StatusMethodNotAllowed, s.Do(t, httpx.RoleFrontDesk, http.MethodDelete, "/v1/patients/01a20047-9084-7116-8741-12f48a8eb19a", nil).Status)
	require.Equal(t, 0, s.Count(t, `SELECT count(*) FROM patients`))
	require.Equal(t, 0, s.Count(t, `SELECT count(*) FROM outbox`))
	st, err := s.NATS.JS.Stream(context.Background(), "INTAKE")
	require.NoError(t, err)
	require.EqualValues(t, 0, st.CachedInfo().State.Msgs, "no event for bad input")
}
