package ports

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

// StandaloneWriters gives the writer of reminders about no visit bound to
// the processor's transaction.
type StandaloneWriters func(tx *sqlx.Tx) app.StandaloneWriter

// StandaloneEvents registers the handlers of the events that make
// reminders about no visit: billing's InvoiceOverdue (a payment reminder)
// and scheduling's CourseCompleted (long-term follow-up). Both are
// idempotent twice over: by event id in the processor, and by the
// reminder's key (subject, kind, step).
func StandaloneEvents(p *messaging.Processor, w StandaloneWriters, h app.Standalone) error {
	return errors.Join(
		messaging.Handle(p, "invoice_overdue", func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*billingv1.InvoiceOverdue]) error {
			return OnInvoiceOverdue(h)(ctx, w(tx), ev)
		}),
		messaging.Handle(p, "invoice_paid", func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*billingv1.InvoicePaid]) error {
			return onInvoiceSettled(ctx, h, w(tx), ev.Body.GetInvoiceId(), ev.Body.GetPatientId(), reminder.ReasonInvoicePaid, ev.Body.GetOccurredAt())
		}),
		messaging.Handle(p, "invoice_voided", func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*billingv1.InvoiceVoided]) error {
			return onInvoiceSettled(ctx, h, w(tx), ev.Body.GetInvoiceId(), ev.Body.GetPatientId(), reminder.ReasonInvoiceVoided, ev.Body.GetOccurredAt())
		}),
		messaging.Handle(p, "course_completed", func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*schedulingv1.CourseCompleted]) error {
			return OnCourseCompleted(h)(ctx, w(tx), ev)
		}),
	)
}

// OnInvoiceOverdue schedules the invoice's payment reminder.
func OnInvoiceOverdue(h app.Standalone) func(context.Context, app.StandaloneWriter, messaging.Event[*billingv1.InvoiceOverdue]) error {
	return func(ctx context.Context, w app.StandaloneWriter, ev messaging.Event[*billingv1.InvoiceOverdue]) error {
		b := ev.Body
		invoice, err1 := uuid.Parse(b.GetInvoiceId())
		patient, err2 := uuid.Parse(b.GetPatientId())
		if err1 != nil || err2 != nil || b.GetOccurredAt() == nil {
			return messaging.Permanent(errors.New("invoice_id or patient_id is not a UUID, or occurred_at missing"))
		}
		due := reminder.Money{Minor: b.GetAmountDue().GetValue(), Currency: b.GetAmountDue().GetCurrency()}
		return permanentIfInvalidReminder(h.InvoiceOverdue(ctx, w, invoice, patient, b.GetNumber(), due, b.GetOccurredAt().AsTime()))
	}
}

// onInvoiceSettled drops the payment reminder of an invoice paid or voided.
func onInvoiceSettled(ctx context.Context, h app.Standalone, w app.StandaloneWriter, invoiceID, patientID, reason string,
	at *timestamppb.Timestamp) error {
	invoice, err1 := uuid.Parse(invoiceID)
	patient, err2 := uuid.Parse(patientID)
	if err1 != nil || err2 != nil || at == nil {
		return messaging.Permanent(errors.New("invoice_id or patient_id is not a UUID, or occurred_at missing"))
	}
	return h.InvoiceSettled(ctx, w, invoice, patient, reason, at.AsTime())
}

// OnCourseCompleted schedules the course's long-term follow-up.
func OnCourseCompleted(h app.Standalone) func(context.Context, app.StandaloneWriter, messaging.Event[*schedulingv1.CourseCompleted]) error {
	return func(ctx context.Context, w app.StandaloneWriter, ev messaging.Event[*schedulingv1.CourseCompleted]) error {
		course, err1 := uuid.Parse(ev.Body.GetCourseId())
		patient, err2 := uuid.Parse(ev.Body.GetPatientId())
		if err1 != nil || err2 != nil || ev.Body.GetOccurredAt() == nil {
			return messaging.Permanent(errors.New("course_id or patient_id is not a UUID, or occurred_at missing"))
		}
		return permanentIfInvalidReminder(h.CourseCompleted(ctx, w, course, patient, ev.Body.GetOccurredAt().AsTime()))
	}
}

func permanentIfInvalidReminder(err error) error {
	if errors.Is(err, reminder.ErrInvalidReminder) {
		return messaging.Permanent(err)
	}
	return err
}
