package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/appointment"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/plan"
)

type appointments txRepositories

var _ app.Appointments = appointments{}

type appointmentRow struct {
	ID             uuid.UUID      `db:"id"`
	CourseID       uuid.NullUUID  `db:"course_id"`
	Cycle          sql.NullInt64  `db:"cycle"`
	Step           sql.NullInt64  `db:"step"`
	Session        sql.NullInt64  `db:"session"`
	PatientID      uuid.UUID      `db:"patient_id"`
	Program        string         `db:"program"`
	Kind           string         `db:"kind"`
	ResourceID     uuid.UUID      `db:"resource_id"`
	ResourceKind   string         `db:"resource_kind"`
	PatientPresent bool           `db:"patient_present"`
	StartAt        time.Time      `db:"start_at"`
	EndAt          time.Time      `db:"end_at"`
	BlockedUntil   time.Time      `db:"blocked_until"`
	Status         string         `db:"status"`
	ProductID      sql.NullString `db:"product_id"`
	DoseCells      sql.NullInt64  `db:"dose_cells"`
	Reason         sql.NullString `db:"reason"`
	CheckedInAt    sql.NullTime   `db:"checked_in_at"`
	CompletedAt    sql.NullTime   `db:"completed_at"`
	Version        int64          `db:"version"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
}

const (
	appointmentColumns = `id, course_id, cycle, step, session, patient_id, program, kind, resource_id, resource_kind,
		patient_present, start_at, end_at, blocked_until, status, product_id, dose_cells, reason, checked_in_at,
		completed_at, version, created_at, updated_at`
	insertAppointment = `INSERT INTO appointments (` + appointmentColumns + `) VALUES (:id, :course_id, :cycle, :step,
		:session, :patient_id, :program, :kind, :resource_id, :resource_kind, :patient_present, :start_at, :end_at,
		:blocked_until, :status, :product_id, :dose_cells, :reason, :checked_in_at, :completed_at, :version,
		:created_at, :updated_at)`
	updateAppointment = `UPDATE appointments SET start_at = :start_at, end_at = :end_at, blocked_until = :blocked_until,
		status = :status, product_id = :product_id, dose_cells = :dose_cells, reason = :reason,
		checked_in_at = :checked_in_at, completed_at = :completed_at, version = :version, updated_at = :updated_at
		WHERE id = :id`
	selectAppointmentForUpdate = `SELECT ` + appointmentColumns + ` FROM appointments WHERE id = $1 FOR UPDATE`
	selectCourseAppointments   = `SELECT ` + appointmentColumns + ` FROM appointments WHERE course_id = $1
		ORDER BY start_at, id FOR UPDATE`
	// holding is the statuses that hold a resource; it must match the
	// exclusion constraints' WHERE clauses.
	holding              = `status IN ('booked', 'checked_in', 'completed')`
	selectBlockedByRange = `SELECT resource_id, start_at, blocked_until FROM appointments WHERE ` + holding + `
		AND tstzrange(start_at, blocked_until, '[)') && tstzrange($1, $2, '[)') ORDER BY resource_id, start_at`
	selectPatientBusy = `SELECT start_at, end_at FROM appointments WHERE ` + holding + ` AND patient_present
		AND patient_id = $1 AND tstzrange(start_at, end_at, '[)') && tstzrange($2, $3, '[)') ORDER BY start_at`
	// selectCollision finds what a refused booking collides with.
	selectResourceCollision = `SELECT ` + appointmentColumns + ` FROM appointments WHERE ` + holding + `
		AND id <> $1 AND resource_id = $2 AND tstzrange(start_at, blocked_until, '[)') && tstzrange($3, $4, '[)')
		ORDER BY start_at LIMIT 1`
	selectPatientCollision = `SELECT ` + appointmentColumns + ` FROM appointments WHERE ` + holding + `
		AND id <> $1 AND patient_present AND patient_id = $2 AND tstzrange(start_at, end_at, '[)') && tstzrange($3, $4, '[)')
		ORDER BY start_at LIMIT 1`
	selectAppointmentCourse = `SELECT course_id FROM appointments WHERE id = $1`
	insertBlock             = `INSERT INTO infusion_blocks (id, appointment_id, scanned, reason, at) VALUES ($1, $2, $3, $4, $5)`

	constraintResource = "appointments_no_double_booking"
	constraintPatient  = "appointments_patient_elsewhere"
)

func toDBAppointment(a *appointment.Appointment) appointmentRow {
	s := a.State()
	d := s.Details
	row := appointmentRow{ID: d.ID, PatientID: d.PatientID, Program: d.Program, Kind: d.Kind, ResourceID: d.ResourceID,
		ResourceKind: d.ResourceKind, PatientPresent: d.PatientPresent, StartAt: d.Start, EndAt: d.End,
		BlockedUntil: d.BlockedUntil, Status: string(s.Status), ProductID: nullString(d.ProductID),
		Reason: nullString(s.Reason), Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if d.CourseID != uuid.Nil {
		row.CourseID = uuid.NullUUID{UUID: d.CourseID, Valid: true}
		row.Cycle = sql.NullInt64{Int64: int64(d.Cycle), Valid: true}
		row.Step = sql.NullInt64{Int64: int64(d.Step), Valid: true}
		row.Session = sql.NullInt64{Int64: int64(d.Session), Valid: true}
	}
	if s.Dose > 0 {
		row.DoseCells = sql.NullInt64{Int64: s.Dose, Valid: true}
	}
	if !s.CheckedInAt.IsZero() {
		row.CheckedInAt = sql.NullTime{Time: s.CheckedInAt, Valid: true}
	}
	if !s.CompletedAt.IsZero() {
		row.CompletedAt = sql.NullTime{Time: s.CompletedAt, Valid: true}
	}
	return row
}

func toDomainAppointment(r appointmentRow) *appointment.Appointment {
	return appointment.FromState(appointment.State{
		Details: appointment.Details{ID: r.ID, CourseID: r.CourseID.UUID, Cycle: int(r.Cycle.Int64), Step: int(r.Step.Int64),
			Session: int(r.Session.Int64), PatientID: r.PatientID, Program: r.Program, Kind: r.Kind, ResourceID: r.ResourceID,
			ResourceKind: r.ResourceKind, PatientPresent: r.PatientPresent, Start: r.StartAt.UTC(), End: r.EndAt.UTC(),
			BlockedUntil: r.BlockedUntil.UTC(), ProductID: r.ProductID.String},
		Status: appointment.Status(r.Status), Dose: r.DoseCells.Int64, Reason: r.Reason.String,
		CheckedInAt: utcOrZero(r.CheckedInAt), CompletedAt: utcOrZero(r.CompletedAt), Version: r.Version,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	})
}

func utcOrZero(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// Get returns the appointment locked for the transaction.
func (r appointments) Get(ctx context.Context, id uuid.UUID) (*appointment.Appointment, error) {
	var row appointmentRow
	if err := r.tx.GetContext(ctx, &row, selectAppointmentForUpdate, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, appointment.ErrNotFound
		}
		return nil, fmt.Errorf("get appointment %s: %w", id, err)
	}
	return toDomainAppointment(row), nil
}

// OfCourse returns the course's appointments locked, in start order.
func (r appointments) OfCourse(ctx context.Context, courseID uuid.UUID) ([]*appointment.Appointment, error) {
	var rows []appointmentRow
	if err := r.tx.SelectContext(ctx, &rows, selectCourseAppointments, courseID); err != nil {
		return nil, fmt.Errorf("appointments of course %s: %w", courseID, err)
	}
	out := make([]*appointment.Appointment, len(rows))
	for i, row := range rows {
		out[i] = toDomainAppointment(row)
	}
	return out, nil
}

// Add books all of as or none.
func (r appointments) Add(ctx context.Context, as ...*appointment.Appointment) error {
	return r.write(ctx, insertAppointment, as)
}

// CourseOf returns the appointment's course id without locking.
func (r appointments) CourseOf(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	var course uuid.NullUUID
	if err := r.tx.GetContext(ctx, &course, selectAppointmentCourse, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return uuid.Nil, appointment.ErrNotFound
		}
		return uuid.Nil, fmt.Errorf("course of appointment %s: %w", id, err)
	}
	return course.UUID, nil
}

// BookOne inserts a without a savepoint: a refusal aborts the
// transaction, and Store.Do names the collision once it has rolled back.
func (r appointments) BookOne(ctx context.Context, a *appointment.Appointment) error {
	if _, err := r.tx.NamedExecContext(ctx, insertAppointment, toDBAppointment(a)); err != nil {
		var ce *pgdb.ConstraintError
		if errors.As(pgdb.MapError(err), &ce) && errors.Is(ce, pgdb.ErrExclusionViolation) {
			return &app.ConflictError{What: whatCollides(ce.Constraint), Refused: a.Details()}
		}
		return fmt.Errorf("store appointment %s: %w", a.ID(), err)
	}
	return writeEvents(ctx, r.tx, r.s.Outbox, a.TakeEvents())
}

// nameCollision fills in what a refused booking (e.Refused) collides
// with, reading through q: the booking's transaction after a rollback to
// its savepoint, or the pool once the refused transaction is gone. A
// collision that cannot be read back (the other booking was itself rolled
// back since) leaves e.With empty.
func nameCollision(ctx context.Context, q sqlx.QueryerContext, e *app.ConflictError) error {
	d := e.Refused
	query, key, end := selectResourceCollision, d.ResourceID, d.BlockedUntil
	if e.What == "patient" {
		query, key, end = selectPatientCollision, d.PatientID, d.End
	}
	var row appointmentRow
	if err := sqlx.GetContext(ctx, q, &row, query, d.ID, key, d.Start, end); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return fmt.Errorf("find collision of appointment %s: %w", d.ID, err)
	}
	e.With = toDomainAppointment(row).Details()
	return nil
}

// whatCollides names the exclusion constraint a booking broke.
func whatCollides(constraint string) string {
	if constraint == constraintPatient {
		return "patient"
	}
	return "resource"
}

// Save stores changed appointments, all or none, in order.
func (r appointments) Save(ctx context.Context, as ...*appointment.Appointment) error {
	return r.write(ctx, updateAppointment, as)
}

// write runs the statements in a savepoint: a double booking the
// exclusion constraints refuse rolls back this batch only and comes back
// as *app.ConflictError naming the appointment it collides with.
func (r appointments) write(ctx context.Context, query string, as []*appointment.Appointment) error {
	if len(as) == 0 {
		return nil
	}
	var refused *appointment.Appointment
	var constraint string
	err := savepoint(ctx, r.tx, func() error {
		for _, a := range as {
			if _, err := r.tx.NamedExecContext(ctx, query, toDBAppointment(a)); err != nil {
				var ce *pgdb.ConstraintError
				if errors.As(pgdb.MapError(err), &ce) && errors.Is(ce, pgdb.ErrExclusionViolation) {
					refused, constraint = a, ce.Constraint
				}
				return fmt.Errorf("store appointment %s: %w", a.ID(), err)
			}
		}
		return nil
	})
	if refused != nil {
		return r.collision(ctx, refused, constraint)
	}
	if err != nil {
		return err
	}
	for _, a := range as {
		if err := writeEvents(ctx, r.tx, r.s.Outbox, a.TakeEvents()); err != nil {
			return err
		}
	}
	return nil
}

func (r appointments) collision(ctx context.Context, a *appointment.Appointment, constraint string) error {
	e := &app.ConflictError{What: whatCollides(constraint), Refused: a.Details()}
	if err := nameCollision(ctx, r.tx, e); err != nil {
		return err
	}
	return e
}

// plannerLock is the advisory lock key planners take turns on
// ("scheduling.planner" in ASCII; far from the platform's keys in
// pkg/pgdb/locks.go, which the same database carries).
const plannerLock int64 = 0x7363686564706c6e

// Occupancy is what is booked in [from, to), read once the planner's turn
// has come (see below).
func (r appointments) Occupancy(ctx context.Context, patientID uuid.UUID, from, to time.Time) (plan.Occupancy, error) {
	occ := plan.Occupancy{Resources: map[uuid.UUID][]plan.Interval{}}
	// Planners take turns: one reads what is booked and books its chain
	// while the others wait at this lock (until its transaction ends), so
	// each reads the previous one's bookings. Without it, concurrent
	// planners (50 patients' infusions completed at once, each booking its
	// next cycle) all chose the same free slots, and after the retries the
	// exclusion constraint failed a nurse's infusion with a 409. The
	// constraint still guarantees no double booking; the lock only saves
	// the planners from colliding.
	if _, err := r.tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, plannerLock); err != nil {
		return occ, fmt.Errorf("wait for the planner's turn: %w", err)
	}
	rows, err := r.tx.QueryContext(ctx, selectBlockedByRange, from, to)
	if err != nil {
		return occ, fmt.Errorf("occupancy: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var id uuid.UUID
		var s, e time.Time
		if err := rows.Scan(&id, &s, &e); err != nil {
			return occ, fmt.Errorf("occupancy: %w", err)
		}
		occ.Resources[id] = append(occ.Resources[id], plan.Interval{Start: s.UTC(), End: e.UTC()})
	}
	if err := rows.Err(); err != nil {
		return occ, fmt.Errorf("occupancy: %w", err)
	}
	var busy []struct {
		Start time.Time `db:"start_at"`
		End   time.Time `db:"end_at"`
	}
	if err := r.tx.SelectContext(ctx, &busy, selectPatientBusy, patientID, from, to); err != nil {
		return occ, fmt.Errorf("patient occupancy: %w", err)
	}
	for _, b := range busy {
		occ.Patient = append(occ.Patient, plan.Interval{Start: b.Start.UTC(), End: b.End.UTC()})
	}
	return occ, nil
}

// RecordBlock keeps a chain-of-identity refusal on record.
func (r appointments) RecordBlock(ctx context.Context, appointmentID uuid.UUID, scanned, reason string, at time.Time) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	if _, err := r.tx.ExecContext(ctx, insertBlock, id, appointmentID, scanned, reason, at); err != nil {
		return fmt.Errorf("record infusion block: %w", err)
	}
	return nil
}
