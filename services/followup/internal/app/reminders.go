package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

// VisitWriter keeps the visits and course states follow-up knows from
// scheduling, and the reminders (durable jobs) that follow from them.
// Every method runs in the event handler's transaction, so a visit and its
// reminders change together or not at all.
type VisitWriter interface {
	// SaveVisit stores v unless a newer or equal version is stored; applied
	// is false when it changed nothing (a stale or repeated event).
	SaveVisit(ctx context.Context, v reminder.Visit) (applied bool, err error)
	// SaveCourse stores a course's status unless a newer or equal version is
	// stored.
	SaveCourse(ctx context.Context, courseID uuid.UUID, status string, version int64, at time.Time) (applied bool, err error)
	// CourseStatus is the course's status (CourseActive when unknown).
	CourseStatus(ctx context.Context, courseID uuid.UUID) (string, error)
	// DropReminders cancels the visit's scheduled reminders and their jobs,
	// with the reason. A reminder in the middle of a send (claimed before
	// this transaction) is left to finish: its send was decided while the
	// visit was still as it was.
	DropReminders(ctx context.Context, appointmentID uuid.UUID, reason string) error
	// DropCourseReminders does the same for every visit of a course.
	DropCourseReminders(ctx context.Context, courseID uuid.UUID, reason string) error
	// ScheduleReminders inserts v's reminders and their durable jobs; a
	// reminder with the same key (appointment, occurrence start, kind) that
	// was cancelled is scheduled again, any other is left as it is.
	ScheduleReminders(ctx context.Context, v reminder.Visit, dues []reminder.Due) error
	// BookedVisits lists the course's booked visits starting after from.
	BookedVisits(ctx context.Context, courseID uuid.UUID, from time.Time) ([]reminder.Visit, error)
}

// Reminders turns scheduling's events into visits and reminders.
type Reminders struct {
	Rules []reminder.Rule
}

// VisitBooked handles a booking or a move (the new state of the visit,
// with the time the change happened): reminders for another start are
// dropped and those of the visit's start scheduled.
func (h Reminders) VisitBooked(ctx context.Context, repos Repositories, v reminder.Visit, at time.Time) error {
	if err := v.Validate(); err != nil {
		return err
	}
	w := repos.Visits()
	applied, err := w.SaveVisit(ctx, v)
	if err != nil || !applied {
		return err
	}
	if err := w.DropReminders(ctx, v.AppointmentID, reminder.ReasonMoved); err != nil {
		return err
	}
	return h.schedule(ctx, w, v, at)
}

// VisitCancelled drops the visit's reminders.
func (h Reminders) VisitCancelled(ctx context.Context, repos Repositories, v reminder.Visit) error {
	if err := v.Validate(); err != nil {
		return err
	}
	w := repos.Visits()
	v.Status = reminder.VisitCancelled
	applied, err := w.SaveVisit(ctx, v)
	if err != nil || !applied {
		return err
	}
	return w.DropReminders(ctx, v.AppointmentID, reminder.ReasonCancelled)
}

// CourseChanged records a course's new status: held or cancelled drops the
// reminders of its visits; resumed schedules again those of its booked
// visits still ahead (at is when it resumed).
func (h Reminders) CourseChanged(ctx context.Context, repos Repositories, courseID uuid.UUID, status string, version int64, at time.Time) error {
	w := repos.Visits()
	applied, err := w.SaveCourse(ctx, courseID, status, version, at)
	if err != nil || !applied {
		return err
	}
	switch status {
	case reminder.CourseOnHold:
		return w.DropCourseReminders(ctx, courseID, reminder.ReasonCourseOnHold)
	case reminder.CourseCancelled:
		return w.DropCourseReminders(ctx, courseID, reminder.ReasonCourseCancel)
	}
	visits, err := w.BookedVisits(ctx, courseID, at)
	if err != nil {
		return err
	}
	for _, v := range visits {
		if err := h.schedule(ctx, w, v, at); err != nil {
			return err
		}
	}
	return nil
}

func (h Reminders) schedule(ctx context.Context, w VisitWriter, v reminder.Visit, at time.Time) error {
	if v.CourseID != uuid.Nil {
		status, err := w.CourseStatus(ctx, v.CourseID)
		if err != nil {
			return err
		}
		if status != reminder.CourseActive {
			return nil
		}
	}
	return w.ScheduleReminders(ctx, v, reminder.Plan(h.Rules, v, at))
}

// ReminderFilter selects reminders; zero fields match all.
type ReminderFilter struct {
	PatientID, AppointmentID uuid.UUID
	Status                   reminder.Status
}

// ReminderView is a reminder as the API shows it. AppointmentID and
// VisitStart are zero for a reminder of no visit.
type ReminderView struct {
	ID, PatientID, AppointmentID uuid.UUID
	Kind                         string
	Channel                      string // "" until an attempt chose one
	DueAt, VisitStart            time.Time
	Status                       string
	Reason                       string
	SentAt                       *time.Time
	Attempts                     []AttemptView
}

// AttemptView is one delivery attempt.
type AttemptView struct {
	Attempt    int
	Channel    string
	Outcome    string // sending, sent, refused, failed, in_doubt, unknown
	Error      string
	StartedAt  time.Time
	FinishedAt *time.Time
}

// ReminderReader reads reminders.
type ReminderReader interface {
	List(ctx context.Context, f ReminderFilter) ([]ReminderView, error)
}
