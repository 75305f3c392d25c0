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
	"github.com/clinicops/clinicops/services/followup/service"
)

func TestMain(m *testing.M) { testharness.Main(m) }

func TestContactKeepsLanguageAndConsentedChannels(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Name, service.New)
	id := uuid.NewString()
	s.Publish(t, "intake", id, &intakev1.PatientRegistered{PatientId: id, Version: 1, OccurredAt: timestamppb.Now(),
		Phone: "+8613912345678", Email: "a@example.cn", PreferredLanguage: "en-GB", ContactSmsConsent: true})
	s.WaitConsumed(t, "INTAKE", "followup_patient_registered")

	r := s.Do(t, httpx.RoleClinician, http.MethodGet, "/v1/patients/"+id+"/contact", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	body := r.JSON(t)
	require.Equal(t, "en-GB", body["preferred_language"])
	require.Equal(t, []any{"sms"}, body["channels"], "e-mail was not consented to")
	require.NotContains(t, string(r.Body), "+8613912345678", "the API shows channels, not the phone number")
	require.Equal(t, http.StatusForbidden, s.Do(t, httpx.RoleFrontDesk, http.MethodGet, "/v1/patients/"+id+"/contact", nil).Status)
}
