package service_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/clinicops/clinicops/pkg/clock"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/followup/service"
)

// End to end on the service: scheduling's events make reminders, River
// runs them when the test's clock says they are due, and the log channel
// (the default without configured channels) delivers them.
func TestRemindersFollowTheVisitAndGoOutWhenDue(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2027, 5, 3, 9, 0, 0, 0, time.UTC))
	s := testharness.StartService(t, service.Service, func(o *platform.Options) { o.Clock = clk },
		testharness.WithEnv(map[string]string{"FOLLOWUP_QUIET_HOURS": "off"}))
	patient, appointment := uuid.NewString(), uuid.NewString()
	s.Publish(t, "intake", patient, &intakev1.PatientRegistered{PatientId: patient, Version: 1, OccurredAt: timestamppb.New(clk.Now()),
		Phone: "+8613912345678", PreferredLanguage: "zh-CN"})
	consent := uuid.NewString()
	s.Publish(t, "intake", consent, &intakev1.ConsentRecorded{PatientId: patient, ConsentId: consent, Version: 1,
		Kind: "contact_sms", OccurredAt: timestamppb.New(clk.Now())})
	start := clk.Now().Add(30 * time.Hour)
	visit := func(at time.Time) *schedulingv1.Appointment {
		return &schedulingv1.Appointment{AppointmentId: appointment, PatientId: patient, Kind: "draw",
			Start: timestamppb.New(at), End: timestamppb.New(at.Add(time.Hour)), PatientPresent: true}
	}
	s.Publish(t, "scheduling", appointment, &schedulingv1.AppointmentBooked{AppointmentId: appointment, Version: 1,
		OccurredAt: timestamppb.New(clk.Now()), Appointment: visit(start)})

	list := func(query string) []map[string]any {
		r := s.Do(t, httpx.RoleFrontDesk, http.MethodGet, "/v1/reminders?appointment_id="+appointment+query, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		var out []map[string]any
		for _, it := range r.JSON(t)["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		return out
	}
	testharness.Eventually(t, 10*time.Second, func() bool { return len(list("&status=scheduled")) == 2 },
		"visit_24h and draw_preparation scheduled (the 48 h one was due before the booking)")

	// Moved by a day: the old ones cancelled, new ones at the new time.
	moved := start.Add(24 * time.Hour)
	s.Publish(t, "scheduling", appointment, &schedulingv1.AppointmentRescheduled{AppointmentId: appointment, Version: 2,
		OccurredAt: timestamppb.New(clk.Now()), Appointment: visit(moved), PreviousStart: timestamppb.New(start)})
	testharness.Eventually(t, 10*time.Second, func() bool {
		return len(list("&status=cancelled")) == 2 && len(list("&status=scheduled")) == 3
	}, "moved: 48 h, 24 h and preparation before the new time")

	// The old time's reminders come due: nothing goes out for them.
	clk.Set(start.Add(-24*time.Hour + time.Minute))
	// The new time's 24 h reminders come due: they go out.
	clk.Set(moved.Add(-24*time.Hour + time.Minute))
	testharness.Eventually(t, 20*time.Second, func() bool { return len(list("&status=sent")) == 2 },
		"the new time's 24 h and preparation reminders were sent through the log channel")
	skipped := list("&status=skipped")
	require.Len(t, skipped, 1, "its 48 h reminder came due a day ago: stale")
	require.Equal(t, "visit_48h", skipped[0]["kind"])
	require.Equal(t, "stale", skipped[0]["reason"])
	for _, r := range list("&status=sent") {
		require.Equal(t, "log", r["channel"])
		require.Equal(t, moved.Format(time.RFC3339), r["visit_start"])
	}
	require.Len(t, list("&status=cancelled"), 2, "the old time's never went out")
	stream, err := s.Runtime.JS.Stream(context.Background(), "FOLLOWUP")
	require.NoError(t, err)
	testharness.Eventually(t, 10*time.Second, func() bool {
		m, err := stream.GetLastMsgForSubject(context.Background(), "clinicops.followup.v1.ReminderSent")
		return err == nil && m.Sequence == 2
	}, "two ReminderSent on the stream")
}
