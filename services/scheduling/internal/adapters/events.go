package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/appointment"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
)

// writeEvents writes the events an aggregate recorded to tx's outbox, in
// the order recorded. Every repository uses it, so domain events become
// protobuf in one place (toProto) and only ever inside the transaction
// that stores the aggregate.
func writeEvents[E any](ctx context.Context, tx *sqlx.Tx, outbox *messaging.Outbox, events []E) error {
	for _, ev := range events {
		aggregateID, msg, err := toProto(ev)
		if err != nil {
			return err
		}
		if entry, ok := timelineOf(ev, msg); ok {
			if err := addToTimeline(ctx, tx, entry); err != nil {
				return err
			}
		}
		if msg == nil {
			continue
		}
		if err := outbox.Publish(ctx, tx, aggregateID, msg); err != nil {
			return err
		}
	}
	return nil
}

// productEvent is a product event with its course's program, which the
// product itself does not know.
type productEvent struct {
	product.Event
	program string
}

func withProgram(events []product.Event, program string) []productEvent {
	out := make([]productEvent, len(events))
	for i, e := range events {
		out[i] = productEvent{e, program}
	}
	return out
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func toAppointment(s appointment.Snapshot) *schedulingv1.Appointment {
	d := s.Details
	out := &schedulingv1.Appointment{AppointmentId: d.ID.String(), PatientId: d.PatientID.String(), Program: d.Program,
		Kind: d.Kind, ResourceId: d.ResourceID.String(), ResourceKind: d.ResourceKind, Start: ts(d.Start), End: ts(d.End),
		PatientPresent: d.PatientPresent, ProductId: wireDIN(d.ProductID), Cycle: int32(d.Cycle)} //nolint:gosec // cycles are few
	if d.CourseID.String() != "00000000-0000-0000-0000-000000000000" {
		out.CourseId = d.CourseID.String()
	}
	return out
}

// wireDIN is a stored product id (the DIN without its check character) as
// the events carry it: with its check character, as the API answers it and
// the bedside scanner reads it, so consumers can match the two. Anything
// that is not a DIN is passed on as it is.
func wireDIN(stored string) string {
	d, err := product.ParseDIN(stored)
	if err != nil {
		return stored
	}
	return d.String() + string(d.Check())
}

func toProduct(id, patient, courseID string, cycle int, program, source string) *schedulingv1.Product {
	return &schedulingv1.Product{ProductId: id, PatientId: patient, CourseId: courseID, Cycle: int32(cycle), //nolint:gosec // cycles are few
		Program: program, Source: source}
}

// toProto maps a domain event to its wire message and the id of the
// aggregate it is about (ce-subject). A nil message is an event that stays
// inside scheduling (a product's collection and allocation are announced
// by the appointment events).
func toProto(ev any) (aggregateID string, msg proto.Message, err error) {
	switch e := ev.(type) {
	case course.PlannedEvent:
		c := e.Course
		cycles := make([]*schedulingv1.PlannedCycle, len(e.Cycles))
		for i, cy := range e.Cycles {
			cycles[i] = &schedulingv1.PlannedCycle{Cycle: int32(cy.Number), Phase: cy.Phase, //nolint:gosec // cycles are few
				TargetDate: cy.TargetDate.Format(time.DateOnly), Status: string(cy.Status)}
		}
		return c.ID.String(), &schedulingv1.CoursePlanned{CourseId: c.ID.String(), Version: c.Version, OccurredAt: ts(c.At),
			PatientId: c.PatientID.String(), Program: c.Program, ProtocolVersion: c.ProtocolVersion, Cycles: cycles,
			DoseCells: e.DoseCells, Replanned: e.Replanned, Reason: e.Reason}, nil
	case course.UnplannedEvent:
		c := e.Course
		return c.ID.String(), &schedulingv1.CourseUnplanned{CourseId: c.ID.String(), Version: c.Version, OccurredAt: ts(c.At),
			PatientId: c.PatientID.String(), Program: c.Program, Reason: e.Reason, Detail: e.Detail}, nil
	case course.HeldEvent:
		c := e.Course
		return c.ID.String(), &schedulingv1.CourseOnHold{CourseId: c.ID.String(), Version: c.Version, OccurredAt: ts(c.At),
			PatientId: c.PatientID.String(), Program: c.Program, Reason: e.Reason, PreviousStatus: string(e.PreviousStatus)}, nil
	case course.ResumedEvent:
		c := e.Course
		return c.ID.String(), &schedulingv1.CourseResumed{CourseId: c.ID.String(), Version: c.Version, OccurredAt: ts(c.At),
			PatientId: c.PatientID.String(), Program: c.Program, Status: string(e.Status)}, nil
	case course.CompletedEvent:
		c := e.Course
		return c.ID.String(), &schedulingv1.CourseCompleted{CourseId: c.ID.String(), Version: c.Version, OccurredAt: ts(c.At),
			PatientId: c.PatientID.String(), Program: c.Program, Infusions: int32(e.Infusions)}, nil //nolint:gosec // few
	case course.FundedEvent:
		return "", nil, nil
	case course.CancelledEvent:
		c := e.Course
		return c.ID.String(), &schedulingv1.CourseCancelled{CourseId: c.ID.String(), Version: c.Version, OccurredAt: ts(c.At),
			PatientId: c.PatientID.String(), Program: c.Program, Reason: e.Reason, PreviousStatus: string(e.PreviousStatus),
			CultureStarted: e.CultureStarted, InfusionsGiven: int32(e.InfusionsGiven)}, nil //nolint:gosec // few
	case appointment.BookedEvent:
		a := e.Appointment
		return a.ID.String(), &schedulingv1.AppointmentBooked{AppointmentId: a.ID.String(), Version: a.Version,
			OccurredAt: ts(a.At), Appointment: toAppointment(a)}, nil
	case appointment.RescheduledEvent:
		a := e.Appointment
		return a.ID.String(), &schedulingv1.AppointmentRescheduled{AppointmentId: a.ID.String(), Version: a.Version,
			OccurredAt: ts(a.At), Appointment: toAppointment(a), PreviousStart: ts(e.PreviousStart), PreviousEnd: ts(e.PreviousEnd)}, nil
	case appointment.CancelledEvent:
		a := e.Appointment
		return a.ID.String(), &schedulingv1.AppointmentCancelled{AppointmentId: a.ID.String(), Version: a.Version,
			OccurredAt: ts(a.At), Appointment: toAppointment(a), Reason: e.Reason, Suspended: e.Suspended}, nil
	case appointment.CheckedInEvent:
		a := e.Appointment
		return a.ID.String(), &schedulingv1.AppointmentCheckedIn{AppointmentId: a.ID.String(), Version: a.Version,
			OccurredAt: ts(a.At), Appointment: toAppointment(a)}, nil
	case appointment.CompletedEvent:
		a := e.Appointment
		return a.ID.String(), &schedulingv1.AppointmentCompleted{AppointmentId: a.ID.String(), Version: a.Version,
			OccurredAt: ts(a.At), Appointment: toAppointment(a), DoseCells: e.DoseCells, LastInfusion: e.LastInfusion}, nil
	case appointment.MissedEvent:
		a := e.Appointment
		return a.ID.String(), &schedulingv1.AppointmentMissed{AppointmentId: a.ID.String(), Version: a.Version,
			OccurredAt: ts(a.At), Appointment: toAppointment(a), NoShow: e.NoShow}, nil
	case appointment.InfusionBlockedEvent:
		a := e.Appointment
		return a.ID.String(), &schedulingv1.InfusionBlocked{AppointmentId: a.ID.String(), Version: a.Version,
			OccurredAt: ts(a.At), Appointment: toAppointment(a), ScannedProductId: e.Scanned, Reason: e.Reason}, nil
	case productEvent:
		return productToProto(e)
	}
	return "", nil, fmt.Errorf("no wire message for domain event %T", ev)
}

func productToProto(pe productEvent) (string, proto.Message, error) {
	switch e := pe.Event.(type) {
	case product.CultureStarted:
		id := wireDIN(e.DIN.String())
		return id, &schedulingv1.CultureStarted{ProductId: id, Version: e.Version, OccurredAt: ts(e.At),
			Product:   toProduct(id, e.PatientID.String(), e.CourseID.String(), e.Cycle, pe.program, "autologous"),
			StartedAt: ts(e.At)}, nil
	case product.Released:
		id := wireDIN(e.DIN.String())
		return id, &schedulingv1.ProductReleased{ProductId: id, Version: e.Version, OccurredAt: ts(e.At),
			Product:    toProduct(id, e.PatientID.String(), e.CourseID.String(), e.Cycle, pe.program, "autologous"),
			ReleasedAt: ts(e.At), ExpiresAt: ts(e.ExpiresAt), ViabilityPct: e.QC.ViabilityPct, PurityPct: e.QC.PurityPct,
			EndotoxinEuPerMl: e.QC.EndotoxinEUPerML}, nil
	case product.Failed:
		id := wireDIN(e.DIN.String())
		return id, &schedulingv1.ProductFailed{ProductId: id, Version: e.Version, OccurredAt: ts(e.At),
			Product: toProduct(id, e.PatientID.String(), e.CourseID.String(), e.Cycle, pe.program, "autologous"),
			Reason:  e.Reason}, nil
	case product.Collected, product.Allocated, product.Infused, product.LotRegistered:
		return "", nil, nil
	}
	return "", nil, fmt.Errorf("no wire message for product event %T", pe.Event)
}
