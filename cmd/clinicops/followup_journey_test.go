package main

// Issue 9's "The safety hold end to end", across the four real services:
// a patient infused (scheduling's AppointmentCompleted reaches follow-up,
// which plans the check-ins and remembers who received the lot), then a
// clinician records a grade 3 adverse event in follow-up; scheduling puts
// the course on hold and suspends the next infusion, within the driver's
// deadline (polled, no sleeps).

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/cmd/clinicops/internal/journey"
)

func TestSafetyHoldEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := startJourney(t)
	p, course, invs, _ := enrol(t, ctx, d, "安")
	require.Greater(t, len(course.Cycles), 1, "a course of several cycles, so there is a next infusion to suspend")
	payDeposit(t, ctx, d, p, invs)
	din, err := d.Draw(ctx, p.CourseID, 1)
	require.NoError(t, err)
	_, err = d.StartCulture(ctx, din)
	require.NoError(t, err)
	_, err = d.Release(ctx, p.CourseID, 1, din, journey.GoodQC)
	require.NoError(t, err)
	infusion, err := d.Infuse(ctx, p, 1, din)
	require.NoError(t, err)

	checkIns, err := d.WaitCheckIns(ctx, p.ID)
	require.NoError(t, err)
	require.Len(t, checkIns, 5, "day 1, 3, 7, 14 and 30")
	require.Equal(t, din, checkIns[0].ProductID)
	recipients, err := d.Recipients(ctx, din)
	require.NoError(t, err)
	require.Equal(t, []string{p.ID}, recipients)

	// The next infusion is booked: scheduling plans the next cycle.
	next, err := d.WaitCourse(ctx, "scheduling books the next cycle's infusion", p.CourseID, func(c journey.Course) bool {
		a, ok := c.Appointment(2, "infusion")
		return ok && a.Status == "booked"
	})
	require.NoError(t, err, "course: %+v", next)

	now, err := d.Clock.Now(ctx)
	require.NoError(t, err)
	reported := time.Now()
	ae, err := d.ReportAdverseEvent(ctx, journey.NewAdverseEvent{PatientID: p.ID, CourseID: p.CourseID,
		Term: "Cytokine release syndrome", Scale: "ASTCT", Grade: 3, OnsetAt: now.Add(-time.Hour), Serious: true,
		ProductID: din, AppointmentID: infusion.ID})
	require.NoError(t, err)
	require.True(t, ae.Reported)

	held, err := d.WaitCourse(ctx, "scheduling holds the course after the adverse event", p.CourseID,
		func(c journey.Course) bool { return c.Status == "on_hold" })
	require.NoError(t, err)
	t.Logf("course on hold %s after the adverse event was recorded", time.Since(reported).Round(time.Millisecond))
	a, ok := held.Appointment(2, "infusion")
	require.True(t, ok)
	require.Equal(t, "suspended", a.Status, "the next infusion is suspended")
	require.NotNil(t, held.Reason)
	require.Contains(t, *held.Reason, "adverse_event:"+ae.ID)
}

// TestRemindersFollowTheVisitAndGoOut: a patient who consented to SMS
// gets reminders for the course's booked visits as soon as scheduling
// books them; when the clock reaches the first one, it goes out (through
// the log channel under `make run`, the only one configured), once; a
// cancelled course drops the rest.
func TestRemindersFollowTheVisitAndGoOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := startJourney(t)
	p, err := d.Register(ctx, journey.NewPatient{FamilyName: "测试", GivenName: "铃", BirthDate: "1969-08-21", Sex: "female",
		Phone: "+8613800001234", PreferredLanguage: "zh-CN"})
	require.NoError(t, err)
	require.NoError(t, d.ConsentToSMS(ctx, p.ID))
	require.NoError(t, d.RequestCourse(ctx, &p, journeyProgram))
	_, err = d.WaitPlanned(ctx, p.CourseID)
	require.NoError(t, err)
	rs, err := d.WaitReminders(ctx, "follow-up schedules the booked visits' reminders", p.ID, func(rs []journey.Reminder) bool {
		return len(rs) > 0 && !slices.ContainsFunc(rs, func(r journey.Reminder) bool { return r.Status != "scheduled" })
	})
	require.NoError(t, err)
	// The first visit's 48-hour reminder: at the visit's clock time two
	// days before, inside opening hours, so never in quiet hours.
	rs = slices.DeleteFunc(rs, func(r journey.Reminder) bool { return r.Kind != "visit_48h" })
	require.NotEmpty(t, rs)
	first := slices.MinFunc(rs, func(a, b journey.Reminder) int { return a.DueAt.Compare(b.DueAt) })
	require.NoError(t, d.AdvanceTo(ctx, first.DueAt.Add(time.Minute)))
	rs, err = d.WaitReminders(ctx, "the first reminder goes out", p.ID, func(rs []journey.Reminder) bool {
		i := slices.IndexFunc(rs, func(r journey.Reminder) bool { return r.ID == first.ID })
		return i >= 0 && rs[i].Status != "scheduled"
	})
	require.NoError(t, err)
	i := slices.IndexFunc(rs, func(r journey.Reminder) bool { return r.ID == first.ID })
	require.Equal(t, "sent", rs[i].Status, "%+v (reason %v)", rs[i], ptrValue(rs[i].Reason))
	require.NotNil(t, rs[i].Channel)

	require.NoError(t, d.CancelCourse(ctx, p.CourseID, "patient_request"))
	_, err = d.WaitReminders(ctx, "follow-up drops the cancelled course's reminders", p.ID, func(rs []journey.Reminder) bool {
		return !slices.ContainsFunc(rs, func(r journey.Reminder) bool { return r.Status == "scheduled" })
	})
	require.NoError(t, err)
}

func ptrValue(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
