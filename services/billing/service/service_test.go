package service_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/service"
)

func TestMain(m *testing.M) { testharness.Main(m) }

func TestAccountOpenedOnceInTheClinicCurrency(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service, testharness.WithEnv(map[string]string{"BILLING_CURRENCY": "HKD"}))
	id := uuid.NewString()
	ev := s.Publish(t, "intake", id, &intakev1.PatientRegistered{PatientId: id, Version: 1, OccurredAt: timestamppb.Now()})
	s.Republish(t, ev)
	s.WaitConsumed(t, "INTAKE", "billing_patient_registered")

	r := s.Do(t, httpx.RoleBilling, http.MethodGet, "/v1/accounts/"+id, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, "HKD", r.JSON(t)["currency"])
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM accounts`))
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM processed_events`))

	require.Equal(t, http.StatusForbidden, s.Do(t, httpx.RoleNurse, http.MethodGet, "/v1/accounts/"+id, nil).Status)
	require.Equal(t, http.StatusNotFound, s.Do(t, httpx.RoleBilling, http.MethodGet, "/v1/accounts/"+uuid.NewString(), nil).Status)
	require.Equal(t, http.StatusBadRequest, s.Do(t, httpx.RoleBilling, http.MethodGet, "/v1/accounts/42", nil).Status)
}

// sixCycles is an NK autologous plan's cycles, a month apart from next
// month on.
func sixCycles() []*schedulingv1.PlannedCycle {
	var cycles []*schedulingv1.PlannedCycle
	for i, ph := range []string{"initial", "initial", "initial", "consolidation", "consolidation", "maintenance"} {
		cycles = append(cycles, &schedulingv1.PlannedCycle{Cycle: int32(i + 1), Phase: ph, //nolint:gosec // six
			TargetDate: time.Now().AddDate(0, i+1, 0).Format(time.DateOnly), Status: "planned"})
	}
	return cycles
}

// registered publishes intake's PatientRegistered and waits until billing
// has opened the account.
func registered(t testing.TB, s *testharness.Service, patient string) {
	t.Helper()
	s.Publish(t, "intake", patient, &intakev1.PatientRegistered{PatientId: patient, Version: 1, OccurredAt: timestamppb.Now()})
	s.WaitConsumed(t, "INTAKE", "billing_patient_registered")
}

// planned publishes scheduling's CoursePlanned of an NK autologous course
// of six cycles and waits until billing has invoiced it.
func planned(t testing.TB, s *testharness.Service, patient, course string) {
	t.Helper()
	s.Publish(t, "scheduling", course, &schedulingv1.CoursePlanned{CourseId: course, Version: 1, OccurredAt: timestamppb.Now(),
		PatientId: patient, Program: "nk-autologous", ProtocolVersion: "NK-AUTO-2026.1", Cycles: sixCycles()})
	s.WaitConsumed(t, "SCHEDULING", "billing_course_planned")
}
