package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/service"
)

// TestPlannedCourseIsInvoicedOverEvents drives billing as scheduling
// would: a CoursePlanned (redelivered, then re-planned) becomes six
// InvoiceIssued on the BILLING stream, once; a course of a program without
// a price list goes to the dead-letter stream.
func TestPlannedCourseIsInvoicedOverEvents(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	require.NoError(t, service.Service.Seed(context.Background(), s.Runtime))
	patient, course := uuid.NewString(), uuid.NewString()
	s.Publish(t, "intake", patient, &intakev1.PatientRegistered{PatientId: patient, Version: 1, OccurredAt: timestamppb.Now()})
	s.WaitConsumed(t, "INTAKE", "billing_patient_registered")
	cycles := []*schedulingv1.PlannedCycle{}
	for i, ph := range []string{"initial", "initial", "initial", "consolidation", "consolidation", "maintenance"} {
		cycles = append(cycles, &schedulingv1.PlannedCycle{Cycle: int32(i + 1), Phase: ph, //nolint:gosec // six
			TargetDate: time.Now().AddDate(0, i, 14).Format(time.DateOnly), Status: "planned"})
	}
	planned := func(version int64, replanned bool) *schedulingv1.CoursePlanned {
		return &schedulingv1.CoursePlanned{CourseId: course, Version: version, OccurredAt: timestamppb.Now(), PatientId: patient,
			Program: "nk-autologous", ProtocolVersion: "NK-AUTO-2026.1", Cycles: cycles, DoseCells: 100_000_000, Replanned: replanned}
	}
	first := s.Publish(t, "scheduling", course, planned(1, false))
	s.Republish(t, first)
	s.Publish(t, "scheduling", course, planned(2, true))
	unpriced := uuid.NewString()
	bad := planned(1, false)
	bad.CourseId, bad.Program = unpriced, "no-such-program"
	s.Publish(t, "scheduling", unpriced, bad)
	s.WaitConsumed(t, "SCHEDULING", "billing_course_planned")

	require.Equal(t, 6, s.Count(t, `SELECT count(*) FROM invoices WHERE course_id = $1`, course))
	testharness.Eventually(t, 10*time.Second, func() bool { return s.Count(t, `SELECT count(*) FROM outbox`) == 0 }, "outbox drained")
	stream, err := s.NATS.JS.Stream(t.Context(), "BILLING")
	require.NoError(t, err)
	info, err := stream.Info(t.Context(), jetstream.WithSubjectFilter("clinicops.billing.v1.InvoiceIssued"))
	require.NoError(t, err)
	require.EqualValues(t, 6, info.State.Subjects["clinicops.billing.v1.InvoiceIssued"])
	dlq, err := s.NATS.JS.Stream(t.Context(), "DLQ")
	require.NoError(t, err)
	require.EqualValues(t, 1, dlq.CachedInfo().State.Msgs, "the course without a price list")
}

// TestClinicalMilestonesRecogniseRevenue: scheduling's CultureStarted and
// an infusion's AppointmentCompleted (each redelivered) earn the lab fee
// and the cycle's share once; a completed draw earns nothing.
func TestClinicalMilestonesRecogniseRevenue(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	require.NoError(t, service.Service.Seed(context.Background(), s.Runtime))
	patient, course := uuid.NewString(), uuid.NewString()
	s.Publish(t, "intake", patient, &intakev1.PatientRegistered{PatientId: patient, Version: 1, OccurredAt: timestamppb.Now()})
	s.WaitConsumed(t, "INTAKE", "billing_patient_registered")
	var cycles []*schedulingv1.PlannedCycle
	for i, ph := range []string{"initial", "initial", "initial", "consolidation", "consolidation", "maintenance"} {
		cycles = append(cycles, &schedulingv1.PlannedCycle{Cycle: int32(i + 1), Phase: ph, //nolint:gosec // six
			TargetDate: time.Now().AddDate(0, i, 14).Format(time.DateOnly), Status: "planned"})
	}
	s.Publish(t, "scheduling", course, &schedulingv1.CoursePlanned{CourseId: course, Version: 1, OccurredAt: timestamppb.Now(),
		PatientId: patient, Program: "nk-autologous", ProtocolVersion: "NK-AUTO-2026.1", Cycles: cycles})
	s.WaitConsumed(t, "SCHEDULING", "billing_course_planned")
	din := "G123426000001Y"
	culture := s.Publish(t, "scheduling", din, &schedulingv1.CultureStarted{ProductId: din, Version: 2, OccurredAt: timestamppb.Now(),
		Product: &schedulingv1.Product{ProductId: din, PatientId: patient, CourseId: course, Cycle: 1, Program: "nk-autologous", Source: "autologous"}})
	s.Republish(t, culture)
	appt := func(kind string) *schedulingv1.AppointmentCompleted {
		id := uuid.NewString()
		return &schedulingv1.AppointmentCompleted{AppointmentId: id, Version: 3, OccurredAt: timestamppb.Now(),
			Appointment: &schedulingv1.Appointment{AppointmentId: id, CourseId: course, Cycle: 1, PatientId: patient, Kind: kind}}
	}
	s.Publish(t, "scheduling", uuid.NewString(), appt("draw"))
	infusion := s.Publish(t, "scheduling", uuid.NewString(), appt("infusion"))
	s.Republish(t, infusion)
	s.WaitConsumed(t, "SCHEDULING", "billing_culture_started")
	s.WaitConsumed(t, "SCHEDULING", "billing_appointment_completed")
	require.Equal(t, 2, s.Count(t, `SELECT count(*) FROM recognitions WHERE course_id = $1`, course))
	require.Equal(t, 866_667, s.Count(t, `SELECT sum(amount)::int FROM recognitions WHERE course_id = $1`, course))
}
