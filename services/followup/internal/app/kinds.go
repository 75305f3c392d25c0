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
