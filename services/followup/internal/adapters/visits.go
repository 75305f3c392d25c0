package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
)

// ReminderArgs is a reminder's durable job: it runs when the reminder is
// due. Version is the reminder's schedule generation (job_version): a job
// of an older generation (the reminder was dropped and scheduled again)
// does nothing, so one reminder never has two live jobs.
type ReminderArgs struct {
	ReminderID uuid.UUID `json:"reminder_id" river:"unique"`
	Version    int64     `json:"version" river:"unique"`
}

// Kind is the River job kind.
func (ReminderArgs) Kind() string { return "followup.reminder" }

type visitRow struct {
	AppointmentID  uuid.UUID     `db:"appointment_id"`
	PatientID      uuid.UUID     `db:"patient_id"`
	CourseID       uuid.NullUUID `db:"course_id"`
	Kind           string        `db:"kind"`
	Cycle          int           `db:"cycle"`
	StartAt        time.Time     `db:"start_at"`
	EndAt          time.Time     `db:"end_at"`
	PatientPresent bool          `db:"patient_present"`
	Status         string        `db:"status"`
	Version        int64         `db:"version"`
	UpdatedAt      time.Time     `db:"updated_at"`
}

func toDBVisit(v reminder.Visit) visitRow {
	return visitRow{AppointmentID: v.AppointmentID, PatientID: v.PatientID,
		CourseID: uuid.NullUUID{UUID: v.CourseID, Valid: v.CourseID != uuid.Nil}, Kind: v.Kind, Cycle: v.Cycle,
		StartAt: v.Start, EndAt: v.End, PatientPresent: v.PatientPresent, Status: v.Status, Version: v.Version, UpdatedAt: v.UpdatedAt}
}

func toDomainVisit(r visitRow) reminder.Visit {
	return reminder.Visit{AppointmentID: r.AppointmentID, PatientID: r.PatientID, CourseID: r.CourseID.UUID, Kind: r.Kind, Cycle: r.Cycle,
		Start: r.StartAt.UTC(), End: r.EndAt.UTC(), PatientPresent: r.PatientPresent, Status: r.Status, Version: r.Version,
		UpdatedAt: r.UpdatedAt.UTC()}
}

const (
	visitColumns = `appointment_id, patient_id, course_id, kind, cycle, start_at, end_at, patient_present, status, version, updated_at`
	// upsertVisit keeps the newest version of the appointment.
	upsertVisit = `INSERT INTO visits (` + visitColumns + `)
		VALUES (:appointment_id, :patient_id, :course_id, :kind, :cycle, :start_at, :end_at, :patient_present, :status, :version, :updated_at)
		ON CONFLICT (appointment_id) DO UPDATE SET patient_id = EXCLUDED.patient_id, course_id = EXCLUDED.course_id,
			kind = EXCLUDED.kind, cycle = EXCLUDED.cycle, start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at,
			patient_present = EXCLUDED.patient_present, status = EXCLUDED.status, version = EXCLUDED.version,
			updated_at = EXCLUDED.updated_at
		WHERE visits.version < EXCLUDED.version`
	upsertCourse = `INSERT INTO course_states (course_id, status, version, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (course_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
		WHERE course_states.version < EXCLUDED.version`
	selectCourseStatus = `SELECT status FROM course_states WHERE course_id = $1`
	selectBookedVisits = `SELECT ` + visitColumns + ` FROM visits
		WHERE course_id = $1 AND status = 'booked' AND start_at > $2 ORDER BY start_at FOR UPDATE`
	// droppable: the visit's scheduled reminders that are not in the
	// middle of a send (no attempt still 'sending'), locked. The caller
	// locked the visit row first (SaveVisit's update, or lockCourseVisits),
	// in the same order as the sender, which locks the visit before the
	// reminder.
	selectDroppable = `SELECT r.reminder_id, r.job_id FROM reminders r
		WHERE r.appointment_id = ANY($1) AND r.status = 'scheduled'
		  AND NOT EXISTS (SELECT 1 FROM reminder_attempts a WHERE a.reminder_id = r.reminder_id AND a.status = 'sending')
		ORDER BY r.reminder_id FOR UPDATE OF r`
	// selectDroppableOfNoVisit: the patient's reminders about no visit (a
	// payment, a long-term follow-up).
	selectDroppableOfNoVisit = `SELECT r.reminder_id, r.job_id FROM reminders r
		WHERE r.patient_id = $1 AND r.appointment_id IS NULL AND r.status = 'scheduled'
		  AND NOT EXISTS (SELECT 1 FROM reminder_attempts a WHERE a.reminder_id = r.reminder_id AND a.status = 'sending')
		ORDER BY r.reminder_id FOR UPDATE OF r`
	dropReminder = `UPDATE reminders SET status = 'cancelled', reason = $2, version = version + 1, updated_at = $3
		WHERE reminder_id = $1`
	lockCourseVisits  = `SELECT appointment_id FROM visits WHERE course_id = $1 ORDER BY appointment_id FOR UPDATE`
	lockPatientVisits = `SELECT appointment_id FROM visits WHERE patient_id = $1 ORDER BY appointment_id FOR UPDATE`
	// scheduleReminder inserts the reminder of a key, or schedules again
	// one that was cancelled (a visit moved back); it returns nothing for a
	// reminder of that key that was sent, skipped or is scheduled already.
	scheduleReminder = `INSERT INTO reminders (reminder_id, appointment_id, patient_id, kind, occurrence_start, due_at,
			status, job_version, version, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', 1, 1, $7)
		ON CONFLICT (appointment_id, occurrence_start, kind) DO UPDATE SET status = 'scheduled', reason = NULL,
			due_at = EXCLUDED.due_at, job_version = reminders.job_version + 1, version = reminders.version + 1,
			updated_at = EXCLUDED.updated_at
		WHERE reminders.status = 'cancelled'
		RETURNING reminder_id, job_version`
	setReminderJob = `UPDATE reminders SET job_id = $2 WHERE reminder_id = $1`
)

