package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/clinicops/clinicops/pkg/clock"
	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/scheduling/service"
)

// withClock runs the service on a fake clock.
func withClock(c clock.Clock) testharness.ServiceOption {
	return func(o *platform.Options) { o.Clock = c }
}

// TestCourseRequestedIsPlannedAndPublished drives scheduling as intake
// would: the patient and the course arrive as events, the plan leaves as
// events on JetStream. A redelivered CourseRequested books nothing twice.
func TestCourseRequestedIsPlannedAndPublished(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)) // 09:00 in Shanghai
	s := testharness.StartService(t, service.Service, withClock(fake))
	require.NoError(t, service.Service.Seed(context.Background(), s.Runtime))

	patient, courseID := uuid.NewString(), uuid.NewString()
	s.Publish(t, "intake", patient, registered(patient, 1, "芳"))
	req := s.Publish(t, "intake", courseID, &intakev1.CourseRequested{CourseId: courseID, Version: 1,
		OccurredAt: timestamppb.Now(), PatientId: patient, Program: "nk-autologous", ProtocolVersion: "NK-AUTO-2026.1"})
	s.Republish(t, req)
	s.WaitConsumed(t, "INTAKE", "scheduling_course_requested")

	require.Equal(t, "planned", countString(t, s, `SELECT status FROM courses WHERE id = $1`, courseID))
	require.Equal(t, 3, s.Count(t, `SELECT count(*) FROM appointments WHERE course_id = $1 AND status = 'booked'`, courseID))
	// The relay publishes the plan: one CoursePlanned, three AppointmentBooked.
	testharness.Eventually(t, 10*time.Second, func() bool { return s.Count(t, `SELECT count(*) FROM outbox`) == 0 }, "outbox drained")
	stream, err := s.NATS.JS.Stream(t.Context(), "SCHEDULING")
	require.NoError(t, err)
	info, err := stream.Info(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 4, info.State.Msgs)
}

// depositPaid publishes billing's DepositPaid for the course and waits
// until scheduling has taken it.
func depositPaid(t *testing.T, s *testharness.Service, courseID, patientID string) {
	t.Helper()
	invoice := uuid.NewString()
	s.Publish(t, "billing", invoice, &billingv1.DepositPaid{InvoiceId: invoice, Version: 2, OccurredAt: timestamppb.Now(),
		PatientId: patientID, AccountSequence: 2, Number: "INV-2026-000001", CourseId: courseID,
		Amount: &billingv1.Money{Value: 1_000_000, Currency: "CNY"}})
	s.WaitConsumed(t, "BILLING", "scheduling_deposit_paid")
}

func countString(t *testing.T, s *testharness.Service, query string, args ...any) string {
	t.Helper()
	var v string
	require.NoError(t, s.DB.Get(&v, query, args...))
	return v
}
