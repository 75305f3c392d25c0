// Package app holds intake's use cases.
package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
)

// PatientRepository is what the use cases need from storage.
type PatientRepository interface {
	Add(ctx context.Context, p *patient.Patient) error
	Get(ctx context.Context, id uuid.UUID) (*patient.Patient, error)
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
	p, err := patient.NewPatient(id, d, h.Now().UTC())
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
