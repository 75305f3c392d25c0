package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/riverqueue/river"

	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/adverse"
	"github.com/clinicops/clinicops/services/followup/internal/domain/checkin"
	"github.com/clinicops/clinicops/services/followup/internal/domain/outcome"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

// ClinicalStore is the clinical half's database: it binds the clinical
// repositories to a transaction, for an event handler (Tx) or a request or
// job (Do).
type ClinicalStore struct {
	DB     *sqlx.DB
	Outbox *messaging.Outbox
	// Jobs inserts durable jobs in the transaction; set once the job
	// client exists.
	Jobs *jobs.Client
	// Now is the process clock (platform.Runtime.Now).
	Now func() time.Time
}

var _ app.ClinicalUnitOfWork = (*ClinicalStore)(nil)

// Tx returns the clinical repositories bound to tx.
func (s *ClinicalStore) Tx(tx *sqlx.Tx) app.ClinicalRepositories { return clinicalTx{tx: tx, s: s} }

// Do runs fn in one transaction; a keyed request under idempotency.WrapTx
// claims its key first and stores its answer last, in the same commit.
func (s *ClinicalStore) Do(ctx context.Context, fn func(app.ClinicalRepositories) error) error {
	return idempotency.InTx(ctx, s.DB, func(tx *sqlx.Tx) (any, error) {
		return struct{}{}, fn(s.Tx(tx))
	})
}

type clinicalTx struct {
	tx *sqlx.Tx
	s  *ClinicalStore
}

