package service_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/clinicops/clinicops/pkg/clock"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/service"
)

// recordingChannel is the on-call channel of the tests: it keeps what it
// was given.
type recordingChannel struct {
	mu   sync.Mutex
	msgs []app.Message
}

func (*recordingChannel) Name() string     { return "recording" }
func (*recordingChannel) Idempotent() bool { return true }
func (c *recordingChannel) Send(_ context.Context, m app.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
	return nil
}

func (c *recordingChannel) messages() []app.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]app.Message(nil), c.msgs...)
}

func (c *recordingChannel) kinds() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = m.Kind + ":" + m.IdempotencyKey
	}
	return out
}

type clinic struct {
	s     *testharness.Service
	clock *clock.Fake
	alert *recordingChannel
}

// startFollowup starts followup at 09:00 in Shanghai on 1 December 2026,
// with the recording on-call channel.
func startFollowup(t *testing.T, env map[string]string) clinic {
	t.Helper()
	c := clinic{clock: clock.NewFake(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)), alert: &recordingChannel{}}
	svc := service.New(service.Deps{Alert: func(*platform.Runtime) app.Channel { return c.alert }})
	c.s = testharness.StartService(t, svc, func(o *platform.Options) { o.Clock = c.clock }, testharness.WithEnv(env))
	return c
}

const din = "G123426000001Y"

// infused publishes scheduling's AppointmentCompleted of an infusion that
// ended an hour ago.
func (c clinic) infused(t *testing.T, patientID, courseID, program, product string) (string, testharness.Injected) {
	t.Helper()
	id := uuid.NewString()
	now := c.clock.Now()
	ev := c.s.Publish(t, "scheduling", id, &schedulingv1.AppointmentCompleted{AppointmentId: id, Version: 3,
		OccurredAt: timestamppb.New(now), Appointment: &schedulingv1.Appointment{AppointmentId: id, CourseId: courseID,
			Cycle: 1, PatientId: patientID, Program: program, Kind: "infusion", PatientPresent: true, ProductId: product,
			Start: timestamppb.New(now.Add(-3 * time.Hour)), End: timestamppb.New(now.Add(-time.Hour))}, DoseCells: 100_000_000})
	return id, ev
}

