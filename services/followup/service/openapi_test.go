package service_test

// The OpenAPI document (api/openapi.yaml, served at GET /openapi.yaml) and
// the handlers must agree. testharness.CheckOpenAPI drives followup through
// real HTTP and checks every request and answer against the document, the
// routes the Router registers against the documented ones, and x-roles
// against the answers (see its doc comment). This file is followup's journey
// through it: every operation and every documented status.

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
	"github.com/clinicops/clinicops/services/followup/api"
	"github.com/clinicops/clinicops/services/followup/service"
)

func TestOpenAPIDocumentAgreesWithTheHandlers(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	// One patient reachable by SMS, one with no channel (an empty list).
	sms, none, consent := uuid.NewString(), uuid.NewString(), uuid.NewString()
	s.Publish(t, "intake", sms, &intakev1.PatientRegistered{PatientId: sms, Version: 1, OccurredAt: timestamppb.Now(),
		Phone: "+8613912345678", Email: "a@example.cn", PreferredLanguage: "en-GB"})
	s.Publish(t, "intake", none, &intakev1.PatientRegistered{PatientId: none, Version: 1, OccurredAt: timestamppb.Now()})
	s.Publish(t, "intake", consent, &intakev1.ConsentRecorded{PatientId: sms, ConsentId: consent, Version: 1,
		Kind: "contact_sms", OccurredAt: timestamppb.Now()})
	appointment := uuid.NewString()
	start := time.Now().Add(72 * time.Hour)
	s.Publish(t, "scheduling", appointment, &schedulingv1.AppointmentBooked{AppointmentId: appointment, Version: 1,
		OccurredAt: timestamppb.Now(), Appointment: &schedulingv1.Appointment{AppointmentId: appointment, PatientId: sms,
			Kind: "infusion", Start: timestamppb.New(start), End: timestamppb.New(start.Add(2 * time.Hour)), PatientPresent: true}})
	s.WaitConsumed(t, "INTAKE", "followup_patient_registered")
	s.WaitConsumed(t, "INTAKE", "followup_consent_recorded")
	s.WaitConsumed(t, "SCHEDULING", "followup_appointment_booked")

	testharness.CheckOpenAPI(t, s, api.OpenAPI, func(c *testharness.OpenAPIContract) {
		get := http.MethodGet
		path := "/v1/patients/" + sms + "/contact"
		got := c.Do(t, testharness.Call{Role: httpx.RoleClinician, Method: get, Path: path, Status: 200}).JSON(t)
		require.Equal(t, sms, got["patient_id"])
		require.Equal(t, "en-GB", got["preferred_language"])
		require.Equal(t, []any{"sms"}, got["channels"])
		bare := c.Do(t, testharness.Call{Role: httpx.RoleNurse, Method: get, Path: "/v1/patients/" + none + "/contact", Status: 200}).JSON(t)
		require.Equal(t, "zh-CN", bare["preferred_language"], "the default language")
		require.Equal(t, []any{}, bare["channels"])
		c.Do(t, testharness.Call{Role: httpx.RoleAdmin, Method: get, Path: "/v1/patients/not-a-uuid/contact", Request: testharness.RequestInvalid, Status: 400})
		c.Do(t, testharness.Call{Role: httpx.RoleNurse, Method: get, Path: "/v1/patients/" + uuid.NewString() + "/contact", Status: 404})
		c.Do(t, testharness.Call{Role: httpx.RoleFrontDesk, Method: get, Path: path, Status: 403})
		c.Do(t, testharness.Call{Method: get, Path: path, Request: testharness.RequestInvalid, Status: 401})
		c.Do(t, testharness.Call{Auth: "Bearer cop_not-a-token", Method: get, Path: path, Status: 401})

		list := c.Do(t, testharness.Call{Role: httpx.RoleFrontDesk, Method: get, Path: "/v1/reminders?patient_id=" + sms, Status: 200}).JSON(t)
		items := list["items"].([]any)
		require.Len(t, items, 3, "48 h, 24 h and 2 h before the infusion")
		first := items[0].(map[string]any)
		require.Equal(t, "visit_48h", first["kind"])
		require.Equal(t, "scheduled", first["status"])
		require.Nil(t, first["channel"])
		c.Do(t, testharness.Call{Role: httpx.RoleNurse, Method: get, Path: "/v1/reminders?appointment_id=" + appointment + "&status=sent", Status: 200})
		c.Do(t, testharness.Call{Role: httpx.RoleClinician, Method: get, Path: "/v1/reminders?patient_id=" + sms + "&status=lost",
			Request: testharness.RequestInvalid, Status: 400})
		c.Do(t, testharness.Call{Role: httpx.RoleAdmin, Method: get, Path: "/v1/reminders", Status: 400})
		c.Do(t, testharness.Call{Role: httpx.RoleBilling, Method: get, Path: "/v1/reminders?patient_id=" + sms, Status: 403})
		c.Do(t, testharness.Call{Method: get, Path: "/v1/reminders?patient_id=" + sms, Request: testharness.RequestInvalid, Status: 401})
	})
}
