package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/services/followup/internal/domain/adverse"
	"github.com/clinicops/clinicops/services/followup/internal/domain/checkin"
	"github.com/clinicops/clinicops/services/followup/internal/domain/outcome"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

// Clinical holds the use cases after an infusion: check-ins and their
// escalations, adverse events, outcome scores. Each method runs inside
// the transaction its repositories are bound to (an event handler's, a
// request's or a job's).
type Clinical struct {
	Clock clock.Clock
	// Location is the clinic's zone: a check-in is due by the end of its
	// day there.
	Location *time.Location
	// CheckInDays are the days after an infusion its check-ins are due,
	// by program; "" is the default for programs not listed.
	// AppointmentCompleted does not carry the protocol's days, so they
	// come from configuration (FOLLOWUP_CHECKIN_DAYS and
	// FOLLOWUP_CHECKIN_DAYS_BY_PROGRAM).
	CheckInDays map[string][]int
	// CheckInAt is when on its day a check-in's reminder goes to the
	// patient (FOLLOWUP_CHECKIN_REMIND_AT, default 09:00); negative: none.
	CheckInAt time.Duration
}

// Infusion is a completed infusion as scheduling announced it.
type Infusion struct {
	AppointmentID uuid.UUID
	PatientID     uuid.UUID
	CourseID      uuid.UUID // uuid.Nil for an infusion outside a course
	Cycle         int
	Program       string
	// ProductID is the ISBT 128 DIN with its check character.
	ProductID string
	InfusedAt time.Time
	Version   int64
}

// Escalation is a check-in's call for the on-call clinician.
type Escalation struct {
	ID        uuid.UUID
	CheckInID uuid.UUID
	PatientID uuid.UUID
	CourseID  uuid.UUID
	ProductID string
	checkin.Assessment
	Status   string // "open" or "closed"
	RaisedAt time.Time
	Version  int64
}

// Recipient is one patient who received a product.
type Recipient struct {
	PatientID     uuid.UUID
	CourseID      uuid.UUID
	AppointmentID uuid.UUID
	Cycle         int
	InfusedAt     time.Time
}

// Alert kinds (Message.Kind of what the on-call clinician receives).
const (
	AlertEscalation   = "escalation"
	AlertAdverseEvent = "adverse_event"
)

// ClinicalRepositories are the clinical repositories bound to one
// transaction. Each write stores one aggregate with the event that
// announces it (through the outbox); the use case decides which are
// called.
type ClinicalRepositories interface {
	// AddInfusion stores the infusion and its planned check-ins, each
	// with its durable overdue job at its DueAt; false (and nothing
	// written) when the infusion is already stored.
	AddInfusion(ctx context.Context, inf Infusion, checkIns []checkin.CheckIn) (bool, error)
	// CheckIn returns the check-in locked for update, or checkin.ErrNotFound.
	CheckIn(ctx context.Context, id uuid.UUID) (checkin.CheckIn, error)
	// SaveRecorded stores the answers and publishes CheckInRecorded.
	SaveRecorded(ctx context.Context, c checkin.CheckIn) error
	// SaveOverdue stores the status and publishes CheckInOverdue.
	SaveOverdue(ctx context.Context, c checkin.CheckIn) error
	// AddEscalation stores an open escalation and publishes EscalationRaised.
	AddEscalation(ctx context.Context, e Escalation) error
	// AddAdverseEvent stores the event; Report publishes AdverseEventReported.
	AddAdverseEvent(ctx context.Context, e adverse.Event) error
	ReportAdverseEvent(ctx context.Context, e adverse.Event) error
	// AddOutcome stores the score and publishes OutcomeRecorded.
	AddOutcome(ctx context.Context, o outcome.Outcome) error
	// Alert schedules the on-call alert of kind about id: a durable job
	// that runs after commit (never a send inside the transaction), once
	// per kind and id.
	Alert(ctx context.Context, kind string, id, patientID uuid.UUID) error
	// PendingReminders closes reminders, in this transaction.
	PendingReminders() PendingReminders
}

// PendingReminders is the reminder engine's side of the clinical half, in
// its transaction: check-ins' reminders are scheduled with their check-ins
// and dropped when answered, and on a fatal adverse event the patient's
// reminders that have not gone out are closed with the reason, so none goes
// out after it.
type PendingReminders interface {
	StandaloneWriter
	// DropForSubject cancels the scheduled reminders of kind about subject
	// (one not already being sent), and their jobs.
	DropForSubject(ctx context.Context, subject uuid.UUID, kind, reason string) error
	DropForPatient(ctx context.Context, patientID uuid.UUID, reason string) error
}

// ClinicalUnitOfWork runs a request's use case in one transaction (a keyed
// request's idempotency record included).
type ClinicalUnitOfWork interface {
	Do(ctx context.Context, fn func(ClinicalRepositories) error) error
}

// ClinicalReader reads the clinical records.
type ClinicalReader interface {
	// CheckIn returns one check-in, or checkin.ErrNotFound.
	CheckIn(ctx context.Context, id uuid.UUID) (checkin.CheckIn, error)
	CheckIns(ctx context.Context, patientID uuid.UUID, status checkin.Status) ([]checkin.CheckIn, error)
	Escalations(ctx context.Context, status string) ([]Escalation, error)
	AdverseEvents(ctx context.Context, patientID uuid.UUID) ([]adverse.Event, error)
	Recipients(ctx context.Context, productID string) ([]Recipient, error)
	Outcomes(ctx context.Context, patientID uuid.UUID) ([]outcome.Outcome, error)
}

