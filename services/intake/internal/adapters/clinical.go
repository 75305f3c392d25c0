package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/intake/internal/domain/consent"
	"github.com/clinicops/clinicops/services/intake/internal/domain/course"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
	"github.com/clinicops/clinicops/services/intake/internal/domain/screening"
)

// Clinical stores consents, screenings and courses. Every change locks the
// patient's row first, so a consent withdrawal and a course request for the
// same patient never interleave (no course slips in on a withdrawn consent).
type Clinical struct {
	db     *sqlx.DB
	outbox *messaging.Outbox
}

// NewClinical returns the repository.
func NewClinical(db *sqlx.DB, outbox *messaging.Outbox) *Clinical {
	return &Clinical{db: db, outbox: outbox}
}

const (
	lockPatient   = `SELECT id FROM patients WHERE id = $1 FOR UPDATE`
	insertConsent = `INSERT INTO consents (id, patient_id, kind, program, form_version, signed_at, signed_by, protocol_id, trial_id,
		status, withdrawn_at, withdraw_reason, version, created_at, updated_at)
		VALUES (:id, :patient_id, :kind, :program, :form_version, :signed_at, :signed_by, :protocol_id, :trial_id,
		:status, :withdrawn_at, :withdraw_reason, :version, :created_at, :updated_at)`
	updateConsent = `UPDATE consents SET status = :status, withdrawn_at = :withdrawn_at, withdraw_reason = :withdraw_reason,
		version = :version, updated_at = :updated_at WHERE id = :id`
	selectConsents    = `SELECT * FROM consents WHERE patient_id = $1 ORDER BY created_at, id`
	selectConsentLock = `SELECT * FROM consents WHERE id = $1 AND patient_id = $2 FOR UPDATE`
	insertScreening   = `INSERT INTO screenings (id, patient_id, program, protocol_version, screening_version, indication_system,
		indication_code, answers, eligible, reasons, completed_at, version)
		VALUES (:id, :patient_id, :program, :protocol_version, :screening_version, :indication_system,
		:indication_code, :answers, :eligible, :reasons, :completed_at, :version)`
	selectScreenings = `SELECT * FROM screenings WHERE patient_id = $1 ORDER BY completed_at, id`
	insertCourse     = `INSERT INTO courses (id, patient_id, program, protocol_version, indication_system, indication_code,
		preferred_start, notes, status, consent_id, screening_id, cancel_reason, cancelled_at, version, created_at, updated_at)
		VALUES (:id, :patient_id, :program, :protocol_version, :indication_system, :indication_code,
		:preferred_start, :notes, :status, :consent_id, :screening_id, :cancel_reason, :cancelled_at, :version, :created_at, :updated_at)`
	updateCourse = `UPDATE courses SET status = :status, cancel_reason = :cancel_reason, cancelled_at = :cancelled_at,
		version = :version, updated_at = :updated_at WHERE id = :id`
	selectCourses     = `SELECT * FROM courses WHERE patient_id = $1 ORDER BY created_at, id`
	selectCourseLock  = `SELECT * FROM courses WHERE id = $1 FOR UPDATE`
	selectCoursePatnt = `SELECT patient_id FROM courses WHERE id = $1`
)

