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

	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/adverse"
	"github.com/clinicops/clinicops/services/followup/internal/domain/checkin"
	"github.com/clinicops/clinicops/services/followup/internal/domain/outcome"
)

// ClinicalQueries reads the clinical records (app.ClinicalReader).
type ClinicalQueries struct{ DB *sqlx.DB }

var _ app.ClinicalReader = ClinicalQueries{}

// Each list stops at 500 rows: these are working lists, not exports.
const (
	selectCheckIns = `SELECT ` + checkInColumns + ` FROM check_ins
		WHERE ($1::uuid IS NULL OR patient_id = $1) AND ($2 = '' OR status = $2)
		ORDER BY due_date, patient_id, day LIMIT 500`
	selectEscalations = `SELECT id, check_in_id, patient_id, course_id, product_id, reasons, suggested_scale, suggested_grade,
		status, raised_at, version FROM escalations WHERE status = $1 ORDER BY raised_at, id LIMIT 500`
	selectAdverseEvents = `SELECT id, patient_id, course_id, term, scale, grade, onset_at, serious, outcome, product_id,
		appointment_id, recorded_at, version FROM adverse_events WHERE patient_id = $1 ORDER BY onset_at, id LIMIT 500`
	selectRecipients = `SELECT patient_id, course_id, appointment_id, cycle, infused_at FROM infusions
		WHERE product_id = $1 ORDER BY infused_at, appointment_id LIMIT 500`
	selectOutcomes = `SELECT id, patient_id, course_id, cycle, measure, value_milli, band, measured_at, recorded_at, version
		FROM outcomes WHERE patient_id = $1 ORDER BY measured_at, id LIMIT 500`
)

// CheckIn returns one check-in, or checkin.ErrNotFound.
func (q ClinicalQueries) CheckIn(ctx context.Context, id uuid.UUID) (checkin.CheckIn, error) {
	var row checkInRow
	err := q.DB.GetContext(ctx, &row, selectCheckIn, id)
	if errors.Is(err, sql.ErrNoRows) {
		return checkin.CheckIn{}, checkin.ErrNotFound
	}
	if err != nil {
		return checkin.CheckIn{}, fmt.Errorf("check-in %s: %w", id, err)
	}
	return toDomainCheckIn(row), nil
}

// CheckIns lists check-ins, of one patient (uuid.Nil: all) and in one
// status ("": any).
func (q ClinicalQueries) CheckIns(ctx context.Context, patientID uuid.UUID, status checkin.Status) ([]checkin.CheckIn, error) {
	var rows []checkInRow
	if err := q.DB.SelectContext(ctx, &rows, selectCheckIns, nullUUID(patientID), string(status)); err != nil {
		return nil, fmt.Errorf("list check-ins: %w", err)
	}
	out := make([]checkin.CheckIn, len(rows))
	for i, r := range rows {
		out[i] = toDomainCheckIn(r)
	}
	return out, nil
}

type escalationRow struct {
	ID        uuid.UUID      `db:"id"`
	CheckInID uuid.UUID      `db:"check_in_id"`
	PatientID uuid.UUID      `db:"patient_id"`
	CourseID  uuid.NullUUID  `db:"course_id"`
	ProductID string         `db:"product_id"`
	Reasons   pq.StringArray `db:"reasons"`
	Scale     string         `db:"suggested_scale"`
	Grade     int            `db:"suggested_grade"`
	Status    string         `db:"status"`
	RaisedAt  time.Time      `db:"raised_at"`
	Version   int64          `db:"version"`
}

// Escalations lists escalations in a status.
func (q ClinicalQueries) Escalations(ctx context.Context, status string) ([]app.Escalation, error) {
	var rows []escalationRow
	if err := q.DB.SelectContext(ctx, &rows, selectEscalations, status); err != nil {
		return nil, fmt.Errorf("list escalations: %w", err)
	}
	out := make([]app.Escalation, len(rows))
	for i, r := range rows {
		out[i] = app.Escalation{ID: r.ID, CheckInID: r.CheckInID, PatientID: r.PatientID, CourseID: r.CourseID.UUID,
			ProductID: r.ProductID, Assessment: checkin.Assessment{Reasons: r.Reasons, Scale: r.Scale, Grade: r.Grade},
			Status: r.Status, RaisedAt: r.RaisedAt.UTC(), Version: r.Version}
	}
	return out, nil
}

