// Package ports adapts billing's use cases to events and HTTP.
//
// # Event handlers
//
// The processor runs each handler inside the transaction that records the
// event as processed, and the handler gets billing's repositories bound
// to that transaction (app.Repositories from the factory service.New
// wires), never the transaction itself. The contract:
//   - A handler touches only billing's own database, through those
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

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/billing/internal/app"
)

// Events registers billing's event handlers.
func Events(p *messaging.Processor, repos Repositories, open app.OpenAccount, b *app.Billing) error {
	return errors.Join(
		handle(p, "patient_registered", repos,
			func(ctx context.Context, repos app.Repositories, ev messaging.Event[*intakev1.PatientRegistered]) error {
				id, err := uuid.Parse(ev.Body.GetPatientId())
				if err != nil {
					return messaging.Permanent(errors.New("patient_id is not a UUID"))
				}
				return open.Handle(ctx, repos, id, ev.Body.GetVersion(), ev.Body.GetOccurredAt().AsTime())
			}),
		handle(p, "course_planned", repos, func(ctx context.Context, repos app.Repositories, ev messaging.Event[*schedulingv1.CoursePlanned]) error {
			return OnCoursePlanned(ctx, repos, b, ev)
		}),
		handle(p, "culture_started", repos, func(ctx context.Context, repos app.Repositories, ev messaging.Event[*schedulingv1.CultureStarted]) error {
			course, err := uuid.Parse(ev.Body.GetProduct().GetCourseId())
			if err != nil {
				return messaging.Permanent(errors.New("product.course_id is not a UUID"))
			}
			return b.CultureStarted(ctx, repos, course, int(ev.Body.GetProduct().GetCycle()))
		}),
		handle(p, "appointment_completed", repos, func(ctx context.Context, repos app.Repositories, ev messaging.Event[*schedulingv1.AppointmentCompleted]) error {
			a := ev.Body.GetAppointment()
			if (a.GetKind() != "infusion" && a.GetKind() != "reinfusion") || a.GetCourseId() == "" {
				return nil // only an infusion of a course earns its cycle's share
			}
			course, err := uuid.Parse(a.GetCourseId())
			if err != nil {
				return messaging.Permanent(errors.New("appointment.course_id is not a UUID"))
			}
			return b.InfusionGiven(ctx, repos, course, int(a.GetCycle()))
		}),
		handle(p, "course_cancelled", repos, func(ctx context.Context, repos app.Repositories, ev messaging.Event[*schedulingv1.CourseCancelled]) error {
			course, err := uuid.Parse(ev.Body.GetCourseId())
			if err != nil {
				return messaging.Permanent(errors.New("course_id is not a UUID"))
			}
			return b.CourseCancelled(ctx, repos, course, ev.Body.GetVersion(), ev.Body.GetOccurredAt().AsTime())
		}),
		handle(p, "product_failed", repos, func(ctx context.Context, repos app.Repositories, ev messaging.Event[*schedulingv1.ProductFailed]) error {
			pr := ev.Body.GetProduct()
			course, err := uuid.Parse(pr.GetCourseId())
			if err != nil || ev.Body.GetProductId() == "" || pr.GetCycle() < 1 {
				return messaging.Permanent(errors.New("product_id, product.course_id (a UUID) and product.cycle (from 1) are required"))
			}
			return b.ProductFailed(ctx, repos, ev.Body.GetProductId(), course, int(pr.GetCycle()))
		}),
	)
}

// OnCoursePlanned invoices a course scheduling planned (the first plan
// only: a re-plan keeps the invoices). A course whose program or protocol
// version has no price list is dead-lettered: no retry can invoice it, and
// the DLQ shows it to a person.
func OnCoursePlanned(ctx context.Context, repos app.Repositories, b *app.Billing, ev messaging.Event[*schedulingv1.CoursePlanned]) error {
	e := ev.Body
	course, err1 := uuid.Parse(e.GetCourseId())
	patient, err2 := uuid.Parse(e.GetPatientId())
	if err1 != nil || err2 != nil {
		return messaging.Permanent(errors.New("course_id and patient_id must be UUIDs"))
	}
	cycles := make([]app.PlannedCycle, 0, len(e.GetCycles()))
	for _, cy := range e.GetCycles() {
		d, err := time.Parse(time.DateOnly, cy.GetTargetDate())
		if err != nil {
			return messaging.Permanent(fmt.Errorf("cycle %d target_date: %w", cy.GetCycle(), err))
		}
		cycles = append(cycles, app.PlannedCycle{Number: int(cy.GetCycle()), Phase: cy.GetPhase(), TargetDate: d})
	}
	c := app.Course{ID: course, PatientID: patient, Program: e.GetProgram(), ProtocolVersion: e.GetProtocolVersion(),
		Status: "planned", Version: e.GetVersion(), UpdatedAt: e.GetOccurredAt().AsTime()}
	err := b.CoursePlanned(ctx, repos, c, cycles, e.GetReplanned())
	if errors.Is(err, app.ErrNoPriceList) {
		return messaging.Permanent(err)
	}
	return err
}

// Repositories binds billing's repositories to an event handler's
// transaction (adapters.TxRepositories). It is the only place the handlers'
// side of ports meets the transaction.
type Repositories func(tx *sqlx.Tx) app.Repositories

// handle registers fn for events of type T, giving it the repositories bound
// to the processor's transaction.
func handle[T proto.Message](p *messaging.Processor, name string, repos Repositories,
	fn func(context.Context, app.Repositories, messaging.Event[T]) error) error {
	return messaging.Handle(p, name, func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[T]) error {
		return fn(ctx, repos(tx), ev)
	})
}
