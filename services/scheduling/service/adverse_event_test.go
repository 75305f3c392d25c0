package service_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	followupv1 "github.com/clinicops/clinicops/pkg/events/clinicops/followup/v1"
)

func adverseEvent(courseID, patientID string, grade int32) *followupv1.AdverseEventReported {
	return &followupv1.AdverseEventReported{AdverseEventId: uuid.NewString(), Version: 1, OccurredAt: timestamppb.Now(),
		PatientId: patientID, CourseId: courseID, Term: "Cytokine release syndrome", Scale: "ASTCT", Grade: grade,
		OnsetAt: timestamppb.Now(), Serious: true}
}

// TestAdverseEventHoldsTheCourseAndSuspendsItsInfusions is the safety hold
// on scheduling's side: followup's AdverseEventReported (grade 3 or more)
// puts the course on hold and suspends its upcoming infusion, once however
// often it is delivered; a second adverse event of a held course changes
// nothing, nor does one for a cancelled course.
func TestAdverseEventHoldsTheCourseAndSuspendsItsInfusions(t *testing.T) {
	t.Parallel()
	s := startScheduling(t)
	courseID, patientID := requestCourse(t, s, "nk-autologous", "NK-AUTO-2026.1")
	cancelledID, other := requestCourse(t, s, "nk-autologous", "NK-AUTO-2026.1")
	s.WaitConsumed(t, "INTAKE", "scheduling_course_requested")
	require.Equal(t, "planned", countString(t, s, `SELECT status FROM courses WHERE id = $1`, courseID))
	s.Publish(t, "intake", cancelledID, cancellation(cancelledID, other, 2))
	s.WaitConsumed(t, "INTAKE", "scheduling_course_cancellation_requested")

	ae := s.Publish(t, "followup", courseID, adverseEvent(courseID, patientID, 3))
	s.Republish(t, ae)
	s.Publish(t, "followup", courseID, adverseEvent(courseID, patientID, 4)) // a second event while held
	s.Publish(t, "followup", cancelledID, adverseEvent(cancelledID, other, 3))
	s.WaitConsumed(t, "FOLLOWUP", "scheduling_adverse_event_reported")

	require.Equal(t, "on_hold", countString(t, s, `SELECT status FROM courses WHERE id = $1`, courseID))
	require.Contains(t, countString(t, s, `SELECT reason FROM courses WHERE id = $1`, courseID), "adverse_event:")
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM appointments WHERE course_id = $1 AND kind = 'infusion' AND status = 'suspended'`, courseID))
	require.Equal(t, 0, s.Count(t, `SELECT count(*) FROM appointments WHERE course_id = $1 AND kind = 'infusion' AND status = 'booked'`, courseID))
	require.Equal(t, 1, published(t, s, "clinicops.scheduling.v1.CourseOnHold"), "held once")
	require.Equal(t, "cancelled", countString(t, s, `SELECT status FROM courses WHERE id = $1`, cancelledID))
}

// TestAdverseEventBelowGradeThreeHoldsNothing: only grade 3 or higher holds.
func TestAdverseEventBelowGradeThreeHoldsNothing(t *testing.T) {
	t.Parallel()
	s := startScheduling(t)
	courseID, patientID := requestCourse(t, s, "nk-autologous", "NK-AUTO-2026.1")
	s.WaitConsumed(t, "INTAKE", "scheduling_course_requested")
	s.Publish(t, "followup", courseID, adverseEvent(courseID, patientID, 2))
	s.WaitConsumed(t, "FOLLOWUP", "scheduling_adverse_event_reported")
	require.Equal(t, "planned", countString(t, s, `SELECT status FROM courses WHERE id = $1`, courseID))
	require.Equal(t, 0, published(t, s, "clinicops.scheduling.v1.CourseOnHold"))
}
