package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
	"github.com/clinicops/clinicops/services/scheduling/seed"
)

type courses txRepositories

var _ app.Courses = courses{}

type courseRow struct {
	ID              uuid.UUID      `db:"id"`
	PatientID       uuid.UUID      `db:"patient_id"`
	Program         string         `db:"program"`
	ProtocolVersion string         `db:"protocol_version"`
	Protocol        []byte         `db:"protocol"`
	Status          string         `db:"status"`
	HeldFrom        sql.NullString `db:"held_from"`
	Reason          sql.NullString `db:"reason"`
	Detail          sql.NullString `db:"detail"`
	PreferredStart  sql.NullTime   `db:"preferred_start"`
	IntakeVersion   int64          `db:"intake_version"`
	FundedAt        sql.NullTime   `db:"funded_at"`
	Version         int64          `db:"version"`
	CreatedAt       time.Time      `db:"created_at"`
	UpdatedAt       time.Time      `db:"updated_at"`
}

type cycleRow struct {
	CourseID   uuid.UUID `db:"course_id"`
	Cycle      int       `db:"cycle"`
	Phase      string    `db:"phase"`
	TargetDate time.Time `db:"target_date"`
	Status     string    `db:"status"`
}

const (
	courseColumns = `id, patient_id, program, protocol_version, protocol, status, held_from, reason, detail,
		preferred_start, intake_version, funded_at, version, created_at, updated_at`
	insertCourse = `INSERT INTO courses (` + courseColumns + `) VALUES (:id, :patient_id, :program, :protocol_version,
		:protocol, :status, :held_from, :reason, :detail, :preferred_start, :intake_version, :funded_at, :version, :created_at, :updated_at)`
	updateCourse = `UPDATE courses SET protocol = :protocol, status = :status, held_from = :held_from, reason = :reason,
		detail = :detail, funded_at = :funded_at, version = :version, updated_at = :updated_at WHERE id = :id`
	selectCourseForUpdate = `SELECT ` + courseColumns + ` FROM courses WHERE id = $1 FOR UPDATE`
	selectCourse          = `SELECT ` + courseColumns + ` FROM courses WHERE id = $1`
	selectCycles          = `SELECT course_id, cycle, phase, target_date, status FROM cycles WHERE course_id = $1 ORDER BY cycle`
	upsertCycle           = `INSERT INTO cycles (course_id, cycle, phase, target_date, status)
		VALUES (:course_id, :cycle, :phase, :target_date, :status)
		ON CONFLICT (course_id, cycle) DO UPDATE SET phase = EXCLUDED.phase, target_date = EXCLUDED.target_date,
			status = EXCLUDED.status`
	selectActiveCourses = `SELECT id FROM courses WHERE patient_id = $1 AND ($2 = '' OR program = $2)
		AND status NOT IN ('completed', 'cancelled') ORDER BY created_at`
)

func toDBCourse(c *course.Course) (courseRow, []cycleRow, error) {
	s := c.State()
	row := courseRow{ID: s.ID, PatientID: s.PatientID, Program: s.Program, ProtocolVersion: s.ProtocolVersion,
		Status: string(s.Status), HeldFrom: nullString(string(s.HeldFrom)), Reason: nullString(s.Reason),
		Detail: nullString(s.Detail), IntakeVersion: s.IntakeVersion, Version: s.Version,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if !s.FundedAt.IsZero() {
		row.FundedAt = sql.NullTime{Time: s.FundedAt, Valid: true}
	}
	if !s.PreferredStart.IsZero() {
		row.PreferredStart = sql.NullTime{Time: s.PreferredStart, Valid: true}
	}
	if s.Protocol != nil {
		b, err := json.Marshal(seed.FromProtocol(*s.Protocol))
		if err != nil {
			return row, nil, err
		}
		row.Protocol = b
	}
	cycles := make([]cycleRow, len(s.Cycles))
	for i, cy := range s.Cycles {
		cycles[i] = cycleRow{CourseID: s.ID, Cycle: cy.Number, Phase: cy.Phase, TargetDate: cy.TargetDate, Status: string(cy.Status)}
	}
	return row, cycles, nil
}

func toDomainCourse(r courseRow, cycles []cycleRow) (*course.Course, error) {
	s := course.State{ID: r.ID, PatientID: r.PatientID, Program: r.Program, ProtocolVersion: r.ProtocolVersion,
		Status: course.Status(r.Status), HeldFrom: course.Status(r.HeldFrom.String), Reason: r.Reason.String,
		Detail: r.Detail.String, IntakeVersion: r.IntakeVersion, Version: r.Version,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), FundedAt: utcOrZero(r.FundedAt)}
	if r.PreferredStart.Valid {
		s.PreferredStart = r.PreferredStart.Time.UTC()
	}
	if len(r.Protocol) > 0 {
		var pj seed.ProtocolJSON
		if err := json.Unmarshal(r.Protocol, &pj); err != nil {
			return nil, fmt.Errorf("course %s protocol: %w", r.ID, err)
		}
		p, err := pj.ToDomain()
		if err != nil {
			return nil, fmt.Errorf("course %s protocol: %w", r.ID, err)
		}
		s.Protocol = &p
	}
	for _, cy := range cycles {
		s.Cycles = append(s.Cycles, course.Cycle{Number: cy.Cycle, Phase: cy.Phase, TargetDate: cy.TargetDate.UTC(), Status: course.CycleStatus(cy.Status)})
	}
	return course.FromState(s), nil
}

// Get returns the course locked for the transaction.
func (r courses) Get(ctx context.Context, id uuid.UUID) (*course.Course, error) {
	var row courseRow
	if err := r.tx.GetContext(ctx, &row, selectCourseForUpdate, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, course.ErrNotFound
		}
		return nil, fmt.Errorf("get course %s: %w", id, err)
	}
	var cycles []cycleRow
	if err := r.tx.SelectContext(ctx, &cycles, selectCycles, id); err != nil {
		return nil, fmt.Errorf("get course %s cycles: %w", id, err)
	}
	return toDomainCourse(row, cycles)
}

// Add stores a new course and writes its events.
func (r courses) Add(ctx context.Context, c *course.Course) error {
	return r.write(ctx, c, insertCourse)
}

// Save stores a changed course and writes its events.
func (r courses) Save(ctx context.Context, c *course.Course) error {
	return r.write(ctx, c, updateCourse)
}

func (r courses) write(ctx context.Context, c *course.Course, query string) error {
	row, cycles, err := toDBCourse(c)
	if err != nil {
		return err
	}
	if _, err := r.tx.NamedExecContext(ctx, query, row); err != nil {
		return fmt.Errorf("store course %s: %w", c.ID(), err)
	}
	for _, cy := range cycles {
		if _, err := r.tx.NamedExecContext(ctx, upsertCycle, cy); err != nil {
			return fmt.Errorf("store course %s cycle %d: %w", c.ID(), cy.Cycle, err)
		}
	}
	return writeEvents(ctx, r.tx, r.s.Outbox, c.TakeEvents())
}

// Active returns the ids of the patient's courses under way.
func (r courses) Active(ctx context.Context, patientID uuid.UUID, program string) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	if err := r.tx.SelectContext(ctx, &ids, selectActiveCourses, patientID, program); err != nil {
		return nil, fmt.Errorf("active courses: %w", err)
	}
	return ids, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
