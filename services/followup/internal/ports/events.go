// Package ports adapts followup's use cases to events and HTTP.
package ports

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/followup/internal/adapters"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
)

// Events registers followup's event handlers.
func Events(p *messaging.Processor) error {
	return errors.Join(
		messaging.Handle(p, "patient_registered", OnPatientRegistered),
		messaging.Handle(p, "patient_updated", OnPatientUpdated),
		messaging.Handle(p, "consent_recorded", OnConsentRecorded),
		messaging.Handle(p, "consent_withdrawn", OnConsentWithdrawn),
	)
}

// OnPatientRegistered keeps the new patient's contact details and language.
func OnPatientRegistered(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientRegistered]) error {
	b := ev.Body
	return recordContact(ctx, tx, b.GetPatientId(), b.GetPhone(), b.GetEmail(), b.GetPreferredLanguage(), b.GetVersion(), b.GetOccurredAt())
}

// OnPatientUpdated keeps changed contact details (a stale version changes nothing).
func OnPatientUpdated(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientUpdated]) error {
	b := ev.Body
	return recordContact(ctx, tx, b.GetPatientId(), b.GetPhone(), b.GetEmail(), b.GetPreferredLanguage(), b.GetVersion(), b.GetOccurredAt())
}

func recordContact(ctx context.Context, tx *sqlx.Tx, patientID, phone, email, lang string, version int64, at *timestamppb.Timestamp) error {
	id, err := uuid.Parse(patientID)
	if err != nil {
		return messaging.Permanent(errors.New("patient_id is not a UUID"))
	}
	err = app.RecordContact{}.Handle(ctx, adapters.ContactsTx{Tx: tx}, contact.Contact{
		PatientID: id, Phone: phone, Email: email, PreferredLanguage: lang, Version: version, UpdatedAt: at.AsTime(),
	})
	var invalid *contact.InvalidError
	if errors.As(err, &invalid) {
		return messaging.Permanent(err)
	}
	return err
}

// OnConsentRecorded turns on a contact channel the patient consented to.
func OnConsentRecorded(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.ConsentRecorded]) error {
	b := ev.Body
	return recordChannelConsent(ctx, tx, b.GetConsentId(), b.GetPatientId(), b.GetKind(), true, b.GetVersion(), b.GetOccurredAt())
}

// OnConsentWithdrawn turns the channel off again.
func OnConsentWithdrawn(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.ConsentWithdrawn]) error {
	b := ev.Body
	return recordChannelConsent(ctx, tx, b.GetConsentId(), b.GetPatientId(), b.GetKind(), false, b.GetVersion(), b.GetOccurredAt())
}

func recordChannelConsent(ctx context.Context, tx *sqlx.Tx, consentID, patientID, kind string, active bool, version int64, at *timestamppb.Timestamp) error {
	cid, err1 := uuid.Parse(consentID)
	pid, err2 := uuid.Parse(patientID)
	if err1 != nil || err2 != nil {
		return messaging.Permanent(errors.New("consent_id or patient_id is not a UUID"))
	}
	return app.RecordChannelConsent{}.Handle(ctx, adapters.ContactsTx{Tx: tx}, kind, contact.ChannelConsent{
		ConsentID: cid, PatientID: pid, Active: active, Version: version, UpdatedAt: at.AsTime(),
	})
}
