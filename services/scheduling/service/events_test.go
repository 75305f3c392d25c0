package service_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/clinicops/clinicops/pkg/clock"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/scheduling/service"
)

// published counts the events of one type scheduling published to its
// stream, once the outbox is drained.
func published(t *testing.T, s *testharness.Service, eventType string) int {
	t.Helper()
	testharness.Eventually(t, 10*time.Second, func() bool { return s.Count(t, `SELECT count(*) FROM outbox`) == 0 }, "outbox drained")
	stream, err := s.NATS.JS.Stream(t.Context(), "SCHEDULING")
	require.NoError(t, err)
	info, err := stream.Info(t.Context(), jetstream.WithSubjectFilter(eventType))
	require.NoError(t, err)
	return int(info.State.Subjects[eventType])
}

func startScheduling(t *testing.T) *testharness.Service {
	t.Helper()
	s := testharness.StartService(t, service.Service, withClock(clock.NewFake(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC))))
	require.NoError(t, service.Service.Seed(t.Context(), s.Runtime))
	return s
}

func cancellation(courseID, patientID string, version int64) *intakev1.CourseCancellationRequested {
	return &intakev1.CourseCancellationRequested{CourseId: courseID, Version: version, OccurredAt: timestamppb.Now(),
		PatientId: patientID, Reason: "patient_request"}
}

// TestCancellationOnceAndBeforeItsRequest: a cancellation redelivered, or
// sent again under a new event id, cancels once; one that arrives before
// its CourseRequested keeps that course from ever being planned.
func TestCancellationOnceAndBeforeItsRequest(t *testing.T) {
	t.Parallel()
	s := startScheduling(t)
	courseID, patientID := requestCourse(t, s, "nk-autologous", "NK-AUTO-2026.1")
	s.WaitConsumed(t, "INTAKE", "scheduling_course_requested")
	first := s.Publish(t, "intake", courseID, cancellation(courseID, patientID, 2))
	s.Republish(t, first)
	s.Publish(t, "intake", courseID, cancellation(courseID, patientID, 2)) // intake's outbox sent it again
	s.WaitConsumed(t, "INTAKE", "scheduling_course_cancellation_requested")
	require.Equal(t, "cancelled", countString(t, s, `SELECT status FROM courses WHERE id = $1`, courseID))
	require.Equal(t, 3, s.Count(t, `SELECT count(*) FROM appointments WHERE course_id = $1 AND status = 'cancelled'`, courseID))
	require.Equal(t, 1, published(t, s, "clinicops.scheduling.v1.CourseCancelled"))
	require.Equal(t, 3, published(t, s, "clinicops.scheduling.v1.AppointmentCancelled"))

	// The cancellation of another course overtakes its request.
	late, patient := uuid.NewString(), uuid.NewString()
	s.Publish(t, "intake", patient, registered(patient, 1, "晚"))
	s.Publish(t, "intake", late, cancellation(late, patient, 2))
	s.WaitConsumed(t, "INTAKE", "scheduling_course_cancellation_requested")
	s.Publish(t, "intake", late, &intakev1.CourseRequested{CourseId: late, Version: 1, OccurredAt: timestamppb.Now(),
		PatientId: patient, Program: "nk-autologous", ProtocolVersion: "NK-AUTO-2026.1"})
	s.WaitConsumed(t, "INTAKE", "scheduling_course_requested")
	require.Equal(t, "cancelled", countString(t, s, `SELECT status FROM courses WHERE id = $1`, late))
	require.Equal(t, 0, s.Count(t, `SELECT count(*) FROM appointments WHERE course_id = $1`, late), "never planned")
}

// TestTreatmentConsentWithdrawn: a withdrawn treatment consent cancels the
// program's courses; another kind changes nothing; a request made before
// a withdrawal that overtook it is never planned, one made after is.
func TestTreatmentConsentWithdrawn(t *testing.T) {
	t.Parallel()
	s := startScheduling(t)
	courseID, patientID := requestCourse(t, s, "nk-autologous", "NK-AUTO-2026.1")
	s.WaitConsumed(t, "INTAKE", "scheduling_course_requested")
	withdraw := func(kind, program string, at time.Time) {
		id := uuid.NewString()
		s.Publish(t, "intake", id, &intakev1.ConsentWithdrawn{PatientId: patientID, Version: 2, OccurredAt: timestamppb.New(at),
			ConsentId: id, Kind: kind, Program: program, Reason: "patient_request"})
		s.WaitConsumed(t, "INTAKE", "scheduling_consent_withdrawn")
	}
	withdraw("contact_sms", "", time.Now())
	require.Equal(t, "planned", countString(t, s, `SELECT status FROM courses WHERE id = $1`, courseID))
	withdraw("treatment", "msc", time.Now())
	require.Equal(t, "planned", countString(t, s, `SELECT status FROM courses WHERE id = $1`, courseID), "another program's consent")
	withdrawnAt := time.Now()
	withdraw("treatment", "nk-autologous", withdrawnAt)
	require.Equal(t, "cancelled", countString(t, s, `SELECT status FROM courses WHERE id = $1`, courseID))
	require.Equal(t, "consent_withdrawn", countString(t, s, `SELECT reason FROM courses WHERE id = $1`, courseID))

	request := func(at time.Time) string {
		id := uuid.NewString()
		s.Publish(t, "intake", id, &intakev1.CourseRequested{CourseId: id, Version: 1, OccurredAt: timestamppb.New(at),
			PatientId: patientID, Program: "nk-autologous", ProtocolVersion: "NK-AUTO-2026.1"})
		s.WaitConsumed(t, "INTAKE", "scheduling_course_requested")
		return id
	}
	overtaken := request(withdrawnAt.Add(-time.Minute))
	require.Equal(t, "cancelled", countString(t, s, `SELECT status FROM courses WHERE id = $1`, overtaken))
	require.Equal(t, 0, s.Count(t, `SELECT count(*) FROM appointments WHERE course_id = $1`, overtaken))
	again := request(withdrawnAt.Add(time.Minute)) // consented again, then requested
	require.Equal(t, "planned", countString(t, s, `SELECT status FROM courses WHERE id = $1`, again))
}
