package service_test

// The OpenAPI document (api/openapi.yaml, served at GET /openapi.yaml) and
// the handlers must agree. testharness.CheckOpenAPI drives followup through
// real HTTP and checks every request and answer against the document, the
// routes the Router registers against the documented ones, and x-roles
// against the answers (see its doc comment). This file is followup's journey
// through it: every operation and every documented status.

import (
	"maps"
	"net/http"
	"strings"
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
	"github.com/clinicops/clinicops/services/followup/internal/domain/checkin"
	"github.com/clinicops/clinicops/services/followup/service"
)

func TestOpenAPIDocumentAgreesWithTheHandlers(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service, testharness.WithEnv(map[string]string{
		"FOLLOWUP_CHECKIN_LINK_SECRET": linkSecret, "FOLLOWUP_CHECKIN_LINK_BASE": "https://clinic.test/c/"}))
	// One patient reachable by SMS, one with no channel (an empty list).
	sms, none, consent := uuid.NewString(), uuid.NewString(), uuid.NewString()
	s.Publish(t, "intake", sms, &intakev1.PatientRegistered{PatientId: sms, Version: 1, OccurredAt: timestamppb.Now(),
		Phone: "+8613912345678", Email: "a@example.cn", PreferredLanguage: "en-GB", TimeZone: "Europe/London"})
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
	infused := infuseForContract(t, s)

	testharness.CheckOpenAPI(t, s, api.OpenAPI, func(c *testharness.OpenAPIContract) {
		get := http.MethodGet
		path := "/v1/patients/" + sms + "/contact"
		got := c.Do(t, testharness.Call{Role: httpx.RoleClinician, Method: get, Path: path, Status: 200}).JSON(t)
		require.Equal(t, sms, got["patient_id"])
		require.Equal(t, "en-GB", got["preferred_language"])
		require.Equal(t, "Europe/London", got["time_zone"], "the zone intake recorded")
		require.Equal(t, []any{"sms"}, got["channels"])
		bare := c.Do(t, testharness.Call{Role: httpx.RoleNurse, Method: get, Path: "/v1/patients/" + none + "/contact", Status: 200}).JSON(t)
		require.Equal(t, "zh-CN", bare["preferred_language"], "the default language")
		require.Nil(t, bare["time_zone"], "the clinic's")
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
		clinicalContract(t, c, infused)
	})
}

// infuseForContract publishes an infusion scheduling completed and returns
// its patient, once follow-up has planned the check-ins.
func infuseForContract(t *testing.T, s *testharness.Service) string {
	t.Helper()
	patient, id := uuid.NewString(), uuid.NewString()
	now := time.Now()
	s.Publish(t, "scheduling", id, &schedulingv1.AppointmentCompleted{AppointmentId: id, Version: 3, OccurredAt: timestamppb.New(now),
		Appointment: &schedulingv1.Appointment{AppointmentId: id, CourseId: uuid.NewString(), Cycle: 1, PatientId: patient,
			Program: "nk-autologous", Kind: "infusion", ProductId: "G123426000001Y", Start: timestamppb.New(now.Add(-2 * time.Hour)),
			End: timestamppb.New(now.Add(-time.Hour))}})
	s.WaitConsumed(t, "SCHEDULING", "followup_appointment_completed")
	return patient
}

