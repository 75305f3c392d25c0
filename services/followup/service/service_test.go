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

func (f fixture) consent(kind string, version int64, recorded bool) {
	f.t.Helper()
	id := f.consents[kind]
	if recorded {
		f.s.Publish(f.t, "intake", id, &intakev1.ConsentRecorded{PatientId: f.patient, ConsentId: id, Version: version,
			Kind: kind, OccurredAt: timestamppb.Now()})
		return
	}
	f.s.Publish(f.t, "intake", id, &intakev1.ConsentWithdrawn{PatientId: f.patient, ConsentId: id, Version: version,
		Kind: kind, Reason: "asked", OccurredAt: timestamppb.Now()})
}

type fixture struct {
	t        *testing.T
	s        *testharness.Service
	patient  string
	consents map[string]string
}

func (f fixture) contact() map[string]any {
	f.t.Helper()
	for _, c := range []string{"patient_registered", "patient_updated", "consent_recorded", "consent_withdrawn"} {
		f.s.WaitConsumed(f.t, "INTAKE", "followup_"+c)
	}
	r := f.s.Do(f.t, httpx.RoleClinician, http.MethodGet, "/v1/patients/"+f.patient+"/contact", nil)
	require.Equal(f.t, http.StatusOK, r.Status, string(r.Body))
	return r.JSON(f.t)
}

func TestContactKeepsLanguageAndConsentedChannels(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	f := fixture{t: t, s: s, patient: uuid.NewString(), consents: map[string]string{
		"contact_sms": uuid.NewString(), "contact_email": uuid.NewString(), "treatment": uuid.NewString()}}
	s.Publish(t, "intake", f.patient, &intakev1.PatientRegistered{PatientId: f.patient, Version: 1, OccurredAt: timestamppb.Now(),
		Phone: "+8613912345678", Email: "a@example.cn", PreferredLanguage: "en-GB"})
	body := f.contact()
	require.Equal(t, "en-GB", body["preferred_language"])
	require.Equal(t, []any{}, body["channels"], "no contact consent yet")

	f.consent("contact_sms", 1, true)
	f.consent("treatment", 1, true) // not a contact consent: ignored
	require.Equal(t, []any{"sms"}, f.contact()["channels"])

	// A withdrawal handled before its recording still wins (versions).
	f.consent("contact_email", 2, false)
	f.consent("contact_email", 1, true)
	require.Equal(t, []any{"sms"}, f.contact()["channels"])

	f.consent("contact_sms", 2, false)
	require.Equal(t, []any{}, f.contact()["channels"])

	s.Publish(t, "intake", f.patient, &intakev1.PatientUpdated{PatientId: f.patient, Version: 2, OccurredAt: timestamppb.Now(),
		Phone: "+8613912345678", PreferredLanguage: "zh-CN"})
	s.Publish(t, "intake", f.patient, &intakev1.PatientRegistered{PatientId: f.patient, Version: 1, OccurredAt: timestamppb.Now(),
		PreferredLanguage: "fr"}) // stale redelivery
	body = f.contact()
	require.Equal(t, "zh-CN", body["preferred_language"])
	require.EqualValues(t, 2, body["version"])

	r := s.Do(t, httpx.RoleClinician, http.MethodGet, "/v1/patients/"+f.patient+"/contact", nil)
	require.NotContains(t, string(r.Body), "+8613912345678", "the API shows channels, not the phone number")
	require.Equal(t, http.StatusForbidden, s.Do(t, httpx.RoleFrontDesk, http.MethodGet, "/v1/patients/"+f.patient+"/contact", nil).Status)
}
