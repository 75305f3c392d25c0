// Package ports adapts scheduling's use cases to events and HTTP.
package ports

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/scheduling/internal/adapters"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/patientref"
)

// Events registers scheduling's event handlers.
func Events(p *messaging.Processor) error {
	return messaging.Handle(p, "patient_registered", OnPatientRegistered)
}

// OnPatientRegistered records the patient reference.
func OnPatientRegistered(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientRegistered]) error {
	b := ev.Body
	id, err := uuid.Parse(b.GetPatientId())
	if err != nil {
		return messaging.Permanent(fmt.Errorf("patient_id is not a UUID"))
	}
	birth, err := time.Parse(time.DateOnly, b.GetBirthDate())
	if err != nil {
		return messaging.Permanent(fmt.Errorf("birth_date: %w", err))
	}
	ref, err := patientref.NewPatient(id, b.GetFamilyName(), b.GetGivenName(), birth, b.GetVersion(), b.GetOccurredAt().AsTime())
	if err != nil {
		return messaging.Permanent(err)
	}
	return app.RecordPatient{}.Handle(ctx, adapters.PatientsTx{Tx: tx}, ref)
}