// clinicalContract walks check-ins, escalations, adverse events, recipients
// and outcomes through every documented status.
func clinicalContract(t *testing.T, c *testharness.OpenAPIContract, patient string) {
	get, post := http.MethodGet, http.MethodPost
	nurse, clinician := httpx.RoleNurse, httpx.RoleClinician
	big := strings.Repeat("x", 20<<10)
	plain := []string{"Content-Type", "text/plain"}
	list := c.Do(t, testharness.Call{Role: nurse, Method: get, Path: "/v1/check-ins?patient_id=" + patient, Status: 200}).JSON(t)
	items := list["items"].([]any)
	require.Len(t, items, 5)
	checkIn := "/v1/check-ins/" + items[0].(map[string]any)["id"].(string)
	linkContract(t, c, items[1].(map[string]any)["id"].(string))
	c.Do(t, testharness.Call{Role: clinician, Method: get, Path: "/v1/check-ins?status=pending", Status: 200})
	c.Do(t, testharness.Call{Role: nurse, Method: get, Path: "/v1/check-ins?status=lost", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: httpx.RoleFrontDesk, Method: get, Path: "/v1/check-ins", Status: 403})
	c.Do(t, testharness.Call{Method: get, Path: "/v1/check-ins", Request: testharness.RequestInvalid, Status: 401})

	answers := map[string]any{"temperature_celsius": 38.6, "symptoms": []string{"chills"}, "note": "slept badly"}
	c.Do(t, testharness.Call{Role: nurse, Method: post, Path: checkIn, Body: map[string]any{"temperature_celsius": 50.0}, Status: 422})
	c.Do(t, testharness.Call{Role: nurse, Method: post, Path: checkIn, Body: answers, Header: []string{"Idempotency-Key", uuid.NewString()}, Status: 200})
	c.Do(t, testharness.Call{Role: nurse, Method: post, Path: checkIn, Body: answers, Status: 409})
	c.Do(t, testharness.Call{Role: nurse, Method: post, Path: "/v1/check-ins/" + uuid.NewString(), Body: answers, Status: 404})
	c.Do(t, testharness.Call{Role: nurse, Method: post, Path: "/v1/check-ins/nope", Body: answers, Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: nurse, Method: post, Path: checkIn, Body: map[string]any{"note": big}, Request: testharness.RequestAny, Status: 413})
	c.Do(t, testharness.Call{Role: nurse, Method: post, Path: checkIn, Body: "{}", Header: plain, Request: testharness.RequestAny, Status: 415})
	c.Do(t, testharness.Call{Role: clinician, Method: post, Path: checkIn, Body: answers, Status: 403})
	c.Do(t, testharness.Call{Method: post, Path: checkIn, Body: answers, Request: testharness.RequestInvalid, Status: 401})

	esc := c.Do(t, testharness.Call{Role: clinician, Method: get, Path: "/v1/escalations?status=open", Status: 200}).JSON(t)
	require.Len(t, esc["items"], 1)
	c.Do(t, testharness.Call{Role: clinician, Method: get, Path: "/v1/escalations?status=odd", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: nurse, Method: get, Path: "/v1/escalations", Status: 403})
	c.Do(t, testharness.Call{Method: get, Path: "/v1/escalations", Request: testharness.RequestInvalid, Status: 401})

	ae := map[string]any{"patient_id": patient, "course_id": uuid.NewString(), "term": "Cytokine release syndrome", "scale": "ASTCT",
		"grade": 3, "onset_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "serious": true, "product_id": "G123426000001Y"}
	got := c.Do(t, testharness.Call{Role: clinician, Method: post, Path: "/v1/adverse-events", Body: ae, Header: []string{"Idempotency-Key", uuid.NewString()}, Status: 201}).JSON(t)
	require.Equal(t, true, got["reported"])
	bad := maps.Clone(ae)
	bad["grade"] = 9
	c.Do(t, testharness.Call{Role: clinician, Method: post, Path: "/v1/adverse-events", Body: bad, Status: 422})
	c.Do(t, testharness.Call{Role: clinician, Method: post, Path: "/v1/adverse-events", Body: "{", Request: testharness.RequestAny, Status: 400})
	c.Do(t, testharness.Call{Role: clinician, Method: post, Path: "/v1/adverse-events", Body: map[string]any{"term": big}, Request: testharness.RequestAny, Status: 413})
	c.Do(t, testharness.Call{Role: clinician, Method: post, Path: "/v1/adverse-events", Body: "{}", Header: plain, Request: testharness.RequestAny, Status: 415})
	c.Do(t, testharness.Call{Role: nurse, Method: post, Path: "/v1/adverse-events", Body: ae, Status: 403})
	c.Do(t, testharness.Call{Method: post, Path: "/v1/adverse-events", Body: ae, Request: testharness.RequestInvalid, Status: 401})
	c.Do(t, testharness.Call{Role: clinician, Method: get, Path: "/v1/adverse-events?patient_id=" + patient, Status: 200})
	c.Do(t, testharness.Call{Role: clinician, Method: get, Path: "/v1/adverse-events", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: nurse, Method: get, Path: "/v1/adverse-events?patient_id=" + patient, Status: 403})
	c.Do(t, testharness.Call{Method: get, Path: "/v1/adverse-events?patient_id=" + patient, Request: testharness.RequestInvalid, Status: 401})

	rec := c.Do(t, testharness.Call{Role: clinician, Method: get, Path: "/v1/products/G123426000001Y/recipients", Status: 200}).JSON(t)
	require.Len(t, rec["items"], 1)
	c.Do(t, testharness.Call{Role: clinician, Method: get, Path: "/v1/products/lot-7/recipients", Status: 400})
	c.Do(t, testharness.Call{Role: nurse, Method: get, Path: "/v1/products/G123426000001Y/recipients", Status: 403})
	c.Do(t, testharness.Call{Method: get, Path: "/v1/products/G123426000001Y/recipients", Request: testharness.RequestInvalid, Status: 401})

	outcome := map[string]any{"patient_id": patient, "course_id": uuid.NewString(), "cycle": 1, "measure": "HbA1c", "value": 48,
		"unit": "mmol/mol", "measured_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}
	c.Do(t, testharness.Call{Role: clinician, Method: post, Path: "/v1/outcomes", Body: outcome, Header: []string{"Idempotency-Key", uuid.NewString()}, Status: 201})
	das := maps.Clone(outcome)
	das["measure"], das["value"] = "DAS28", 3.0
	delete(das, "unit")
	c.Do(t, testharness.Call{Role: clinician, Method: post, Path: "/v1/outcomes", Body: das, Status: 201})
	das["value"] = 11.0
	c.Do(t, testharness.Call{Role: clinician, Method: post, Path: "/v1/outcomes", Body: das, Status: 422})
	c.Do(t, testharness.Call{Role: clinician, Method: post, Path: "/v1/outcomes", Body: "{", Request: testharness.RequestAny, Status: 400})
	c.Do(t, testharness.Call{Role: clinician, Method: post, Path: "/v1/outcomes", Body: map[string]any{"measure": big}, Request: testharness.RequestAny, Status: 413})
	c.Do(t, testharness.Call{Role: clinician, Method: post, Path: "/v1/outcomes", Body: "{}", Header: plain, Request: testharness.RequestAny, Status: 415})
	c.Do(t, testharness.Call{Role: nurse, Method: post, Path: "/v1/outcomes", Body: outcome, Status: 403})
	c.Do(t, testharness.Call{Method: post, Path: "/v1/outcomes", Body: outcome, Request: testharness.RequestInvalid, Status: 401})
	c.Do(t, testharness.Call{Role: clinician, Method: get, Path: "/v1/outcomes?patient_id=" + patient, Status: 200})
	c.Do(t, testharness.Call{Role: clinician, Method: get, Path: "/v1/outcomes?patient_id=x", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: nurse, Method: get, Path: "/v1/outcomes?patient_id=" + patient, Status: 403})
	c.Do(t, testharness.Call{Method: get, Path: "/v1/outcomes?patient_id=" + patient, Request: testharness.RequestInvalid, Status: 401})
}

// linkSecret signs the check-in links of the service tests.
const linkSecret = "a test secret of thirty-two bytes or more"

// linkPath is the path of check-in id's link, valid until expires.
func linkPath(t *testing.T, id string, expires time.Time) string {
	t.Helper()
	links, err := checkin.NewLinks([]byte(linkSecret))
	require.NoError(t, err)
	return "/v1/check-in-links/" + links.Token(uuid.MustParse(id), expires)
}

// linkContract walks a patient's check-in link through every documented
// status, without a token.
func linkContract(t *testing.T, c *testharness.OpenAPIContract, checkInID string) {
	get, post := http.MethodGet, http.MethodPost
	link := linkPath(t, checkInID, time.Now().Add(time.Hour))
	expired := linkPath(t, checkInID, time.Now().Add(-time.Second))
	forged, err := checkin.NewLinks([]byte(strings.Repeat("f", checkin.MinLinkSecret)))
	require.NoError(t, err)
	unknown := "/v1/check-in-links/" + forged.Token(uuid.MustParse(checkInID), time.Now().Add(time.Hour))
	answers := map[string]any{"temperature_celsius": 37.2, "symptoms": []string{"fatigue"}}

	shown := c.Do(t, testharness.Call{Method: get, Path: link, Status: 200}).JSON(t)
	require.Equal(t, checkInID, shown["check_in_id"])
	require.Equal(t, "pending", shown["status"])
	require.NotContains(t, shown, "patient_id", "nothing about the patient")
	c.Do(t, testharness.Call{Method: get, Path: unknown, Status: 404})
	c.Do(t, testharness.Call{Method: get, Path: expired, Status: 410})
	c.Do(t, testharness.Call{Method: post, Path: link, Body: map[string]any{"temperature_celsius": 50.0}, Status: 422})
	c.Do(t, testharness.Call{Method: post, Path: link, Body: "{", Request: testharness.RequestAny, Status: 400})
	c.Do(t, testharness.Call{Method: post, Path: link, Body: map[string]any{"note": strings.Repeat("x", 20<<10)}, Request: testharness.RequestAny, Status: 413})
	c.Do(t, testharness.Call{Method: post, Path: link, Body: "{}", Header: []string{"Content-Type", "text/plain"}, Request: testharness.RequestAny, Status: 415})
	c.Do(t, testharness.Call{Method: post, Path: unknown, Body: answers, Status: 404})
	c.Do(t, testharness.Call{Method: post, Path: expired, Body: answers, Status: 410})
	got := c.Do(t, testharness.Call{Method: post, Path: link, Body: answers, Status: 200}).JSON(t)
	require.Equal(t, "recorded", got["status"])
	require.Contains(t, got["advice"], "reached the clinic")
	c.Do(t, testharness.Call{Method: post, Path: link, Body: answers, Status: 409})
}