type consentRow struct {
	ID             uuid.UUID      `db:"id"`
	PatientID      uuid.UUID      `db:"patient_id"`
	Kind           string         `db:"kind"`
	Program        sql.NullString `db:"program"`
	FormVersion    string         `db:"form_version"`
	SignedAt       time.Time      `db:"signed_at"`
	SignedBy       string         `db:"signed_by"`
	ProtocolID     sql.NullString `db:"protocol_id"`
	TrialID        sql.NullString `db:"trial_id"`
	Status         string         `db:"status"`
	WithdrawnAt    sql.NullTime   `db:"withdrawn_at"`
	WithdrawReason sql.NullString `db:"withdraw_reason"`
	Version        int64          `db:"version"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
}

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

func toDBConsent(c *consent.Consent) consentRow {
	return consentRow{ID: c.ID(), PatientID: c.PatientID(), Kind: string(c.Kind()), Program: nullString(c.Program()),
		FormVersion: c.FormVersion(), SignedAt: c.SignedAt(), SignedBy: string(c.SignedBy()), ProtocolID: nullString(c.ProtocolID()),
		TrialID: nullString(c.TrialID()), Status: string(c.Status()), WithdrawnAt: nullTime(c.WithdrawnAt()),
		WithdrawReason: nullString(c.WithdrawalReason()), Version: c.Version(), CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt()}
}

func toDomainConsent(r consentRow) *consent.Consent {
	return consent.UnmarshalConsentFromDatabase(r.ID, r.PatientID, consent.Input{Kind: consent.Kind(r.Kind), Program: r.Program.String,
		FormVersion: r.FormVersion, SignedAt: r.SignedAt.UTC(), SignedBy: consent.SignedBy(r.SignedBy), ProtocolID: r.ProtocolID.String,
		TrialID: r.TrialID.String}, consent.Status(r.Status), r.WithdrawnAt.Time.UTC(), r.WithdrawReason.String, r.Version,
		r.CreatedAt.UTC(), r.UpdatedAt.UTC())
}

type screeningRow struct {
	ID               uuid.UUID `db:"id"`
	PatientID        uuid.UUID `db:"patient_id"`
	Program          string    `db:"program"`
	ProtocolVersion  string    `db:"protocol_version"`
	ScreeningVersion string    `db:"screening_version"`
	IndicationSystem string    `db:"indication_system"`
	IndicationCode   string    `db:"indication_code"`
	Answers          []byte    `db:"answers"`
	Eligible         bool      `db:"eligible"`
	Reasons          []byte    `db:"reasons"`
	CompletedAt      time.Time `db:"completed_at"`
	Version          int64     `db:"version"`
}

type reasonJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func toDBScreening(s *screening.Screening) (screeningRow, error) {
	answers, err := json.Marshal(s.Answers())
	if err != nil {
		return screeningRow{}, err
	}
	res := s.Result()
	reasons := make([]reasonJSON, len(res.Reasons))
	for i, r := range res.Reasons {
		reasons[i] = reasonJSON{r.Code, r.Message}
	}
	rb, err := json.Marshal(reasons)
	if err != nil {
		return screeningRow{}, err
	}
	return screeningRow{ID: s.ID(), PatientID: s.PatientID(), Program: s.Program(), ProtocolVersion: s.ProtocolVersion(),
		ScreeningVersion: s.ScreeningVersion(), IndicationSystem: s.Indication().System, IndicationCode: s.Indication().Code,
		Answers: answers, Eligible: res.Eligible, Reasons: rb, CompletedAt: s.CompletedAt(), Version: s.Version()}, nil
}

func toDomainScreening(r screeningRow) (*screening.Screening, error) {
	var answers map[string]bool
	var reasons []reasonJSON
	if err := json.Unmarshal(r.Answers, &answers); err != nil {
		return nil, fmt.Errorf("screening %s answers: %w", r.ID, err)
	}
	if err := json.Unmarshal(r.Reasons, &reasons); err != nil {
		return nil, fmt.Errorf("screening %s reasons: %w", r.ID, err)
	}
	res := screening.Result{Eligible: r.Eligible, Reasons: make([]screening.Reason, len(reasons))}
	for i, x := range reasons {
		res.Reasons[i] = screening.Reason{Code: x.Code, Message: x.Message}
	}
	return screening.UnmarshalScreeningFromDatabase(r.ID, r.PatientID, r.Program, r.ProtocolVersion, r.ScreeningVersion,
		program.Indication{System: r.IndicationSystem, Code: r.IndicationCode}, answers, res, r.CompletedAt.UTC(), r.Version), nil
}

type courseRow struct {
	ID               uuid.UUID      `db:"id"`
	PatientID        uuid.UUID      `db:"patient_id"`
	Program          string         `db:"program"`
	ProtocolVersion  string         `db:"protocol_version"`
	IndicationSystem string         `db:"indication_system"`
	IndicationCode   string         `db:"indication_code"`
	PreferredStart   time.Time      `db:"preferred_start"`
	Notes            string         `db:"notes"`
	Status           string         `db:"status"`
	ConsentID        uuid.UUID      `db:"consent_id"`
	ScreeningID      uuid.UUID      `db:"screening_id"`
	CancelReason     sql.NullString `db:"cancel_reason"`
	CancelledAt      sql.NullTime   `db:"cancelled_at"`
	Version          int64          `db:"version"`
	CreatedAt        time.Time      `db:"created_at"`
	UpdatedAt        time.Time      `db:"updated_at"`
}

func toDBCourse(c *course.Course) courseRow {
	return courseRow{ID: c.ID(), PatientID: c.PatientID(), Program: c.Program(), ProtocolVersion: c.ProtocolVersion(),
		IndicationSystem: c.Indication().System, IndicationCode: c.Indication().Code, PreferredStart: c.PreferredStart(),
		Notes: c.Notes(), Status: string(c.Status()), ConsentID: c.ConsentID(), ScreeningID: c.ScreeningID(),
		CancelReason: nullString(c.CancellationReason()), CancelledAt: nullTime(c.CancelledAt()), Version: c.Version(),
		CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt()}
}

func toDomainCourse(r courseRow) *course.Course {
	return course.UnmarshalCourseFromDatabase(r.ID, r.PatientID, course.Input{Program: r.Program,
		Indication: program.Indication{System: r.IndicationSystem, Code: r.IndicationCode}, PreferredStart: r.PreferredStart.UTC(), Notes: r.Notes},
		r.ProtocolVersion, r.ConsentID, r.ScreeningID, course.Status(r.Status), r.CancelledAt.Time.UTC(), r.CancelReason.String,
		r.Version, r.CreatedAt.UTC(), r.UpdatedAt.UTC())
}

// inPatientTx runs fn in a transaction holding the patient's row lock.
func (r *Clinical) inPatientTx(ctx context.Context, patientID uuid.UUID, fn func(tx *sqlx.Tx) error) error {
	return pgdb.InTx(ctx, r.db, nil, func(tx *sqlx.Tx) error {
		if err := lockPatientRow(ctx, tx, patientID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// createInPatientTx is inPatientTx for a creating request, which may carry
// an Idempotency-Key (idempotency.WrapTx): the key is claimed first, before
// the patient's lock, so that a concurrent retry waits on the key and then
// replays the first answer instead of creating the record again; the answer
// is stored last, rendered from what fn returns, in the same commit. Without
// a key both are no-ops.
func (r *Clinical) createInPatientTx(ctx context.Context, patientID uuid.UUID, fn func(tx *sqlx.Tx) (any, error)) error {
	return idempotency.InTx(ctx, r.db, func(tx *sqlx.Tx) (any, error) {
		if err := lockPatientRow(ctx, tx, patientID); err != nil {
			return nil, err
		}
		return fn(tx)
	})
}

// lockPatientRow takes the patient's row lock; an unknown patient is
// patient.ErrNotFound.
func lockPatientRow(ctx context.Context, tx *sqlx.Tx, patientID uuid.UUID) error {
	var id uuid.UUID
	if err := tx.GetContext(ctx, &id, lockPatient, patientID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return patient.ErrNotFound
		}
		return fmt.Errorf("lock patient: %w", err)
	}
	return nil
}

// AddConsent stores a new consent and the events it recorded.
func (r *Clinical) AddConsent(ctx context.Context, c *consent.Consent) error {
	return r.createInPatientTx(ctx, c.PatientID(), func(tx *sqlx.Tx) (any, error) {
		if _, err := tx.NamedExecContext(ctx, insertConsent, toDBConsent(c)); err != nil {
			return nil, fmt.Errorf("insert consent: %w", err)
		}
		return c, writeEvents(ctx, tx, r.outbox, c.Events())
	})
}

// UpdateConsent locks a patient's consent, applies fn (a withdrawal) and
// stores it with the events it recorded; when fn records none, nothing is
// written. A consent not of that patient is consent.ErrNotFound.
func (r *Clinical) UpdateConsent(ctx context.Context, patientID, consentID uuid.UUID, fn func(*consent.Consent) error) (*consent.Consent, error) {
	var out *consent.Consent
	err := r.inPatientTx(ctx, patientID, func(tx *sqlx.Tx) error {
		var row consentRow
		if err := tx.GetContext(ctx, &row, selectConsentLock, consentID, patientID); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return consent.ErrNotFound
			}
			return err
		}
		c := toDomainConsent(row)
		if err := fn(c); err != nil {
			return err
		}
		out = c
		if len(c.Events()) == 0 {
			return nil // nothing happened: no write, no event
		}
		if _, err := tx.NamedExecContext(ctx, updateConsent, toDBConsent(c)); err != nil {
			return fmt.Errorf("update consent: %w", err)
		}
		return writeEvents(ctx, tx, r.outbox, c.Events())
	})
	return out, err
}

func listConsents(ctx context.Context, q sqlx.QueryerContext, patientID uuid.UUID) ([]*consent.Consent, error) {
	var rows []consentRow
	if err := sqlx.SelectContext(ctx, q, &rows, selectConsents, patientID); err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	out := make([]*consent.Consent, len(rows))
	for i, row := range rows {
		out[i] = toDomainConsent(row)
	}
	return out, nil
}

func listScreenings(ctx context.Context, q sqlx.QueryerContext, patientID uuid.UUID) ([]*screening.Screening, error) {
	var rows []screeningRow
	if err := sqlx.SelectContext(ctx, q, &rows, selectScreenings, patientID); err != nil {
		return nil, fmt.Errorf("list screenings: %w", err)
	}
	out := make([]*screening.Screening, len(rows))
	for i, row := range rows {
		s, err := toDomainScreening(row)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// Consents lists a patient's consents.
func (r *Clinical) Consents(ctx context.Context, patientID uuid.UUID) ([]*consent.Consent, error) {
	return listConsents(ctx, r.db, patientID)
}

// AddScreening stores a screening and the events it recorded.
func (r *Clinical) AddScreening(ctx context.Context, s *screening.Screening) error {
	row, err := toDBScreening(s)
	if err != nil {
		return err
	}
	return r.createInPatientTx(ctx, s.PatientID(), func(tx *sqlx.Tx) (any, error) {
		if _, err := tx.NamedExecContext(ctx, insertScreening, row); err != nil {
			return nil, fmt.Errorf("insert screening: %w", err)
		}
		return s, writeEvents(ctx, tx, r.outbox, s.Events())
	})
}

// Screenings lists a patient's screenings.
func (r *Clinical) Screenings(ctx context.Context, patientID uuid.UUID) ([]*screening.Screening, error) {
	return listScreenings(ctx, r.db, patientID)
}

// RequestCourse decides and stores a course under the patient's lock: fn
// gets the patient's consents and screenings as they are now and returns
// the course (or why not), stored with the events it recorded.
func (r *Clinical) RequestCourse(ctx context.Context, patientID uuid.UUID,
	fn func([]*consent.Consent, []*screening.Screening) (*course.Course, error)) (*course.Course, error) {
	var out *course.Course
	err := r.createInPatientTx(ctx, patientID, func(tx *sqlx.Tx) (any, error) {
		consents, err := listConsents(ctx, tx, patientID)
		if err != nil {
			return nil, err
		}
		screenings, err := listScreenings(ctx, tx, patientID)
		if err != nil {
			return nil, err
		}
		c, err := fn(consents, screenings)
		if err != nil {
			return nil, err
		}
		if _, err := tx.NamedExecContext(ctx, insertCourse, toDBCourse(c)); err != nil {
			return nil, fmt.Errorf("insert course: %w", err)
		}
		out = c
		return c, writeEvents(ctx, tx, r.outbox, c.Events())
	})
	return out, err
}

// Courses lists a patient's courses.
func (r *Clinical) Courses(ctx context.Context, patientID uuid.UUID) ([]*course.Course, error) {
	var rows []courseRow
	if err := r.db.SelectContext(ctx, &rows, selectCourses, patientID); err != nil {
		return nil, fmt.Errorf("list courses: %w", err)
	}
	out := make([]*course.Course, len(rows))
	for i, row := range rows {
		out[i] = toDomainCourse(row)
	}
	return out, nil
}

// UpdateCourse locks a course (and its patient), applies fn (a
// cancellation) and stores it with the events it recorded; when fn records
// none, nothing is written. An unknown course is course.ErrNotFound.
func (r *Clinical) UpdateCourse(ctx context.Context, courseID uuid.UUID, fn func(*course.Course) error) (*course.Course, error) {
	var patientID uuid.UUID
	if err := r.db.GetContext(ctx, &patientID, selectCoursePatnt, courseID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, course.ErrNotFound
		}
		return nil, fmt.Errorf("find course: %w", err)
	}
	var out *course.Course
	err := r.inPatientTx(ctx, patientID, func(tx *sqlx.Tx) error {
		var row courseRow
		if err := tx.GetContext(ctx, &row, selectCourseLock, courseID); err != nil {
			return fmt.Errorf("lock course: %w", err)
		}
		c := toDomainCourse(row)
		if err := fn(c); err != nil {
			return err
		}
		out = c
		if len(c.Events()) == 0 {
			return nil // nothing happened: no write, no event
		}
		if _, err := tx.NamedExecContext(ctx, updateCourse, toDBCourse(c)); err != nil {
			return fmt.Errorf("update course: %w", err)
		}
		return writeEvents(ctx, tx, r.outbox, c.Events())
	})
	return out, err
}