func (c *Clinical) now() time.Time { return c.Clock.Now().UTC().Truncate(time.Microsecond) }

// Days returns the check-in days of a program.
func (c *Clinical) Days(program string) []int {
	if d, ok := c.CheckInDays[program]; ok {
		return d
	}
	if d, ok := c.CheckInDays[""]; ok {
		return d
	}
	return checkin.DefaultDays
}

// RecordInfusion remembers a completed infusion and plans its check-ins.
// A repeated event (same appointment) plans nothing again.
//
// Each check-in also gets the patient's reminder, with the link to answer
// it, at CheckInAt on its day (none when CheckInAt is negative).
func (c *Clinical) RecordInfusion(ctx context.Context, repos ClinicalRepositories, inf Infusion) error {
	base := checkin.CheckIn{AppointmentID: inf.AppointmentID, PatientID: inf.PatientID, CourseID: inf.CourseID,
		ProductID: inf.ProductID, InfusedAt: inf.InfusedAt}
	planned := checkin.Plan(base, c.Days(inf.Program), c.Location)
	added, err := repos.AddInfusion(ctx, inf, planned)
	if err != nil {
		return fmt.Errorf("record infusion %s: %w", inf.AppointmentID, err)
	}
	if !added || c.CheckInAt < 0 {
		return nil
	}
	rs := make([]reminder.Standalone, len(planned))
	for i, ci := range planned {
		if rs[i], err = reminder.CheckIn(ci.ID, ci.PatientID, ci.Day, ci.DueDate, c.CheckInAt, c.Location); err != nil {
			return err
		}
	}
	return repos.PendingReminders().ScheduleStandalone(ctx, rs)
}

// RecordCheckIn answers a check-in. Answers that escalate (checkin.Assess)
// open an escalation and alert the on-call clinician after commit.
func (c *Clinical) RecordCheckIn(ctx context.Context, repos ClinicalRepositories, id uuid.UUID, a checkin.Answers) (checkin.CheckIn, error) {
	ci, err := repos.CheckIn(ctx, id)
	if err != nil {
		return ci, err
	}
	now := c.now()
	if err := ci.Record(a, now); err != nil {
		return ci, err
	}
	assessment, escalate := checkin.Assess(a, ci.InfusedAt, now)
	ci.Escalated = escalate
	if err := repos.SaveRecorded(ctx, ci); err != nil {
		return ci, err
	}
	if err := repos.PendingReminders().DropForSubject(ctx, ci.ID, reminder.KindCheckIn, reminder.ReasonAnswered); err != nil {
		return ci, err
	}
	if !escalate {
		return ci, nil
	}
	e := Escalation{ID: uuid.NewSHA1(ci.ID, []byte("escalation")), CheckInID: ci.ID, PatientID: ci.PatientID,
		CourseID: ci.CourseID, ProductID: ci.ProductID, Assessment: assessment, Status: "open", RaisedAt: now, Version: 1}
	if err := repos.AddEscalation(ctx, e); err != nil {
		return ci, err
	}
	return ci, repos.Alert(ctx, AlertEscalation, e.ID, e.PatientID)
}

// MarkCheckInOverdue turns a check-in still unanswered at the end of its
// day into a task for staff (CheckInOverdue). One answered meanwhile, or
// already overdue, is left alone.
func (c *Clinical) MarkCheckInOverdue(ctx context.Context, repos ClinicalRepositories, id uuid.UUID) error {
	ci, err := repos.CheckIn(ctx, id)
	if errors.Is(err, checkin.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !ci.MarkOverdue() {
		return nil
	}
	return repos.SaveOverdue(ctx, ci)
}

// RecordAdverseEvent records an adverse event. Grade 3 or higher is
// published (scheduling holds the course) and the on-call clinician is
// alerted; a death (CTCAE 5) also closes the patient's pending reminders.
func (c *Clinical) RecordAdverseEvent(ctx context.Context, repos ClinicalRepositories, in adverse.Input) (adverse.Event, error) {
	e, err := adverse.New(uuid.New(), in, c.now())
	if err != nil {
		return e, err
	}
	if err := repos.AddAdverseEvent(ctx, e); err != nil {
		return e, err
	}
	if !e.Reportable() {
		return e, nil
	}
	if err := repos.ReportAdverseEvent(ctx, e); err != nil {
		return e, err
	}
	if err := repos.Alert(ctx, AlertAdverseEvent, e.ID, e.PatientID); err != nil {
		return e, err
	}
	if e.Fatal() {
		if err := repos.PendingReminders().DropForPatient(ctx, e.PatientID, "adverse_event_fatal:"+e.ID.String()); err != nil {
			return e, fmt.Errorf("close reminders after adverse event %s: %w", e.ID, err)
		}
	}
	return e, nil
}

// OutcomeInput is an outcome score as entered.
type OutcomeInput struct {
	PatientID  uuid.UUID
	CourseID   uuid.UUID
	Cycle      int
	Measure    string
	Value      float64
	Unit       string
	MeasuredAt time.Time
}

// RecordOutcome validates and records an outcome score (OutcomeRecorded).
func (c *Clinical) RecordOutcome(ctx context.Context, repos ClinicalRepositories, in OutcomeInput) (outcome.Outcome, error) {
	score, err := outcome.NewScore(in.Measure, in.Value, in.Unit)
	if err != nil {
		return outcome.Outcome{}, err
	}
	o, err := outcome.New(uuid.New(), in.PatientID, in.CourseID, in.Cycle, score, in.MeasuredAt, c.now())
	if err != nil {
		return o, err
	}
	return o, repos.AddOutcome(ctx, o)
}