// visitsTx writes visits, course states and reminders in an event
// handler's transaction.
type visitsTx txRepositories

// SaveVisit stores v unless a newer or equal version is stored.
func (r visitsTx) SaveVisit(ctx context.Context, v reminder.Visit) (bool, error) {
	res, err := r.tx.NamedExecContext(ctx, upsertVisit, toDBVisit(v))
	if err != nil {
		return false, fmt.Errorf("save visit %s: %w", v.AppointmentID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("save visit %s: %w", v.AppointmentID, err)
	}
	return n == 1, nil
}

// SaveCourse stores the course's status unless a newer version is stored.
func (r visitsTx) SaveCourse(ctx context.Context, courseID uuid.UUID, status string, version int64, at time.Time) (bool, error) {
	res, err := r.tx.ExecContext(ctx, upsertCourse, courseID, status, version, at)
	if err != nil {
		return false, fmt.Errorf("save course %s: %w", courseID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("save course %s: %w", courseID, err)
	}
	return n == 1, nil
}

// CourseStatus is the course's status, active when follow-up has not heard
// of it being held or cancelled.
func (r visitsTx) CourseStatus(ctx context.Context, courseID uuid.UUID) (string, error) {
	var status string
	err := r.tx.GetContext(ctx, &status, selectCourseStatus, courseID)
	if errors.Is(err, sql.ErrNoRows) {
		return reminder.CourseActive, nil
	}
	if err != nil {
		return "", fmt.Errorf("course %s status: %w", courseID, err)
	}
	return status, nil
}

// DropReminders cancels the visit's scheduled reminders that are not being
// sent, and their jobs.
func (r visitsTx) DropReminders(ctx context.Context, appointmentID uuid.UUID, reason string) error {
	return r.drop(ctx, []uuid.UUID{appointmentID}, reason)
}

// DropCourseReminders cancels the scheduled reminders of all the course's
// visits.
func (r visitsTx) DropCourseReminders(ctx context.Context, courseID uuid.UUID, reason string) error {
	var ids []uuid.UUID
	if err := r.tx.SelectContext(ctx, &ids, lockCourseVisits, courseID); err != nil {
		return fmt.Errorf("lock visits of course %s: %w", courseID, err)
	}
	return r.drop(ctx, ids, reason)
}

// DropPatientReminders cancels all the patient's scheduled reminders, of
// visits and of none (a fatal adverse event closes them).
func (r visitsTx) DropPatientReminders(ctx context.Context, patientID uuid.UUID, reason string) error {
	var ids []uuid.UUID
	if err := r.tx.SelectContext(ctx, &ids, lockPatientVisits, patientID); err != nil {
		return fmt.Errorf("lock visits of patient %s: %w", patientID, err)
	}
	if err := r.drop(ctx, ids, reason); err != nil {
		return err
	}
	var rows []droppable
	if err := r.tx.SelectContext(ctx, &rows, selectDroppableOfNoVisit, patientID); err != nil {
		return fmt.Errorf("reminders of no visit to drop: %w", err)
	}
	return r.dropRows(ctx, rows, reason)
}

type droppable struct {
	ReminderID uuid.UUID     `db:"reminder_id"`
	JobID      sql.NullInt64 `db:"job_id"`
}

func (r visitsTx) drop(ctx context.Context, appointments []uuid.UUID, reason string) error {
	if len(appointments) == 0 {
		return nil
	}
	var rows []droppable
	if err := r.tx.SelectContext(ctx, &rows, selectDroppable, uuidArray(appointments)); err != nil {
		return fmt.Errorf("reminders to drop: %w", err)
	}
	return r.dropRows(ctx, rows, reason)
}

// dropRows cancels the locked reminders and their jobs.
func (r visitsTx) dropRows(ctx context.Context, rows []droppable, reason string) error {
	now := r.s.now()
	for _, row := range rows {
		if _, err := r.tx.ExecContext(ctx, dropReminder, row.ReminderID, reason, now); err != nil {
			return fmt.Errorf("drop reminder %s: %w", row.ReminderID, err)
		}
		if !row.JobID.Valid {
			continue
		}
		if r.s.Jobs == nil {
			return errors.New("drop reminder: the job client is not set")
		}
		// A job already running is only flagged; the sender finds its
		// reminder cancelled when it locks it, and sends nothing.
		if _, err := r.s.Jobs.CancelTx(ctx, r.tx, row.JobID.Int64); err != nil {
			return fmt.Errorf("drop reminder %s: %w", row.ReminderID, err)
		}
	}
	return nil
}

// ScheduleReminders inserts v's reminders and their jobs.
func (r visitsTx) ScheduleReminders(ctx context.Context, v reminder.Visit, dues []reminder.Due) error {
	for _, d := range dues {
		var got struct {
			ReminderID uuid.UUID `db:"reminder_id"`
			JobVersion int64     `db:"job_version"`
		}
		err := r.tx.GetContext(ctx, &got, scheduleReminder, uuid.New(), v.AppointmentID, v.PatientID, d.Kind, v.Start, d.DueAt, r.s.now())
		if errors.Is(err, sql.ErrNoRows) {
			continue // this key was sent, skipped or is scheduled: leave it
		}
		if err != nil {
			return fmt.Errorf("schedule reminder %s of %s: %w", d.Kind, v.AppointmentID, err)
		}
		if err := txRepositories(r).enqueue(ctx, got.ReminderID, got.JobVersion, d.DueAt); err != nil {
			return err
		}
	}
	return nil
}

// BookedVisits lists the course's booked visits after from, locked.
func (r visitsTx) BookedVisits(ctx context.Context, courseID uuid.UUID, from time.Time) ([]reminder.Visit, error) {
	var rows []visitRow
	if err := r.tx.SelectContext(ctx, &rows, selectBookedVisits, courseID, from); err != nil {
		return nil, fmt.Errorf("booked visits of course %s: %w", courseID, err)
	}
	out := make([]reminder.Visit, len(rows))
	for i, row := range rows {
		out[i] = toDomainVisit(row)
	}
	return out, nil
}

// enqueue inserts the durable job that sends a reminder at dueAt, in the
// transaction, and records it on the reminder (so a drop can cancel it).
func (r txRepositories) enqueue(ctx context.Context, reminderID uuid.UUID, jobVersion int64, dueAt time.Time) error {
	if r.s.Jobs == nil {
		return errors.New("schedule reminder: the job client is not set")
	}
	res, err := r.s.Jobs.InsertTx(ctx, r.tx, ReminderArgs{ReminderID: reminderID, Version: jobVersion},
		&river.InsertOpts{ScheduledAt: dueAt, UniqueOpts: river.UniqueOpts{ByArgs: true}})
	if err != nil {
		return fmt.Errorf("schedule reminder %s: %w", reminderID, err)
	}
	if _, err := r.tx.ExecContext(ctx, setReminderJob, reminderID, res.Job.ID); err != nil {
		return fmt.Errorf("schedule reminder %s: %w", reminderID, err)
	}
	return nil
}
