// Package app holds scheduling's use cases.
package app

import (
	"context"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/patientref"
)

// PatientWriter stores patient references.
type PatientWriter interface {
	Save(ctx context.Context, p patientref.Patient) error
}

// PatientReader reads patient references.
type PatientReader interface {
	Get(ctx context.Context, id uuid.UUID) (patientref.Patient, error)
}

// RecordPatient keeps the reference of a patient intake registered or updated.
type RecordPatient struct{}

// Handle stores p through w.
func (RecordPatient) Handle(ctx context.Context, w PatientWriter, p patientref.Patient) error {
	return w.Save(ctx, p)
}
