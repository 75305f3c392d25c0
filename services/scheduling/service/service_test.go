package service_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/scheduling/service"
)

func TestMain(m *testing.M) { testharness.Main(m) }

func registered(id string, version int64, given string) *intakev1.PatientRegistered {
	return &intakev1.PatientRegistered{PatientId: id, Version: version, OccurredAt: timestamppb.Now(),
		FamilyName: "张", GivenName: given, BirthDate: "1969-12-31", Sex: "female"}
}

func TestPatientReferenceIsKeptOnceAndNewestVersionWins(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	id := uuid.NewString()
	v2 := s.Publish(t, "intake", id, registered(id, 2, "伟"))
	s.Publish(t, "intake", id, registered(id, 1, "旧")) // stale: arrives after a newer version
	s.Republish(t, v2)                                 // redelivered beyond the duplicate window
	s.WaitConsumed(t, "INTAKE", "scheduling_patient_registered")

	r := s.Do(t, httpx.RoleNurse, http.MethodGet, "/v1/patients/"+id, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	body := r.JSON(t)
	require.Equal(t, "伟", body["given_name"])
	require.EqualValues(t, 2, body["version"])
	require.Equal(t, "1969-12-31", body["birth_date"], "a date stays the same date whatever the time zone")
	require.Equal(t, 2, s.Count(t, `SELECT count(*) FROM processed_events`), "two distinct events, the redelivery skipped")

	s.Publish(t, "intake", id, &intakev1.PatientUpdated{PatientId: id, Version: 3, OccurredAt: timestamppb.Now(),
		FamilyName: "张", GivenName: "伟伟", BirthDate: "1969-12-31"})
	s.WaitConsumed(t, "INTAKE", "scheduling_patient_updated")
	require.Equal(t, "伟伟", s.Do(t, httpx.RoleNurse, http.MethodGet, "/v1/patients/"+id, nil).JSON(t)["given_name"])
}

func TestMalformedEventGoesToDLQAndLaterOnesFlow(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	bad := nats.NewMsg("clinicops.intake.v1.PatientRegistered")
	bad.Header.Set("ce-id", uuid.NewString())
	bad.Header.Set("ce-type", "clinicops.intake.v1.PatientRegistered")
	bad.Data = []byte("not protobuf at all \xff\xff")
	_, err := s.NATS.JS.PublishMsg(t.Context(), bad)
	require.NoError(t, err)
	noBirthDate := uuid.NewString()
	s.Publish(t, "intake", noBirthDate, &intakev1.PatientRegistered{PatientId: noBirthDate, Version: 1})
	good := uuid.NewString()
	s.Publish(t, "intake", good, registered(good, 1, "芳"))
	s.WaitConsumed(t, "INTAKE", "scheduling_patient_registered")

	require.Equal(t, http.StatusOK, s.Do(t, httpx.RoleNurse, http.MethodGet, "/v1/patients/"+good, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, httpx.RoleNurse, http.MethodGet, "/v1/patients/"+noBirthDate, nil).Status)
	dlq, err := s.NATS.JS.Stream(t.Context(), "DLQ")
	require.NoError(t, err)
	require.EqualValues(t, 2, dlq.CachedInfo().State.Msgs, "the malformed body and the event without a birth date")
}

func TestPatientReferenceHTTP(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	tests := []struct {
		name   string
		role   httpx.Role
		path   string
		status int
	}{
		{"no token", "", "/v1/patients/" + uuid.NewString(), http.StatusUnauthorized},
		{"billing may not read the clinical calendar", httpx.RoleBilling, "/v1/patients/" + uuid.NewString(), http.StatusForbidden},
		{"unknown patient", httpx.RoleNurse, "/v1/patients/" + uuid.NewString(), http.StatusNotFound},
		{"bad id", httpx.RoleNurse, "/v1/patients/not-a-uuid", http.StatusBadRequest},
		{"unknown route", httpx.RoleNurse, "/v1/nothing", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(t, tc.role, http.MethodGet, tc.path, nil)
			require.Equal(t, tc.status, r.Status, string(r.Body))
			require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
		})
	}
	require.Equal(t, http.StatusOK, s.Do(t, "", http.MethodGet, "/readyz", nil).Status)
}
