// Package adapters holds scheduling's Postgres repositories.
package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/patientref"
)

type patientRow struct {
	PatientID  uuid.UUID `db:"patient_id"`
	FamilyName string    `db:"family_name"`
	GivenName  string    `db:"given_name"`
	BirthDate  time.Time `db:"birth_date"`
	Version    int64     `db:"version"`
	UpdatedAt  time.Time `db:"updated_at"`
}

const (
	// upsertPatient keeps the newest version: a stale or repeated event changes nothing.
	upsertPatient = `INSERT INTO patients (patient_id, family_name, given_name, birth_date, version, updated_at)
		VALUES (:patient_id, :family_name, :given_name, :birth_date, :version, :updated_at)
		ON CONFLICT (patient_id) DO UPDATE SET family_name = EXCLUDED.family_name, given_name = EXCLUDED.given_name,
			birth_date = EXCLUDED.birth_date, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
		WHERE patients.version < EXCLUDED.version`
	selectPatient = `SELECT * FROM patients WHERE patient_id = $1`
)

// patientsTx writes patient references inside the handler's transaction.
type patientsTx struct{ tx *sqlx.Tx }

// Save stores p unless the same or a newer version is stored.
func (r patientsTx) Save(ctx context.Context, p patientref.Patient) error {
	row := patientRow{PatientID: p.ID, FamilyName: p.FamilyName, GivenName: p.GivenName, BirthDate: p.BirthDate,
		Version: p.Version, UpdatedAt: p.UpdatedAt}
	if _, err := sqlx.NamedExecContext(ctx, r.tx, upsertPatient, row); err != nil {
		return fmt.Errorf("save patient reference %s: %w", p.ID, err)
	}
	return nil
}

// Get returns a reference or patientref.ErrNotFound.
func (r patientsTx) Get(ctx context.Context, id uuid.UUID) (patientref.Patient, error) {
	return getPatient(ctx, r.tx, id)
}

// Patients reads patient references (app.PatientReader).
type Patients struct{ DB *sqlx.DB }

var _ app.PatientReader = Patients{}

// Get returns a reference or patientref.ErrNotFound.
func (r Patients) Get(ctx context.Context, id uuid.UUID) (patientref.Patient, error) {
	return getPatient(ctx, r.DB, id)
}

func getPatient(ctx context.Context, q sqlx.QueryerContext, id uuid.UUID) (patientref.Patient, error) {
	var row patientRow
	if err := sqlx.GetContext(ctx, q, &row, selectPatient, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return patientref.Patient{}, patientref.ErrNotFound
		}
		return patientref.Patient{}, fmt.Errorf("get patient reference %s: %w", id, err)
	}
	return patientref.Patient{ID: row.PatientID, FamilyName: row.FamilyName, GivenName: row.GivenName,
		BirthDate: row.BirthDate.UTC(), Version: row.Version, UpdatedAt: row.UpdatedAt.UTC()}, nil
}
