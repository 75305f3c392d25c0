// Package ports adapts scheduling's use cases to events and HTTP.
//
// # Event handlers
//
// The processor runs each handler inside the transaction that records the
// event as processed, and the handler gets scheduling's repositories bound
// to that transaction (app.Repositories from the factory service.New
// wires), never the transaction itself. The contract:
//   - A handler touches only scheduling's own database, through those
//     repositories; events it causes go to the outbox through them, in the
//     same transaction.
//   - Anything that talks to the outside world (e-mail, SMS, a webhook,
//     another service's API) is a durable job written through the
//     repositories and run after commit, never a call inside the handler:
//     the transaction may still roll back and the event be redelivered, and
//     a message sent cannot be taken back.
//   - A handler may run more than once for one event (at-least-once
//     delivery): the processor skips an event id already processed, and the
//     repositories ignore a stale or repeated aggregate version.
//   - Bad input no retry can fix is messaging.Permanent, so the event goes
//     to the dead-letter stream at once.
package ports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	followupv1 "github.com/clinicops/clinicops/pkg/events/clinicops/followup/v1"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/patientref"
)

// Repositories binds scheduling's repositories to an event handler's
// transaction (adapters.TxRepositories). It is the only place the handlers'
// side of ports meets the transaction.
type Repositories func(tx *sqlx.Tx) app.Repositories

// Events registers scheduling's event handlers.
func Events(p *messaging.Processor, repos Repositories, s *app.Scheduling) error {
	h := handlers{s: s}
	return errors.Join(
		handle(p, "patient_registered", repos, OnPatientRegistered),
		handle(p, "patient_updated", repos, OnPatientUpdated),
		handle(p, "course_requested", repos, h.OnCourseRequested),
		handle(p, "course_cancellation_requested", repos, h.OnCourseCancellationRequested),
		handle(p, "consent_withdrawn", repos, h.OnConsentWithdrawn),
		handle(p, "deposit_paid", repos, h.OnDepositPaid),
		handle(p, "adverse_event_reported", repos, h.OnAdverseEventReported),
	)
}

type handlers struct{ s *app.Scheduling }

// OnCourseRequested plans the course: its first cycle's chain booked all
// or nothing, or the course unplanned with the reason. A repeated event
// changes nothing (the course exists).
func (h handlers) OnCourseRequested(ctx context.Context, repos app.Repositories, ev messaging.Event[*intakev1.CourseRequested]) error {
	b := ev.Body
	id, err1 := uuid.Parse(b.GetCourseId())
	patientID, err2 := uuid.Parse(b.GetPatientId())
	if err1 != nil || err2 != nil {
		return messaging.Permanent(fmt.Errorf("course_id and patient_id must be UUIDs"))
	}
	r := course.Request{ID: id, PatientID: patientID, Program: b.GetProgram(), ProtocolVersion: b.GetProtocolVersion(),
		IntakeVersion: b.GetVersion(), RequestedAt: b.GetOccurredAt().AsTime()}
	if ps := b.GetPreferredStart(); ps != "" {
		d, err := time.Parse(time.DateOnly, ps)
		if err != nil {
			return messaging.Permanent(fmt.Errorf("preferred_start: %w", err))
		}
		r.PreferredStart = d
	}
	if r.Program == "" || r.ProtocolVersion == "" {
		return messaging.Permanent(fmt.Errorf("program and protocol_version are required"))
	}
	return h.s.PlanCourse(ctx, repos, r)
}

// OnCourseCancellationRequested cancels the course and its future
// appointments. One already cancelled changes nothing; one scheduling has
// not heard of yet is kept cancelled, so its late CourseRequested plans
// nothing.
func (h handlers) OnCourseCancellationRequested(ctx context.Context, repos app.Repositories, ev messaging.Event[*intakev1.CourseCancellationRequested]) error {
	id, err1 := uuid.Parse(ev.Body.GetCourseId())
	patientID, err2 := uuid.Parse(ev.Body.GetPatientId())
	if err1 != nil || err2 != nil {
		return messaging.Permanent(fmt.Errorf("course_id and patient_id must be UUIDs"))
	}
	return h.s.CancelRequested(ctx, repos, id, patientID, ev.Body.GetVersion())
}