type adverseEventRow struct {
	ID            uuid.UUID     `db:"id"`
	PatientID     uuid.UUID     `db:"patient_id"`
	CourseID      uuid.UUID     `db:"course_id"`
	Term          string        `db:"term"`
	Scale         string        `db:"scale"`
	Grade         int           `db:"grade"`
	OnsetAt       time.Time     `db:"onset_at"`
	Serious       bool          `db:"serious"`
	Outcome       string        `db:"outcome"`
	ProductID     string        `db:"product_id"`
	AppointmentID uuid.NullUUID `db:"appointment_id"`
	RecordedAt    time.Time     `db:"recorded_at"`
	Version       int64         `db:"version"`
}

// AdverseEvents lists a patient's adverse events.
func (q ClinicalQueries) AdverseEvents(ctx context.Context, patientID uuid.UUID) ([]adverse.Event, error) {
	var rows []adverseEventRow
	if err := q.DB.SelectContext(ctx, &rows, selectAdverseEvents, patientID); err != nil {
		return nil, fmt.Errorf("list adverse events: %w", err)
	}
	out := make([]adverse.Event, len(rows))
	for i, r := range rows {
		out[i] = adverse.Event{ID: r.ID, PatientID: r.PatientID, CourseID: r.CourseID, Term: r.Term, Scale: adverse.Scale(r.Scale),
			Grade: r.Grade, OnsetAt: r.OnsetAt.UTC(), Serious: r.Serious, Outcome: r.Outcome, ProductID: r.ProductID,
			AppointmentID: r.AppointmentID.UUID, RecordedAt: r.RecordedAt.UTC(), Version: r.Version}
	}
	return out, nil
}

type recipientRow struct {
	PatientID     uuid.UUID     `db:"patient_id"`
	CourseID      uuid.NullUUID `db:"course_id"`
	AppointmentID uuid.UUID     `db:"appointment_id"`
	Cycle         int           `db:"cycle"`
	InfusedAt     time.Time     `db:"infused_at"`
}

// Recipients lists every infusion of the product follow-up has seen.
func (q ClinicalQueries) Recipients(ctx context.Context, productID string) ([]app.Recipient, error) {
	var rows []recipientRow
	if err := q.DB.SelectContext(ctx, &rows, selectRecipients, productID); err != nil {
		return nil, fmt.Errorf("list recipients: %w", err)
	}
	out := make([]app.Recipient, len(rows))
	for i, r := range rows {
		out[i] = app.Recipient{PatientID: r.PatientID, CourseID: r.CourseID.UUID, AppointmentID: r.AppointmentID,
			Cycle: r.Cycle, InfusedAt: r.InfusedAt.UTC()}
	}
	return out, nil
}

type outcomeRow struct {
	ID         uuid.UUID `db:"id"`
	PatientID  uuid.UUID `db:"patient_id"`
	CourseID   uuid.UUID `db:"course_id"`
	Cycle      int       `db:"cycle"`
	Measure    string    `db:"measure"`
	ValueMilli int64     `db:"value_milli"`
	Band       string    `db:"band"`
	MeasuredAt time.Time `db:"measured_at"`
	RecordedAt time.Time `db:"recorded_at"`
	Version    int64     `db:"version"`
}

// Outcomes lists a patient's outcome scores.
func (q ClinicalQueries) Outcomes(ctx context.Context, patientID uuid.UUID) ([]outcome.Outcome, error) {
	var rows []outcomeRow
	if err := q.DB.SelectContext(ctx, &rows, selectOutcomes, patientID); err != nil {
		return nil, fmt.Errorf("list outcomes: %w", err)
	}
	out := make([]outcome.Outcome, len(rows))
	for i, r := range rows {
		out[i] = outcome.Outcome{ID: r.ID, PatientID: r.PatientID, CourseID: r.CourseID, Cycle: r.Cycle,
			Score:      outcome.Score{Measure: outcome.Measure(r.Measure), ValueMilli: r.ValueMilli, Band: r.Band},
			MeasuredAt: r.MeasuredAt.UTC(), RecordedAt: r.RecordedAt.UTC(), Version: r.Version}
	}
	return out, nil
}
