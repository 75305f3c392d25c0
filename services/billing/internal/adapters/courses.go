package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/app"
)

const (
	// upsertCourse keeps the newest version of scheduling's course: a
	// stale or repeated event changes nothing (and reports so).
	upsertCourse = `INSERT INTO courses (course_id, patient_id, program, protocol_version, status, cycles, version, updated_at)
		VALUES (:course_id, :patient_id, :program, :protocol_version, :status, :cycles, :version, :updated_at)
		ON CONFLICT (course_id) DO UPDATE SET status = EXCLUDED.status, cycles = EXCLUDED.cycles,
			version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
		WHERE courses.version < EXCLUDED.version`
	// The milestones are counted from the recognitions, billing's one
	// record of them (the culture_started and infusions_given columns of
	// 0003 are not used).
	selectBillingCourse = `SELECT course_id, patient_id, program, protocol_version, status, cycles, version, updated_at,
		(SELECT count(*) FROM recognitions r WHERE r.course_id = c.course_id AND r.kind = 'lab_fee') AS cultures,
		(SELECT count(*) FROM recognitions r WHERE r.course_id = c.course_id AND r.kind = 'infusion') AS infusions_given
		FROM courses c WHERE course_id = $1 FOR UPDATE`
	selectRecognised = `SELECT EXISTS (SELECT 1 FROM recognitions WHERE course_id = $1 AND cycle = $2 AND kind = $3)`
)

type courses txRepositories

// Save stores c unless the same or a newer version is stored; applied
// says whether it was.
func (r courses) Save(ctx context.Context, c app.Course) (applied bool, err error) {
	res, err := r.tx.NamedExecContext(ctx, upsertCourse, c)
	if err != nil {
		return false, fmt.Errorf("save course %s: %w", c.ID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Get returns the course, locked, or app.ErrUnknownCourse.
func (r courses) Get(ctx context.Context, id uuid.UUID) (app.Course, error) {
	var c app.Course
	if err := r.tx.GetContext(ctx, &c, selectBillingCourse, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return c, app.ErrUnknownCourse
		}
		return c, fmt.Errorf("get course %s: %w", id, err)
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, nil
}

// Recognised reports whether (course, cycle, kind) was recognised.
func (r courses) Recognised(ctx context.Context, courseID uuid.UUID, cycle int, kind string) (bool, error) {
	var ok bool
	if err := r.tx.GetContext(ctx, &ok, selectRecognised, courseID, cycle, kind); err != nil {
		return false, fmt.Errorf("recognition of course %s cycle %d: %w", courseID, cycle, err)
	}
	return ok, nil
}
