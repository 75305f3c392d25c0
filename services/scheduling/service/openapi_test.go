package service_test

// The OpenAPI document (api/openapi.yaml, served at GET /openapi.yaml) and
// the handlers must agree. testharness.CheckOpenAPI drives scheduling through
// real HTTP and checks every request and answer against the document, the
// routes the Router registers against the documented ones, and x-roles
// against the answers (see its doc comment). This file is scheduling's
// journey through it: every operation and every documented 2xx, a day at
// the clinic on a fake clock.

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/clinicops/clinicops/pkg/clock"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/scheduling/api"
	"github.com/clinicops/clinicops/services/scheduling/service"
)

// requestCourse publishes a CourseRequested for a newly registered patient.
func requestCourse(t *testing.T, s *testharness.Service, program, version string) (courseID, patientID string) {
	t.Helper()
	patientID, courseID = uuid.NewString(), uuid.NewString()
	s.Publish(t, "intake", patientID, registered(patientID, 1, "芳"))
	s.Publish(t, "intake", courseID, &intakev1.CourseRequested{CourseId: courseID, Version: 1, OccurredAt: timestamppb.Now(),
		PatientId: patientID, Program: program, ProtocolVersion: version})
	return courseID, patientID
}

// appointmentsOf returns the course's appointment ids by kind.
func appointmentsOf(t *testing.T, course map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, cy := range course["cycles"].([]any) {
		for _, a := range cy.(map[string]any)["appointments"].([]any) {
			a := a.(map[string]any)
			if _, seen := out[a["kind"].(string)]; !seen {
				out[a["kind"].(string)] = a
			}
		}
	}
	return out
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v
}

