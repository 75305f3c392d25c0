package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

// StandaloneWriter schedules reminders about no visit, in the event
// handler's transaction.
type StandaloneWriter interface {
	// ScheduleStandalone inserts each reminder and its durable job unless
	// one of the same key (subject, kind, step) exists: a repeated event
	// changes nothing.
	ScheduleStandalone(ctx context.Context, rs []reminder.Standalone) error
	// CloseStandalone ends the reminder of key's (subject, kind, step)
	// that has not gone out: cancelled with its job, with reason. When there
	// is none yet, the key is stored cancelled, so the event that would
	// schedule it, arriving late, schedules nothing.
	CloseStandalone(ctx context.Context, key reminder.Standalone, reason string) error
}

// Standalone turns billing's overdue invoices and scheduling's completed
// courses into reminders about no visit.
type Standalone struct {
	// FollowUpMonths: long-term follow-up this many months after a course
	// is completed.
	FollowUpMonths []int
	// Location is the clinic's zone: "3 months later" is on its calendar.
	Location *time.Location
}

// InvoiceOverdue schedules the invoice's payment reminder, due at once.
func (h Standalone) InvoiceOverdue(ctx context.Context, w StandaloneWriter, invoice, patient uuid.UUID, number string,
	due reminder.Money, at time.Time) error {
	r, err := reminder.Payment(invoice, patient, number, due, at)
	if err != nil {
		return err
	}
	return w.ScheduleStandalone(ctx, []reminder.Standalone{r})
}

// InvoiceSettled drops the invoice's payment reminder once billing says
// it is paid or voided (reason): nothing is owed any more, even when the
// settlement's event arrives before the overdue one.
func (h Standalone) InvoiceSettled(ctx context.Context, w StandaloneWriter, invoice, patient uuid.UUID, reason string, at time.Time) error {
	return w.CloseStandalone(ctx, reminder.Standalone{Kind: reminder.KindPayment, Subject: invoice, PatientID: patient, DueAt: at}, reason)
}

// CourseCompleted schedules the course's long-term follow-up reminders. A
// completed course is never held or cancelled afterwards, so nothing drops
// them.
func (h Standalone) CourseCompleted(ctx context.Context, w StandaloneWriter, course, patient uuid.UUID, at time.Time) error {
	loc := h.Location
	if loc == nil {
		loc = time.UTC
	}
	rs, err := reminder.FollowUps(h.FollowUpMonths, course, patient, at, loc)
	if err != nil {
		return err
	}
	return w.ScheduleStandalone(ctx, rs)
}