const (
	insertInfusion = `INSERT INTO infusions (appointment_id, patient_id, course_id, cycle, program, product_id, infused_at, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (appointment_id) DO NOTHING`
	insertCheckIn = `INSERT INTO check_ins (id, appointment_id, patient_id, course_id, product_id, infused_at, day, due_date, due_at, status, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	checkInColumns = `id, appointment_id, patient_id, course_id, product_id, infused_at, day, due_date, due_at, status,
		temperature_decicelsius, symptoms, note, recorded_by, recorded_at, escalated, version`
	selectCheckIn          = `SELECT ` + checkInColumns + ` FROM check_ins WHERE id = $1`
	selectCheckInForUpdate = selectCheckIn + ` FOR UPDATE`
	updateCheckIn          = `UPDATE check_ins SET status = $2, temperature_decicelsius = $3, symptoms = $4, note = $5,
		recorded_by = $6, recorded_at = $7, escalated = $8, version = $9 WHERE id = $1`
	insertEscalation = `INSERT INTO escalations (id, check_in_id, patient_id, course_id, product_id, reasons, suggested_scale,
		suggested_grade, status, raised_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	insertAdverseEvent = `INSERT INTO adverse_events (id, patient_id, course_id, term, scale, grade, onset_at, serious, outcome,
		product_id, appointment_id, recorded_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	insertOutcome = `INSERT INTO outcomes (id, patient_id, course_id, cycle, measure, value_milli, band, measured_at, recorded_at, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	// selectDroppableOfSubject: the reminders of one kind about a subject
	// (a check-in's) that are scheduled and not being sent.
	selectDroppableOfSubject = `SELECT r.reminder_id, r.job_id FROM reminders r
		WHERE r.subject_id = $1 AND r.kind = $2 AND r.status = 'scheduled'
		  AND NOT EXISTS (SELECT 1 FROM reminder_attempts a WHERE a.reminder_id = r.reminder_id AND a.status = 'sending')
		ORDER BY r.reminder_id FOR UPDATE OF r`
	insertReminderDrop = `INSERT INTO reminder_drops (patient_id, reason, requested_at)
		VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`
)

// AddInfusion stores the infusion and its check-ins with their overdue jobs.
func (r clinicalTx) AddInfusion(ctx context.Context, inf app.Infusion, checkIns []checkin.CheckIn) (bool, error) {
	res, err := r.tx.ExecContext(ctx, insertInfusion, inf.AppointmentID, inf.PatientID, nullUUID(inf.CourseID), inf.Cycle,
		inf.Program, inf.ProductID, inf.InfusedAt, inf.Version)
	if err != nil {
		return false, fmt.Errorf("save infusion %s: %w", inf.AppointmentID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	for _, c := range checkIns {
		if _, err := r.tx.ExecContext(ctx, insertCheckIn, c.ID, c.AppointmentID, c.PatientID, nullUUID(c.CourseID), c.ProductID,
			c.InfusedAt, c.Day, c.DueDate, c.DueAt, string(c.Status), c.Version); err != nil {
			return false, fmt.Errorf("save check-in %s: %w", c.ID, err)
		}
		if err := r.insertJob(ctx, CheckInOverdueArgs{CheckInID: c.ID}, c.DueAt); err != nil {
			return false, err
		}
	}
	return true, nil
}

func (r clinicalTx) insertJob(ctx context.Context, args river.JobArgs, at time.Time) error {
	if r.s.Jobs == nil {
		return errors.New("schedule job: the job client is not set")
	}
	opts := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
	if !at.IsZero() {
		opts.ScheduledAt = at
	}
	if _, err := r.s.Jobs.InsertTx(ctx, r.tx, args, opts); err != nil {
		return fmt.Errorf("schedule %s: %w", args.Kind(), err)
	}
	return nil
}

type checkInRow struct {
	ID            uuid.UUID      `db:"id"`
	AppointmentID uuid.UUID      `db:"appointment_id"`
	PatientID     uuid.UUID      `db:"patient_id"`
	CourseID      uuid.NullUUID  `db:"course_id"`
	ProductID     string         `db:"product_id"`
	InfusedAt     time.Time      `db:"infused_at"`
	Day           int            `db:"day"`
	DueDate       time.Time      `db:"due_date"`
	DueAt         time.Time      `db:"due_at"`
	Status        string         `db:"status"`
	Temperature   sql.NullInt64  `db:"temperature_decicelsius"`
	Symptoms      pq.StringArray `db:"symptoms"`
	Note          string         `db:"note"`
	RecordedBy    sql.NullString `db:"recorded_by"`
	RecordedAt    sql.NullTime   `db:"recorded_at"`
	Escalated     bool           `db:"escalated"`
	Version       int64          `db:"version"`
}

func toDomainCheckIn(r checkInRow) checkin.CheckIn {
	c := checkin.CheckIn{ID: r.ID, AppointmentID: r.AppointmentID, PatientID: r.PatientID, CourseID: r.CourseID.UUID,
		ProductID: r.ProductID, InfusedAt: r.InfusedAt.UTC(), Day: r.Day, DueDate: r.DueDate, DueAt: r.DueAt.UTC(),
		Status: checkin.Status(r.Status), Escalated: r.Escalated, Version: r.Version,
		Answers: checkin.Answers{TemperatureDeci: int(r.Temperature.Int64), Note: r.Note, By: checkin.Recorder(r.RecordedBy.String)}}
	for _, s := range r.Symptoms {
		c.Answers.Symptoms = append(c.Answers.Symptoms, checkin.Symptom(s))
	}
	if r.RecordedAt.Valid {
		c.RecordedAt = r.RecordedAt.Time.UTC()
	}
	return c
}

// CheckIn returns the check-in locked for update.
func (r clinicalTx) CheckIn(ctx context.Context, id uuid.UUID) (checkin.CheckIn, error) {
	var row checkInRow
	if err := r.tx.GetContext(ctx, &row, selectCheckInForUpdate, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return checkin.CheckIn{}, checkin.ErrNotFound
		}
		return checkin.CheckIn{}, fmt.Errorf("get check-in %s: %w", id, err)
	}
	return toDomainCheckIn(row), nil
}

func (r clinicalTx) saveCheckIn(ctx context.Context, c checkin.CheckIn) error {
	symptoms := make([]string, len(c.Answers.Symptoms))
	for i, s := range c.Answers.Symptoms {
		symptoms[i] = string(s)
	}
	temp := sql.NullInt64{Int64: int64(c.Answers.TemperatureDeci), Valid: c.Answers.TemperatureDeci != 0}
	by := sql.NullString{String: string(c.Answers.By), Valid: c.Answers.By != ""}
	at := sql.NullTime{Time: c.RecordedAt, Valid: !c.RecordedAt.IsZero()}
	if _, err := r.tx.ExecContext(ctx, updateCheckIn, c.ID, string(c.Status), temp, pq.StringArray(symptoms), c.Answers.Note,
		by, at, c.Escalated, c.Version); err != nil {
		return fmt.Errorf("save check-in %s: %w", c.ID, err)
	}
	return nil
}

// SaveRecorded stores the answers and publishes CheckInRecorded.
func (r clinicalTx) SaveRecorded(ctx context.Context, c checkin.CheckIn) error {
	if err := r.saveCheckIn(ctx, c); err != nil {
		return err
	}
	return r.s.Outbox.Publish(ctx, r.tx, c.ID.String(), checkInRecorded(c))
}

// SaveOverdue stores the status and publishes CheckInOverdue.
func (r clinicalTx) SaveOverdue(ctx context.Context, c checkin.CheckIn) error {
	if err := r.saveCheckIn(ctx, c); err != nil {
		return err
	}
	return r.s.Outbox.Publish(ctx, r.tx, c.ID.String(), checkInOverdue(c, r.s.Now()))
}

// AddEscalation stores an open escalation and publishes EscalationRaised.
func (r clinicalTx) AddEscalation(ctx context.Context, e app.Escalation) error {
	if _, err := r.tx.ExecContext(ctx, insertEscalation, e.ID, e.CheckInID, e.PatientID, nullUUID(e.CourseID), e.ProductID,
		pq.StringArray(e.Reasons), e.Scale, e.Grade, e.Status, e.RaisedAt, e.Version); err != nil {
		return fmt.Errorf("save escalation %s: %w", e.ID, err)
	}
	return r.s.Outbox.Publish(ctx, r.tx, e.ID.String(), escalationRaised(e))
}

// AddAdverseEvent stores the event.
func (r clinicalTx) AddAdverseEvent(ctx context.Context, e adverse.Event) error {
	if _, err := r.tx.ExecContext(ctx, insertAdverseEvent, e.ID, e.PatientID, e.CourseID, e.Term, string(e.Scale), e.Grade,
		e.OnsetAt, e.Serious, e.Outcome, e.ProductID, nullUUID(e.AppointmentID), e.RecordedAt, e.Version); err != nil {
		return fmt.Errorf("save adverse event %s: %w", e.ID, err)
	}
	return nil
}

// ReportAdverseEvent publishes AdverseEventReported.
func (r clinicalTx) ReportAdverseEvent(ctx context.Context, e adverse.Event) error {
	return r.s.Outbox.Publish(ctx, r.tx, e.ID.String(), adverseEventReported(e))
}

// AddOutcome stores the score and publishes OutcomeRecorded.
func (r clinicalTx) AddOutcome(ctx context.Context, o outcome.Outcome) error {
	s := o.Score
	if _, err := r.tx.ExecContext(ctx, insertOutcome, o.ID, o.PatientID, o.CourseID, o.Cycle, string(s.Measure), s.ValueMilli,
		s.Band, o.MeasuredAt, o.RecordedAt, o.Version); err != nil {
		return fmt.Errorf("save outcome %s: %w", o.ID, err)
	}
	return r.s.Outbox.Publish(ctx, r.tx, o.ID.String(), outcomeRecorded(o))
}

// Alert schedules the on-call alert as a durable job, run after commit.
func (r clinicalTx) Alert(ctx context.Context, kind string, id, patientID uuid.UUID) error {
	return r.insertJob(ctx, AlertArgs{AlertKind: kind, ID: id, PatientID: patientID}, time.Time{})
}

// PendingReminders is the reminder engine in this transaction: the
// reminders' own storage and jobs (Store), on the same database.
func (r clinicalTx) PendingReminders() app.PendingReminders { return reminderDrops(r) }

type reminderDrops clinicalTx

// reminders is the reminder engine's store on this transaction.
func (r reminderDrops) reminders() txRepositories {
	return txRepositories{tx: r.tx, s: &Store{DB: r.s.DB, Outbox: r.s.Outbox, Jobs: r.s.Jobs, Now: r.s.Now}}
}

// ScheduleStandalone inserts each reminder and its job, once per key.
func (r reminderDrops) ScheduleStandalone(ctx context.Context, rs []reminder.Standalone) error {
	return standaloneTx(r.reminders()).ScheduleStandalone(ctx, rs)
}

// CloseStandalone ends the key's reminder that has not gone out.
func (r reminderDrops) CloseStandalone(ctx context.Context, key reminder.Standalone, reason string) error {
	return standaloneTx(r.reminders()).CloseStandalone(ctx, key, reason)
}

// DropForSubject cancels the scheduled reminders of kind about subject
// that are not being sent, and their jobs.
func (r reminderDrops) DropForSubject(ctx context.Context, subject uuid.UUID, kind, reason string) error {
	var rows []droppable
	if err := r.tx.SelectContext(ctx, &rows, selectDroppableOfSubject, subject, kind); err != nil {
		return fmt.Errorf("%s reminders of %s to drop: %w", kind, subject, err)
	}
	return visitsTx(r.reminders()).dropRows(ctx, rows, reason)
}

// DropForPatient cancels the patient's scheduled reminders and their jobs
// in the transaction (the reminders' own drop, as a cancelled visit's),
// and keeps the request on record.
func (r reminderDrops) DropForPatient(ctx context.Context, patientID uuid.UUID, reason string) error {
	if _, err := r.tx.ExecContext(ctx, insertReminderDrop, patientID, reason, r.s.Now()); err != nil {
		return fmt.Errorf("close reminders of %s: %w", patientID, err)
	}
	return visitsTx(r.reminders()).DropPatientReminders(ctx, patientID, reason)
}
