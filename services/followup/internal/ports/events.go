// Package ports adapts followup's use cases to events and HTTP.
package ports

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/followup/internal/adapters"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
)

// Events registers followup's event handlers.
func Events(p *messaging.Processor) error {
	return messaging.Handle(p, "patient_registered", OnPatientRegistered)
}

// OnPatientRegistered keeps the new patient's contact details and language.
func OnPatientRegistered(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientRegistered]) error {
	b := ev.Body
	id, err := uuid.Parse(b.GetPatientId())
	if err != nil {
		return messaging.Permanent(errors.New("patient_id is not a UUID"))
	}
	err = app.RecordContact{}.Handle(ctx, adapters.ContactsTx{Tx: tx}, contact.Contact{
		PatientID: id, Phone: b.GetPhone(), Email: b.GetEmail(), PreferredLanguage: b.GetPreferredLanguage(),
		SMSConsent: b.GetContactSmsConsent(), EmailConsent: b.GetContactEmailConsent(),
		Version: b.GetVersion(), UpdatedAt: b.GetOccurredAt().AsTime(),
	})
	if err != nil {
		return messaging.Permanent(err)
	}
	return nil
}
