// Package app holds intake's use cases: one small type per command or query.
package app

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
)

// PatientRepository is what the patient use cases need from storage. Add
// and Update store the patient and the events it recorded (Events) in one
// transaction; a patient that recorded nothing is not written.
type PatientRepository interface {
	// Add stores a new patient; a duplicate is *patient.DuplicateError.
	Add(ctx context.Context, p *patient.Patient) error
	// Get returns the patient or patient.ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (*patient.Patient, error)
	// Update locks the patient, applies fn and stores the result; fn's error
	// changes nothing. Unknown: patient.ErrNotFound.
	Update(ctx context.Context, id uuid.UUID, fn func(*patient.Patient) error) (*patient.Patient, error)
	// Search returns a page and the cursor of the next one ("" at the end);
	// a cursor Search did not issue is ErrBadCursor.
	Search(ctx context.Context, q PatientSearch) ([]*patient.Patient, string, error)
}

// ErrBadCursor: a search cursor that Search did not issue.
var ErrBadCursor = errors.New("bad cursor")

// PatientSearch finds patients by name prefix, phone or national id; every
// filter given must match.
type PatientSearch struct {
	// NamePrefix matches family name then given name, without spaces, case-insensitively.
	NamePrefix string
	Phone      string
	NationalID string
	Limit      int
	Cursor     string
}

// RegisterPatient registers a patient and publishes PatientRegistered.
type RegisterPatient struct {
	Repo PatientRepository
	Now  func() time.Time
}

// Handle validates and stores the patient.
func (h RegisterPatient) Handle(ctx context.Context, d patient.Details) (*patient.Patient, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	p, err := patient.NewPatient(id, d, h.Now())
	if err != nil {
		return nil, err
	}
	if err := h.Repo.Add(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// GetPatient reads one patient.
type GetPatient struct{ Repo PatientRepository }

// Handle returns the patient or patient.ErrNotFound.
func (h GetPatient) Handle(ctx context.Context, id uuid.UUID) (*patient.Patient, error) {
	return h.Repo.Get(ctx, id)
}

// UpdatePatient changes a patient's details if the caller saw the current
// version, and publishes PatientUpdated.
type UpdatePatient struct {
	Repo PatientRepository
	Now  func() time.Time
}

// Handle applies change to the current details; expectedVersion is the
// version the caller read (If-Match).
func (h UpdatePatient) Handle(ctx context.Context, id uuid.UUID, expectedVersion int64, change func(patient.Details) patient.Details) (*patient.Patient, error) {
	return h.Repo.Update(ctx, id, func(p *patient.Patient) error {
		return p.Update(change(p.Details()), expectedVersion, h.Now())
	})
}

// SearchPatients finds patients by name prefix, phone or national id.
type SearchPatients struct{ Repo PatientRepository }

// Handle returns a page and the next cursor.
func (h SearchPatients) Handle(ctx context.Context, q PatientSearch) ([]*patient.Patient, string, error) {
	return h.Repo.Search(ctx, q)
}