func (c clinic) items(t *testing.T, role httpx.Role, path string) []map[string]any {
	t.Helper()
	r := c.s.Do(t, role, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	var out []map[string]any
	for _, it := range r.JSON(t)["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func publishedCount(t *testing.T, s *testharness.Service, eventType string) int {
	t.Helper()
	testharness.Eventually(t, 10*time.Second, func() bool { return s.Count(t, `SELECT count(*) FROM outbox`) == 0 }, "outbox drained")
	stream, err := s.NATS.JS.Stream(t.Context(), "FOLLOWUP")
	require.NoError(t, err)
	info, err := stream.Info(t.Context(), jetstream.WithSubjectFilter(eventType))
	require.NoError(t, err)
	return int(info.State.Subjects[eventType])
}

// TestInfusionPlansCheckInsThatEscalateAndGoOverdue: an infusion seen
// twice plans its five check-ins once; a fever within 48 hours escalates
// to the on-call clinician (after commit, once); a check-in unanswered at
// the end of its day becomes overdue (CheckInOverdue); the lot's recipients
// are every patient infused with it.
func TestInfusionPlansCheckInsThatEscalateAndGoOverdue(t *testing.T) {
	t.Parallel()
	c := startFollowup(t, map[string]string{"FOLLOWUP_CHECKIN_DAYS_BY_PROGRAM": "msc=2,5"})
	patient, other, third, course := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	_, ev := c.infused(t, patient, course, "nk-autologous", din)
	c.s.Republish(t, ev)
	c.infused(t, other, uuid.NewString(), "nk-autologous", din) // the same allogeneic lot
	c.infused(t, third, uuid.NewString(), "msc", "G123426000002W")
	c.s.WaitConsumed(t, "SCHEDULING", "followup_appointment_completed")

	list := c.items(t, httpx.RoleNurse, "/v1/check-ins?patient_id="+patient)
	require.Len(t, list, 5, "planned once")
	var days []float64
	for _, it := range list {
		days = append(days, it["day"].(float64))
		require.Equal(t, "pending", it["status"])
		require.Equal(t, din, it["product_id"])
	}
	require.Equal(t, []float64{1, 3, 7, 14, 30}, days)
	require.Len(t, c.items(t, httpx.RoleNurse, "/v1/check-ins?patient_id="+third), 2, "the program's own days")

	recipients := c.items(t, httpx.RoleClinician, "/v1/products/"+din+"/recipients")
	require.ElementsMatch(t, []string{patient, other}, []string{recipients[0]["patient_id"].(string), recipients[1]["patient_id"].(string)})

	// Day 1, answered by the nurse: 38.4 °C a little over a day after the infusion.
	day1 := list[0]["id"].(string)
	bad := c.s.Do(t, httpx.RoleNurse, http.MethodPost, "/v1/check-ins/"+day1, map[string]any{"temperature_celsius": 43.5})
	require.Equal(t, http.StatusUnprocessableEntity, bad.Status, string(bad.Body))
	require.Contains(t, string(bad.Body), "temperature_celsius")
	c.clock.Advance(20 * time.Hour)
	r := c.s.Do(t, httpx.RoleNurse, http.MethodPost, "/v1/check-ins/"+day1, map[string]any{
		"temperature_celsius": 38.4, "symptoms": []string{"chills", "fatigue"}, "note": "secret words of the patient"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	require.Equal(t, true, r.JSON(t)["escalated"])
	require.Equal(t, http.StatusConflict, c.s.Do(t, httpx.RoleNurse, http.MethodPost, "/v1/check-ins/"+day1,
		map[string]any{"symptoms": []string{}}).Status, "answered once")
	require.Equal(t, http.StatusForbidden, c.s.Do(t, httpx.RoleClinician, http.MethodPost, "/v1/check-ins/"+day1,
		map[string]any{"symptoms": []string{}}).Status, "nurses record check-ins")

	open := c.items(t, httpx.RoleClinician, "/v1/escalations?status=open")
	require.Len(t, open, 1)
	require.Equal(t, "ASTCT", open[0]["suggested_scale"])
	require.EqualValues(t, 1, open[0]["suggested_grade"])
	require.Equal(t, []any{"fever_within_48h"}, open[0]["reasons"])
	testharness.Eventually(t, 10*time.Second, func() bool { return len(c.alert.kinds()) == 1 }, "the on-call alert")
	require.True(t, strings.HasPrefix(c.alert.kinds()[0], "escalation:"))
	require.Equal(t, 1, publishedCount(t, c.s, "clinicops.followup.v1.EscalationRaised"))
	require.Equal(t, 1, publishedCount(t, c.s, "clinicops.followup.v1.CheckInRecorded"))

	// Day 3 is due by the end of 4 December in Shanghai (16:00 UTC).
	c.clock.Set(time.Date(2026, 12, 4, 15, 59, 0, 0, time.UTC))
	require.Empty(t, c.items(t, httpx.RoleNurse, "/v1/check-ins?status=overdue&patient_id="+patient))
	c.clock.Set(time.Date(2026, 12, 4, 16, 0, 1, 0, time.UTC))
	testharness.Eventually(t, 15*time.Second, func() bool {
		return len(c.items(t, httpx.RoleNurse, "/v1/check-ins?status=overdue&patient_id="+patient)) == 1
	}, "day 3 overdue")
	overdue := c.items(t, httpx.RoleNurse, "/v1/check-ins?status=overdue&patient_id="+patient)
	require.EqualValues(t, 3, overdue[0]["day"])
	// The other patients: day 1 and 3 of the same lot, day 2 of the msc one
	// (their jobs run in their own time, and the relay publishes after).
	testharness.Eventually(t, 15*time.Second, func() bool {
		return publishedCount(t, c.s, "clinicops.followup.v1.CheckInOverdue") == 4
	}, "four check-ins overdue on the stream")
	require.Equal(t, "recorded", c.items(t, httpx.RoleNurse, "/v1/check-ins?patient_id="+patient)[0]["status"], "an answered one stays answered")
}

func adverseEventBody(patient, course, scale string, grade int, at time.Time) map[string]any {
	return map[string]any{"patient_id": patient, "course_id": course, "term": "Cytokine release syndrome", "scale": scale,
		"grade": grade, "onset_at": at.Add(-time.Hour).Format(time.RFC3339), "serious": grade >= 3, "product_id": din}
}

// TestAdverseEventGradeThreeIsReportedOnceAndAlerts: grade 3 publishes
// AdverseEventReported once (a keyed retry replays the answer) and alerts
// on-call; grade 2 publishes nothing; CTCAE 5 closes pending reminders.
func TestAdverseEventGradeThreeIsReportedOnceAndAlerts(t *testing.T) {
	t.Parallel()
	c := startFollowup(t, nil)
	patient, course := uuid.NewString(), uuid.NewString()
	now := c.clock.Now()
	key := []string{"Idempotency-Key", uuid.NewString()}
	first := c.s.Do(t, httpx.RoleClinician, http.MethodPost, "/v1/adverse-events", adverseEventBody(patient, course, "ASTCT", 3, now), key...)
	require.Equal(t, http.StatusCreated, first.Status, string(first.Body))
	again := c.s.Do(t, httpx.RoleClinician, http.MethodPost, "/v1/adverse-events", adverseEventBody(patient, course, "ASTCT", 3, now), key...)
	require.Equal(t, string(first.Body), string(again.Body), "the keyed retry replays")
	require.Equal(t, true, first.JSON(t)["reported"])

	low := c.s.Do(t, httpx.RoleClinician, http.MethodPost, "/v1/adverse-events", adverseEventBody(patient, course, "CTCAE", 2, now))
	require.Equal(t, http.StatusCreated, low.Status, string(low.Body))
	require.Equal(t, false, low.JSON(t)["reported"])
	invalid := c.s.Do(t, httpx.RoleClinician, http.MethodPost, "/v1/adverse-events", adverseEventBody(patient, course, "ASTCT", 5, now))
	require.Equal(t, http.StatusUnprocessableEntity, invalid.Status, string(invalid.Body))
	require.Contains(t, string(invalid.Body), `"grade"`)
	require.Equal(t, http.StatusForbidden, c.s.Do(t, httpx.RoleNurse, http.MethodPost, "/v1/adverse-events",
		adverseEventBody(patient, course, "ASTCT", 3, now)).Status)

	require.Len(t, c.items(t, httpx.RoleClinician, "/v1/adverse-events?patient_id="+patient), 2)
	require.Equal(t, 1, publishedCount(t, c.s, "clinicops.followup.v1.AdverseEventReported"))
	testharness.Eventually(t, 10*time.Second, func() bool { return len(c.alert.kinds()) == 1 }, "the on-call alert")
	require.True(t, strings.HasPrefix(c.alert.kinds()[0], "adverse_event:"))
	require.Equal(t, 0, c.s.Count(t, `SELECT count(*) FROM reminder_drops`))

	// A visit booked ahead has its reminders; a fatal event closes them.
	appointment, start := uuid.NewString(), now.Add(5*24*time.Hour)
	c.s.Publish(t, "scheduling", appointment, &schedulingv1.AppointmentBooked{AppointmentId: appointment, Version: 1,
		OccurredAt: timestamppb.New(now), Appointment: &schedulingv1.Appointment{AppointmentId: appointment, PatientId: patient,
			CourseId: course, Kind: "infusion", Start: timestamppb.New(start), End: timestamppb.New(start.Add(2 * time.Hour)), PatientPresent: true}})
	c.s.WaitConsumed(t, "SCHEDULING", "followup_appointment_booked")
	// And a completed earlier course its long-term follow-ups (of no visit).
	earlier := uuid.NewString()
	c.s.Publish(t, "scheduling", earlier, &schedulingv1.CourseCompleted{CourseId: earlier, Version: 9, OccurredAt: timestamppb.New(now),
		PatientId: patient, Program: "nk-autologous", Infusions: 6})
	c.s.WaitConsumed(t, "SCHEDULING", "followup_course_completed")
	scheduled := `SELECT count(*) FROM reminders WHERE patient_id = $1 AND status = 'scheduled'`
	require.Equal(t, 6, c.s.Count(t, scheduled, patient))
	fatal := c.s.Do(t, httpx.RoleClinician, http.MethodPost, "/v1/adverse-events", adverseEventBody(patient, course, "CTCAE", 5, now))
	require.Equal(t, http.StatusCreated, fatal.Status, string(fatal.Body))
	require.Equal(t, 1, c.s.Count(t, `SELECT count(*) FROM reminder_drops WHERE patient_id = $1`, patient), "the request on record")
	require.Equal(t, 0, c.s.Count(t, scheduled, patient), "pending reminders closed")
	require.Equal(t, 6, c.s.Count(t, `SELECT count(*) FROM reminders WHERE patient_id = $1 AND status = 'cancelled'`, patient))
}

// TestOutcomesAreValidatedAndBanded: a DAS28 of 3.0 is low; an EDSS off
// its half steps is a 422 naming value; HbA1c in mmol/mol is kept in %.
func TestOutcomesAreValidatedAndBanded(t *testing.T) {
	t.Parallel()
	c := startFollowup(t, nil)
	patient, course := uuid.NewString(), uuid.NewString()
	at := c.clock.Now().Format(time.RFC3339)
	post := func(measure string, value float64, unit string) testharness.Response {
		body := map[string]any{"patient_id": patient, "course_id": course, "cycle": 1, "measure": measure, "value": value, "measured_at": at}
		if unit != "" {
			body["unit"] = unit
		}
		return c.s.Do(t, httpx.RoleClinician, http.MethodPost, "/v1/outcomes", body)
	}
	das := post("DAS28", 3.0, "")
	require.Equal(t, http.StatusCreated, das.Status, string(das.Body))
	require.Equal(t, "low", das.JSON(t)["band"])
	edss := post("EDSS", 6.3, "")
	require.Equal(t, http.StatusUnprocessableEntity, edss.Status)
	require.Contains(t, string(edss.Body), `"value"`)
	hb := post("HbA1c", 48, "mmol/mol")
	require.Equal(t, http.StatusCreated, hb.Status, string(hb.Body))
	require.InDelta(t, 6.542, hb.JSON(t)["value"], 0.0001)
	require.Len(t, c.items(t, httpx.RoleClinician, "/v1/outcomes?patient_id="+patient), 2)
	require.Equal(t, 2, publishedCount(t, c.s, "clinicops.followup.v1.OutcomeRecorded"))
}

// TestPatientAnswersCheckInThroughTheLink: each check-in gets the
// patient's reminder at 09:00 on its day, carrying a signed link; the
// patient answers through it (a fever escalates as a nurse's answer does);
// a check-in the nurse answered first drops its reminder, which never goes
// out.
func TestPatientAnswersCheckInThroughTheLink(t *testing.T) {
	t.Parallel()
	c := clinic{clock: clock.NewFake(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)), alert: &recordingChannel{}}
	sent := &recordingChannel{}
	svc := service.New(service.Deps{Alert: func(*platform.Runtime) app.Channel { return c.alert },
		Channels: func(*platform.Runtime) map[string]app.Channel { return map[string]app.Channel{"log": sent} }})
	c.s = testharness.StartService(t, svc, func(o *platform.Options) { o.Clock = c.clock }, testharness.WithEnv(map[string]string{
		"FOLLOWUP_QUIET_HOURS": "off", "FOLLOWUP_CHECKIN_LINK_SECRET": linkSecret, "FOLLOWUP_CHECKIN_LINK_BASE": "https://clinic.test/c/"}))
	patient, consent := uuid.NewString(), uuid.NewString()
	c.s.Publish(t, "intake", patient, &intakev1.PatientRegistered{PatientId: patient, Version: 1, OccurredAt: timestamppb.New(c.clock.Now()),
		Email: "p@example.cn", PreferredLanguage: "en"})
	c.s.Publish(t, "intake", consent, &intakev1.ConsentRecorded{PatientId: patient, ConsentId: consent, Version: 1,
		Kind: "contact_email", OccurredAt: timestamppb.New(c.clock.Now())})
	c.s.WaitConsumed(t, "INTAKE", "followup_consent_recorded")
	c.infused(t, patient, uuid.NewString(), "nk-autologous", din)
	c.s.WaitConsumed(t, "SCHEDULING", "followup_appointment_completed")

	reminders := func(status string) []map[string]any {
		return c.items(t, httpx.RoleFrontDesk, "/v1/reminders?patient_id="+patient+"&status="+status)
	}
	scheduled := reminders("scheduled")
	require.Len(t, scheduled, 5, "one reminder per check-in")
	require.Equal(t, "check_in", scheduled[0]["kind"])
	require.Equal(t, "2026-12-02T01:00:00Z", scheduled[0]["due_at"], "09:00 in Shanghai on day 1")
	checkIns := c.items(t, httpx.RoleNurse, "/v1/check-ins?patient_id="+patient)

	// Day 3: the nurse reached the patient first; its reminder is dropped.
	r := c.s.Do(t, httpx.RoleNurse, http.MethodPost, "/v1/check-ins/"+checkIns[1]["id"].(string), map[string]any{"symptoms": []string{}})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	cancelled := reminders("cancelled")
	require.Len(t, cancelled, 1)
	require.Equal(t, "check_in_answered", cancelled[0]["reason"])

	// Day 1, 09:00: the reminder goes out with the link.
	c.clock.Set(time.Date(2026, 12, 2, 1, 0, 30, 0, time.UTC))
	testharness.Eventually(t, 20*time.Second, func() bool { return len(reminders("sent")) == 1 }, "day 1's reminder sent")
	msgs := sent.messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "check_in", msgs[0].Kind)
	_, token, ok := strings.Cut(msgs[0].Body, "https://clinic.test/c/")
	require.True(t, ok, "the link is in the text: %q", msgs[0].Body)
	token, _, _ = strings.Cut(token, " ")
	link := "/v1/check-in-links/" + token

	shown := c.s.Do(t, "", http.MethodGet, link, nil)
	require.Equal(t, http.StatusOK, shown.Status, string(shown.Body))
	require.Equal(t, checkIns[0]["id"], shown.JSON(t)["check_in_id"], "the link opens day 1")
	answered := c.s.Do(t, "", http.MethodPost, link, map[string]any{"temperature_celsius": 38.5, "symptoms": []string{"chills"}})
	require.Equal(t, http.StatusOK, answered.Status, string(answered.Body))
	require.Contains(t, answered.JSON(t)["advice"], "A clinician has been told")
	day1 := c.items(t, httpx.RoleNurse, "/v1/check-ins?patient_id="+patient)[0]
	require.Equal(t, "patient", day1["recorded_by"])
	require.Equal(t, true, day1["escalated"])
	require.Len(t, c.items(t, httpx.RoleClinician, "/v1/escalations?status=open"), 1)
	testharness.Eventually(t, 10*time.Second, func() bool { return len(c.alert.kinds()) == 1 }, "the on-call alert")
	require.Equal(t, http.StatusConflict, c.s.Do(t, "", http.MethodPost, link, map[string]any{}).Status, "answered once")

	// Day 3's dropped reminder: its job was cancelled with it, so it never
	// runs, whatever the clock says.
	// (River's cleaner deletes a cancelled job a day later: the test's
	// clock has moved that far.)
	require.Equal(t, 1, c.s.Count(t, `SELECT count(*) FROM reminders r LEFT JOIN river_job j ON r.job_id = j.id
		WHERE r.reason = 'check_in_answered' AND (j.state = 'cancelled' OR j.id IS NULL)`))
	c.clock.Set(time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC))
	require.Len(t, reminders("sent"), 1)
}
