// Package app holds scheduling's use cases.
package app

import (
	"context"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/patientref"
)

// Repositories are scheduling's repositories bound to one transaction. An
// event handler gets them from the factory service.New wires (adapters.
// TxRepositories), so what it writes commits, or rolls back, together with
// the record that the event was processed.
type Repositories interface {
	Patients() PatientWriter
}

// PatientWriter stores patient references.
type PatientWriter interface {
	// Save stores p unless the same or a newer version is stored: a stale
	// or repeated event changes nothing.
	Save(ctx context.Context, p patientref.Patient) error
}

// PatientReader reads patient references.
type PatientReader interface {
	// Get returns the reference or patientref.ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (patientref.Patient, error)
}

// RecordPatient keeps the reference of a patient intake registered or updated.
type RecordPatient struct{}

// Handle stores p through the handler's repositories.
func (RecordPatient) Handle(ctx context.Context, repos Repositories, p patientref.Patient) error {
	return repos.Patients().Save(ctx, p)
}
