package service_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
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