// OnConsentWithdrawn cancels the patient's courses of the program when the
// treatment consent is withdrawn; other consent kinds are not
// scheduling's.
func (h handlers) OnConsentWithdrawn(ctx context.Context, repos app.Repositories, ev messaging.Event[*intakev1.ConsentWithdrawn]) error {
	b := ev.Body
	if b.GetKind() != "treatment" {
		return nil
	}
	patientID, err1 := uuid.Parse(b.GetPatientId())
	consentID, err2 := uuid.Parse(b.GetConsentId())
	if err1 != nil || err2 != nil {
		return messaging.Permanent(fmt.Errorf("patient_id and consent_id must be UUIDs"))
	}
	return h.s.WithdrawConsent(ctx, repos, consentID, patientID, b.GetProgram(), b.GetOccurredAt().AsTime())
}

// OnDepositPaid funds the course: its culture may start (the funding
// gate). A repeated event changes nothing.
func (h handlers) OnDepositPaid(ctx context.Context, repos app.Repositories, ev messaging.Event[*billingv1.DepositPaid]) error {
	id, err := uuid.Parse(ev.Body.GetCourseId())
	if err != nil {
		return messaging.Permanent(fmt.Errorf("course_id is not a UUID"))
	}
	return h.s.Fund(ctx, repos, id)
}

// OnAdverseEventReported is the safety hold: an adverse event of grade 3
// or higher puts its course on hold at once and suspends the course's
// upcoming infusions (app.Scheduling.Hold, which publishes CourseOnHold and
// AppointmentSuspended), until a clinician resumes it. A course already on
// hold stays as it is (a redelivered or second adverse event changes
// nothing); a course already completed or cancelled has nothing left to
// hold. A course scheduling does not know is dead-lettered, where staff see
// it, rather than retried for ever.
func (h handlers) OnAdverseEventReported(ctx context.Context, repos app.Repositories, ev messaging.Event[*followupv1.AdverseEventReported]) error {
	b := ev.Body
	if b.GetGrade() < 3 {
		return nil // followup publishes grade 3 and above only; a lower grade holds nothing
	}
	id, err := uuid.Parse(b.GetCourseId())
	if err != nil {
		return messaging.Permanent(fmt.Errorf("course_id is not a UUID"))
	}
	_, err = h.s.Hold(ctx, repos, id, "adverse_event:"+b.GetAdverseEventId())
	switch {
	case errors.Is(err, course.ErrState):
		return nil
	case errors.Is(err, course.ErrNotFound):
		return messaging.Permanent(fmt.Errorf("adverse event %s: course %s: %w", b.GetAdverseEventId(), id, err))
	case err != nil:
		return fmt.Errorf("hold course %s after adverse event %s: %w", id, b.GetAdverseEventId(), err)
	}
	return nil
}

// handle registers fn for events of type T, giving it the repositories bound
// to the processor's transaction.
func handle[T proto.Message](p *messaging.Processor, name string, repos Repositories,
	fn func(context.Context, app.Repositories, messaging.Event[T]) error) error {
	return messaging.Handle(p, name, func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[T]) error {
		return fn(ctx, repos(tx), ev)
	})
}

// OnPatientRegistered records the patient reference.
func OnPatientRegistered(ctx context.Context, repos app.Repositories, ev messaging.Event[*intakev1.PatientRegistered]) error {
	b := ev.Body
	return recordPatient(ctx, repos, b.GetPatientId(), b.GetFamilyName(), b.GetGivenName(), b.GetBirthDate(), b.GetVersion(), b.GetOccurredAt())
}

// OnPatientUpdated keeps the reference current; a stale version changes nothing.
func OnPatientUpdated(ctx context.Context, repos app.Repositories, ev messaging.Event[*intakev1.PatientUpdated]) error {
	b := ev.Body
	return recordPatient(ctx, repos, b.GetPatientId(), b.GetFamilyName(), b.GetGivenName(), b.GetBirthDate(), b.GetVersion(), b.GetOccurredAt())
}

func recordPatient(ctx context.Context, repos app.Repositories, patientID, family, given, birthDate string, version int64, at *timestamppb.Timestamp) error {
	id, err := uuid.Parse(patientID)
	if err != nil {
		return messaging.Permanent(fmt.Errorf("patient_id is not a UUID"))
	}
	birth, err := time.Parse(time.DateOnly, birthDate)
	if err != nil {
		return messaging.Permanent(fmt.Errorf("birth_date: %w", err))
	}
	ref, err := patientref.NewPatient(id, family, given, birth, version, at.AsTime())
	if err != nil {
		return messaging.Permanent(err)
	}
	return app.RecordPatient{}.Handle(ctx, repos, ref)
}
