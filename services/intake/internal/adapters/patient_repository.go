// Package adapters holds intake's Postgres repositories.
package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
)

// PatientRepository stores patients and writes their events to the outbox
// in the same transaction.
type PatientRepository struct {
	db     *sqlx.DB
	outbox *messaging.Outbox
}

// NewPatientRepository returns a repository over db.
func NewPatientRepository(db *sqlx.DB, outbox *messaging.Outbox) *PatientRepository {
	return &PatientRepository{db: db, outbox: outbox}
}

type patientRow struct {
	ID                uuid.UUID      `db:"id"`
	FamilyName        string         `db:"family_name"`
	GivenName         string         `db:"given_name"`
	BirthDate         time.Time      `db:"birth_date"`
	Sex               string         `db:"sex"`
	Phone             sql.NullString `db:"phone"`
	Email             sql.NullString `db:"email"`
	PreferredLanguage string         `db:"preferred_language"`
	Version           int64          `db:"version"`
	CreatedAt         time.Time      `db:"created_at"`
	UpdatedAt         time.Time      `db:"updated_at"`
}

const (
	insertPatient = `INSERT INTO patients (id, family_name, given_name, birth_date, sex, phone, email, preferred_language, version, created_at, updated_at)
		VALUES (:id, :family_name, :given_name, :birth_date, :sex, :phone, :email, :preferred_language, :version, :created_at, :updated_at)`
	selectPatient         = `SELECT * FROM patients WHERE id = $1`
	selectPatientIdentity = `SELECT id FROM patients WHERE family_name = $1 AND given_name = $2 AND birth_date = $3 AND phone = $4`
	identityConstraint    = "patients_identity_key"
)

func toDBPatient(p *patient.Patient) patientRow {
	d := p.Details()
	return patientRow{
		ID: p.ID(), FamilyName: d.FamilyName, GivenName: d.GivenName, BirthDate: d.BirthDate, Sex: string(d.Sex),
		Phone: nullString(d.Phone), Email: nullString(d.Email), PreferredLanguage: d.PreferredLanguage,
		Version: p.Version(), CreatedAt: p.CreatedAt(), UpdatedAt: p.UpdatedAt(),
	}
}

func toDomainPatient(r patientRow) *patient.Patient {
	return patient.UnmarshalPatientFromDatabase(r.ID, patient.Details{
		FamilyName: r.FamilyName, GivenName: r.GivenName, BirthDate: r.BirthDate.UTC(), Sex: patient.Sex(r.Sex),
		Phone: r.Phone.String, Email: r.Email.String, PreferredLanguage: r.PreferredLanguage,
	}, r.Version, r.CreatedAt.UTC(), r.UpdatedAt.UTC())
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// Add stores a new patient and its PatientRegistered event. A duplicate
// becomes *patient.DuplicateError naming the existing patient.
func (r *PatientRepository) Add(ctx context.Context, p *patient.Patient) error {
	err := pgdb.InTx(ctx, r.db, nil, func(tx *sqlx.Tx) error {
		if _, err := tx.NamedExecContext(ctx, insertPatient, toDBPatient(p)); err != nil {
			return pgdb.MapError(err)
		}
		return r.outbox.Publish(ctx, tx, p.ID().String(), registeredEvent(p))
	})
	var ce *pgdb.ConstraintError
	if errors.As(err, &ce) && ce.Constraint == identityConstraint {
		d := p.Details()
		var existing uuid.UUID
		if qerr := r.db.GetContext(ctx, &existing, selectPatientIdentity, d.FamilyName, d.GivenName, d.BirthDate, d.Phone); qerr != nil {
			return fmt.Errorf("look up duplicate: %w", qerr)
		}
		return &patient.DuplicateError{ExistingID: existing, Rule: "name_birth_date_phone"}
	}
	if err != nil {
		return fmt.Errorf("add patient %s: %w", p.ID(), err)
	}
	return nil
}

// Get returns a patient or patient.ErrNotFound.
func (r *PatientRepository) Get(ctx context.Context, id uuid.UUID) (*patient.Patient, error) {
	var row patientRow
	if err := r.db.GetContext(ctx, &row, selectPatient, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, patient.ErrNotFound
		}
		return nil, fmt.Errorf("get patient %s: %w", id, err)
	}
	return toDomainPatient(row), nil
}

func registeredEvent(p *patient.Patient) proto.Message {
	d := p.Details()
	return &intakev1.PatientRegistered{
		PatientId: p.ID().String(), Version: p.Version(), OccurredAt: timestamppb.New(p.UpdatedAt()),
		FamilyName: d.FamilyName, GivenName: d.GivenName, BirthDate: d.BirthDate.Format(time.DateOnly),
		Sex: string(d.Sex), Phone: d.Phone, Email: d.Email, PreferredLanguage: d.PreferredLanguage,
	}
}
