// Package ports adapts scheduling's use cases to events and HTTP.
package ports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/scheduling/internal/adapters"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/patientref"
)

// Events registers scheduling's event handlers.
func Events(p *messaging.Processor) error {
	return errors.Join(
		messaging.Handle(p, "patient_registered", OnPatientRegistered),
		messaging.Handle(p, "patient_updated", OnPatientUpdated),
	)
}

// OnPatientRegistered records the patient reference.
func OnPatientRegistered(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientRegistered]) error {
	b := ev.Body
	return recordPatient(ctx, tx, b.GetPatientId(), b.GetFamilyName(), b.GetGivenName(), b.GetBirthDate(), b.GetVersion(), b.GetOccurredAt())
}

// OnPatientUpdated keeps the reference current; a stale version changes nothing.
func OnPatientUpdated(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientUpdated]) error {
	b := ev.Body
	return recordPatient(ctx, tx, b.GetPatientId(), b.GetFamilyName(), b.GetGivenName(), b.GetBirthDate(), b.GetVersion(), b.GetOccurredAt())
}

func recordPatient(ctx context.Context, tx *sqlx.Tx, patientID, family, given, birthDate string, version int64, at *timestamppb.Timestamp) error {
	id, err := uuid.Parse(patientID)
	if err != nil {
		return messaging.Permanent(fmt.Errorf("patient_id is not a UUID"))
	}
	birth, err := time.Parse(time.DateOnly, birthDate)
	if err != nil {
		return messaging.Permanent(fmt.Errorf("birth_date: %w", err))
	}
	ref, err := patientref.NewPatient(id, family, given, birth, version, at.AsTime())
	if err != nil {
		return messaging.Permanent(err)
	}
	return app.RecordPatient{}.Handle(ctx, adapters.PatientsTx{Tx: tx}, ref)
}
