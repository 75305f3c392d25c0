// Package ports adapts followup's use cases to events and HTTP.
//
// # Event handlers
//
// The processor runs each handler inside the transaction that records the
// event as processed, and the handler gets followup's repositories bound
// to that transaction (app.Repositories from the factory service.New
// wires), never the transaction itself. The contract:
//   - A handler touches only followup's own database, through those
//     repositories; events it causes go to the outbox through them, in the
//     same transaction.
//   - Anything that talks to the outside world (e-mail, SMS, a webhook,
//     another service's API) is a durable job written through the
//     repositories and run after commit, never a call inside the handler:
//     the transaction may still roll back and the event be redelivered, and
//     a message sent cannot be taken back.
//   - A handler may run more than once for one event (at-least-once
//     delivery): the processor skips an event id already processed, and the
//     repositories ignore a stale or repeated aggregate version.
//   - Bad input no retry can fix is messaging.Permanent, so the event goes
//     to the dead-letter stream at once.
package ports

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/contact"
)

// Events registers followup's event handlers.
func Events(p *messaging.Processor, repos Repositories) error {
	return errors.Join(
		handle(p, "patient_registered", repos, OnPatientRegistered),
		handle(p, "patient_updated", repos, OnPatientUpdated),
		handle(p, "consent_recorded", repos, OnConsentRecorded),
		handle(p, "consent_withdrawn", repos, OnConsentWithdrawn),
	)
}

// OnPatientRegistered keeps the new patient's contact details and language.
func OnPatientRegistered(ctx context.Context, repos app.Repositories, ev messaging.Event[*intakev1.PatientRegistered]) error {
	b := ev.Body
	return recordContact(ctx, repos, b.GetPatientId(), contact.Contact{Phone: b.GetPhone(), Email: b.GetEmail(),
		PreferredLanguage: b.GetPreferredLanguage(), TimeZone: b.GetTimeZone(), Version: b.GetVersion()}, b.GetOccurredAt())
}

// OnPatientUpdated keeps changed contact details (a stale version changes nothing).
func OnPatientUpdated(ctx context.Context, repos app.Repositories, ev messaging.Event[*intakev1.PatientUpdated]) error {
	b := ev.Body
	return recordContact(ctx, repos, b.GetPatientId(), contact.Contact{Phone: b.GetPhone(), Email: b.GetEmail(),
		PreferredLanguage: b.GetPreferredLanguage(), TimeZone: b.GetTimeZone(), Version: b.GetVersion()}, b.GetOccurredAt())
}

// recordContact keeps c (its details as the event carries them) for the
// patient of patientID.
func recordContact(ctx context.Context, repos app.Repositories, patientID string, c contact.Contact, at *timestamppb.Timestamp) error {
	id, err := uuid.Parse(patientID)
	if err != nil {
		return messaging.Permanent(errors.New("patient_id is not a UUID"))
	}
	c.PatientID, c.UpdatedAt = id, at.AsTime()
	err = app.RecordContact{}.Handle(ctx, repos, c)
	var invalid *contact.InvalidError
	if errors.As(err, &invalid) {
		return messaging.Permanent(err)
	}
	return err
}

// OnConsentRecorded turns on a contact channel the patient consented to.
func OnConsentRecorded(ctx context.Context, repos app.Repositories, ev messaging.Event[*intakev1.ConsentRecorded]) error {
	b := ev.Body
	return recordChannelConsent(ctx, repos, b.GetConsentId(), b.GetPatientId(), b.GetKind(), true, b.GetVersion(), b.GetOccurredAt())
}

// OnConsentWithdrawn turns the channel off again.
func OnConsentWithdrawn(ctx context.Context, repos app.Repositories, ev messaging.Event[*intakev1.ConsentWithdrawn]) error {
	b := ev.Body
	return recordChannelConsent(ctx, repos, b.GetConsentId(), b.GetPatientId(), b.GetKind(), false, b.GetVersion(), b.GetOccurredAt())
}

func recordChannelConsent(ctx context.Context, repos app.Repositories, consentID, patientID, kind string, active bool, version int64, at *timestamppb.Timestamp) error {
	cid, err1 := uuid.Parse(consentID)
	pid, err2 := uuid.Parse(patientID)
	if err1 != nil || err2 != nil {
		return messaging.Permanent(errors.New("consent_id or patient_id is not a UUID"))
	}
	return app.RecordChannelConsent{}.Handle(ctx, repos, kind, contact.ChannelConsent{
		ConsentID: cid, PatientID: pid, Active: active, Version: version, UpdatedAt: at.AsTime(),
	})
}

// Repositories binds followup's repositories to an event handler's
// transaction (adapters.TxRepositories). It is the only place the handlers'
// side of ports meets the transaction.
type Repositories func(tx *sqlx.Tx) app.Repositories

// handle registers fn for events of type T, giving it the repositories bound
// to the processor's transaction.
func handle[T proto.Message](p *messaging.Processor, name string, repos Repositories,
	fn func(context.Context, app.Repositories, messaging.Event[T]) error) error {
	return messaging.Handle(p, name, func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[T]) error {
		return fn(ctx, repos(tx), ev)
	})
}