func TestOpenAPIDocumentAgreesWithTheHandlers(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)) // Tuesday 09:00 in Shanghai
	s := testharness.StartService(t, service.Service, withClock(fake))
	require.NoError(t, service.Service.Seed(t.Context(), s.Runtime))
	courseA, patientA := requestCourse(t, s, "nk-autologous", "NK-AUTO-2026.1")
	courseC, _ := requestCourse(t, s, "nk-autologous", "NK-AUTO-2026.1")
	courseB, patientB := requestCourse(t, s, "nk-autologous", "NK-AUTO-1999.1")
	s.WaitConsumed(t, "INTAKE", "scheduling_course_requested")

	testharness.CheckOpenAPI(t, s, api.OpenAPI, func(c *testharness.OpenAPIContract) {
		const (
			fd    = httpx.RoleFrontDesk
			nurse = httpx.RoleNurse
			lab   = httpx.RoleLab
			clin  = httpx.RoleClinician
			admin = httpx.RoleAdmin
			bill  = httpx.RoleBilling
		)
		get, post, put, patch, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
		call := func(role httpx.Role, method, path string, body any, status int, header ...string) testharness.Response {
			return c.Do(t, testharness.Call{Role: role, Method: method, Path: path, Body: body, Status: status, Header: header})
		}
		bad := func(role httpx.Role, method, path string, body any, status int, header ...string) {
			c.Do(t, testharness.Call{Role: role, Method: method, Path: path, Body: body, Status: status, Header: header, Request: testharness.RequestInvalid})
		}

		// ---- the patient reference ----
		got := call(nurse, get, "/v1/patients/"+patientA, nil, 200).JSON(t)
		require.Equal(t, "1969-12-31", got["birth_date"])
		bad(fd, get, "/v1/patients/not-a-uuid", nil, 400)
		call(clin, get, "/v1/patients/"+uuid.NewString(), nil, 404)
		call(bill, get, "/v1/patients/"+patientA, nil, 403)
		c.Do(t, testharness.Call{Method: get, Path: "/v1/patients/" + patientA, Request: testharness.RequestInvalid, Status: 401})

		// ---- reference data ----
		protos := call(nurse, get, "/v1/protocols", nil, 200).JSON(t)
		require.GreaterOrEqual(t, len(protos["items"].([]any)), 4)
		nk := call(admin, get, "/v1/protocols/nk-autologous/NK-AUTO-2026.1", nil, 200).JSON(t)
		require.Equal(t, true, nk["in_use"], "courses were planned with it")
		call(fd, get, "/v1/protocols/nk-autologous/NK-AUTO-0000.0", nil, 404)
		newVersion := map[string]any{}
		for k, v := range nk {
			if k != "in_use" && k != "updated_at" {
				newVersion[k] = v
			}
		}
		newVersion["version"] = "NK-AUTO-2027.1"
		call(admin, put, "/v1/protocols/nk-autologous/NK-AUTO-2027.1", newVersion, 201)
		newVersion["dose_cells"] = 150000000
		call(admin, put, "/v1/protocols/nk-autologous/NK-AUTO-2027.1", newVersion, 200)
		inUse := map[string]any{}
		for k, v := range newVersion {
			inUse[k] = v
		}
		inUse["version"] = "NK-AUTO-2026.1"
		call(admin, put, "/v1/protocols/nk-autologous/NK-AUTO-2026.1", inUse, 409)
		broken := map[string]any{}
		for k, v := range newVersion {
			broken[k] = v
		}
		broken["observation_minutes"] = 60
		call(admin, put, "/v1/protocols/nk-autologous/NK-AUTO-2027.1", broken, 422)

		resources := call(lab, get, "/v1/resources", nil, 200).JSON(t)["items"].([]any)
		require.GreaterOrEqual(t, len(resources), 18)
		chair := call(admin, post, "/v1/resources", map[string]any{"kind": "infusion_chair", "name": "Chair 7"}, 201,
			"Idempotency-Key", "chair-7").JSON(t)
		call(admin, post, "/v1/resources", map[string]any{"kind": "infusion_chair", "name": "Chair 7"}, 201, "Idempotency-Key", "chair-7")
		bad(admin, post, "/v1/resources", map[string]any{"kind": "sofa", "name": "Sofa"}, 422, "Idempotency-Key", "sofa")
		chairID := chair["id"].(string)
		call(admin, patch, "/v1/resources/"+chairID, map[string]any{"name": "Chair 7 (window)"}, 200)

		cal := call(clin, get, "/v1/calendar", nil, 200).JSON(t)
		require.Equal(t, "Asia/Shanghai", cal["time_zone"])
		call(admin, put, "/v1/calendar/hours", map[string]any{"hours": cal["hours"]}, 200)
		call(admin, put, "/v1/calendar/hours", map[string]any{"hours": []any{map[string]any{"weekday": "mon", "opens": "18:00", "closes": "08:00"}}}, 422)
		call(admin, post, "/v1/calendar/closures", map[string]any{"date": "2027-05-01", "reason": "Labour Day"}, 201, "Idempotency-Key", "may-day")
		call(admin, del, "/v1/calendar/closures/2027-05-01", nil, 204)
		call(admin, del, "/v1/calendar/closures/2027-05-01", nil, 404)

		// ---- the plan ----
		plan := call(fd, get, "/v1/courses/"+courseA, nil, 200).JSON(t)
		require.Equal(t, "planned", plan["status"])
		appts := appointmentsOf(t, plan)
		require.Contains(t, appts, "draw")
		require.Contains(t, appts, "culture")
		require.Contains(t, appts, "infusion")
		unplanned := call(fd, get, "/v1/courses/"+courseB, nil, 200).JSON(t)
		require.Equal(t, "unplanned", unplanned["status"])
		require.Equal(t, "no_protocol", unplanned["reason"])
		call(fd, post, "/v1/courses/"+courseB+"/plan", nil, 200)
		call(fd, post, "/v1/courses/"+courseA+"/plan", nil, 409)
		call(nurse, get, "/v1/courses/"+uuid.NewString(), nil, 404)
		timeline := call(clin, get, "/v1/courses/"+courseA+"/timeline", nil, 200).JSON(t)["items"].([]any)
		require.NotEmpty(t, timeline)
		var events []string
		for _, it := range timeline {
			events = append(events, it.(map[string]any)["event"].(string))
		}
		require.Equal(t, "planned", events[len(events)-1], "the plan, after its chain's bookings: %v", events)
		require.Contains(t, events, "booked")
		call(lab, get, "/v1/courses/"+uuid.NewString()+"/timeline", nil, 404)
		bad(fd, get, "/v1/courses/nope/timeline", nil, 400)
		call(bill, get, "/v1/courses/"+courseA+"/timeline", nil, 403)
		c.Do(t, testharness.Call{Method: get, Path: "/v1/courses/" + courseA + "/timeline", Request: testharness.RequestInvalid, Status: 401})

		day := call(nurse, get, "/v1/appointments?date=2026-12-01", nil, 200).JSON(t)
		require.NotEmpty(t, day["items"])
		call(nurse, get, "/v1/appointments?course_id="+courseA+"&limit=2", nil, 200)
		bad(nurse, get, "/v1/appointments?date=2026-13-01", nil, 400)

		// ---- an ad-hoc visit: booked, refused twice over, moved, cancelled ----
		visit := map[string]any{"patient_id": patientB, "kind": "consultation", "resource_id": chairID,
			"start": "2026-12-03T10:00:00+08:00", "end": "2026-12-03T11:00:00+08:00"}
		booked := call(fd, post, "/v1/appointments", visit, 201, "Idempotency-Key", "visit-1").JSON(t)
		require.Equal(t, "2026-12-03T10:00:00+08:00", booked["start"], "times come back in the clinic's zone")
		clash := map[string]any{"patient_id": patientA, "kind": "consultation", "resource_id": chairID,
			"start": "2026-12-03T10:30:00+08:00", "end": "2026-12-03T11:30:00+08:00"}
		conflict := call(fd, post, "/v1/appointments", clash, 409, "Idempotency-Key", "visit-2").JSON(t)
		require.Equal(t, booked["id"], conflict["collides_with"].(map[string]any)["id"])
		outside := map[string]any{"patient_id": patientA, "kind": "consultation", "resource_id": chairID,
			"start": "2026-12-03T21:00:00+08:00", "end": "2026-12-03T22:00:00+08:00"}
		call(fd, post, "/v1/appointments", outside, 422, "Idempotency-Key", "visit-3")
		visitID := booked["id"].(string)
		moved := call(fd, post, "/v1/appointments/"+visitID+"/reschedule", map[string]any{"start": "2026-12-04T14:00:00+08:00", "scope": "this"}, 200).JSON(t)
		require.Equal(t, "2026-12-04T14:00:00+08:00", moved["items"].([]any)[0].(map[string]any)["start"])
		call(fd, post, "/v1/appointments/"+visitID+"/cancel", map[string]any{"reason": "patient_request"}, 200)
		call(fd, post, "/v1/appointments/"+visitID+"/reschedule", map[string]any{"start": "2026-12-05T10:00:00+08:00"}, 409)

		// ---- the chain: draw, culture, release, infusion ----
		draw := appts["draw"]
		call(nurse, post, "/v1/appointments/"+draw["id"].(string)+"/complete", map[string]any{}, 409) // not checked in
		fake.Set(at(t, draw["start"].(string)))
		call(nurse, post, "/v1/appointments/"+draw["id"].(string)+"/check-in", nil, 200)
		done := call(nurse, post, "/v1/appointments/"+draw["id"].(string)+"/complete", map[string]any{}, 200).JSON(t)
		din := done["product_id"].(string)
		// Course C's draw, the same morning: its product will fail.
		planC := call(fd, get, "/v1/courses/"+courseC, nil, 200).JSON(t)
		drawC := appointmentsOf(t, planC)["draw"]
		require.Equal(t, "booked", drawC["status"])
		if drawStart := at(t, drawC["start"].(string)); drawStart.After(fake.Now()) {
			fake.Set(drawStart)
		}
		call(nurse, post, "/v1/appointments/"+drawC["id"].(string)+"/check-in", nil, 200)
		dinC := call(nurse, post, "/v1/appointments/"+drawC["id"].(string)+"/complete", map[string]any{}, 200).JSON(t)["product_id"].(string)
		// Then a visit later today that nobody comes to.
		today := map[string]any{"patient_id": patientB, "kind": "consultation", "resource_id": chairID,
			"start": "2026-12-01T11:00:00+08:00", "end": "2026-12-01T11:30:00+08:00"}
		noShow := call(fd, post, "/v1/appointments", today, 201, "Idempotency-Key", "visit-4").JSON(t)["id"].(string)
		call(nurse, post, "/v1/appointments/"+noShow+"/no-show", nil, 409) // not started yet
		fake.Set(time.Date(2026, 12, 1, 11, 10, 0, 0, shanghai(t)))
		call(nurse, post, "/v1/appointments/"+noShow+"/no-show", nil, 200)

		require.Len(t, din, 14)
		call(lab, get, "/v1/products/"+din, nil, 200)
		call(lab, get, "/v1/products/G123499999999", nil, 404)
		bad(lab, get, "/v1/products/not-a-din", nil, 400)
		funded := call(lab, post, "/v1/products/"+din+"/culture", nil, 409).JSON(t) // the funding gate
		require.Contains(t, funded["detail"], "not funded")
		depositPaid(t, s, courseA, patientA)
		require.NotNil(t, call(nurse, get, "/v1/courses/"+courseA, nil, 200).JSON(t)["funded_at"])
		call(lab, post, "/v1/products/"+din+"/culture", nil, 200)
		fake.Set(at(t, appts["culture"]["end"].(string)))
		missed := map[string]any{"viability_pct": 70, "purity_pct": 95, "endotoxin_eu_per_ml": 1, "sterility": "negative", "mycoplasma": "negative"}
		refused := call(lab, post, "/v1/products/"+din+"/release", missed, 422).JSON(t)
		require.Contains(t, refused["missed"], "viability_pct")
		qc := map[string]any{"viability_pct": 95, "purity_pct": 93, "endotoxin_eu_per_ml": 1.2, "sterility": "negative", "mycoplasma": "negative"}
		released := call(lab, post, "/v1/products/"+din+"/release", qc, 200).JSON(t)
		require.Equal(t, "released", released["status"])

		infusion := appts["infusion"]["id"].(string)
		fake.Set(at(t, appts["infusion"]["start"].(string)))
		call(nurse, post, "/v1/appointments/"+infusion+"/check-in", nil, 200)
		wrong := map[string]any{"product_id": din, "patient_id": patientA, "birth_date": "1970-01-01", "dose_cells": 100000000}
		blocked := call(nurse, post, "/v1/appointments/"+infusion+"/complete", wrong, 409).JSON(t)
		require.Equal(t, "wrong_birth_date", blocked["reason"])
		right := map[string]any{"product_id": din, "patient_id": patientA, "birth_date": "1969-12-31", "dose_cells": 120000000}
		call(nurse, post, "/v1/appointments/"+infusion+"/complete", right, 200)
		require.Equal(t, "infusing", call(clin, get, "/v1/courses/"+courseA, nil, 200).JSON(t)["status"])

		// ---- hold, resume, cancel ----
		call(clin, post, "/v1/courses/"+courseA+"/hold", map[string]any{"reason": "clinician"}, 200)
		call(clin, post, "/v1/courses/"+courseA+"/resume", nil, 200)
		call(clin, post, "/v1/courses/"+courseA+"/resume", nil, 409)
		call(clin, post, "/v1/courses/"+courseA+"/cancel", map[string]any{"reason": "patient_request"}, 200)

		// ---- a failed product re-plans its cycle ----
		call(lab, post, "/v1/products/"+dinC+"/fail", map[string]any{"reason": "no_growth"}, 200)
		call(lab, post, "/v1/products/"+dinC+"/fail", map[string]any{"reason": "no_growth"}, 409)

		// ---- a donor lot ----
		now := fake.Now()
		lot := map[string]any{"program": "msc", "din": "G123426900001", "donor_id": "donor-0042", "doses": 3,
			"collected_at": now.AddDate(0, 0, -5).Format(time.RFC3339), "infection_tests_on": now.AddDate(0, 0, -20).Format(time.DateOnly),
			"expires_at": now.AddDate(0, 6, 0).Format(time.RFC3339)}
		call(lab, post, "/v1/lots", lot, 201, "Idempotency-Key", "lot-1")
		call(lab, post, "/v1/lots", lot, 409, "Idempotency-Key", "lot-1-again") // the same lot DIN
		stale := map[string]any{}
		for k, v := range lot {
			stale[k] = v
		}
		stale["din"] = "G123426900002"
		stale["infection_tests_on"] = now.AddDate(0, 0, -45).Format(time.DateOnly)
		call(lab, post, "/v1/lots", stale, 422, "Idempotency-Key", "lot-2")
	})
}

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	l, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	return l
}
