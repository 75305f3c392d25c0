// Package ports adapts billing's use cases to events and HTTP.
package ports

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/billing/internal/adapters"
	"github.com/clinicops/clinicops/services/billing/internal/app"
)

// Events registers billing's event handlers.
func Events(p *messaging.Processor, open app.OpenAccount) error {
	return messaging.Handle(p, "patient_registered",
		func(ctx context.Context, tx *sqlx.Tx, ev messaging.Event[*intakev1.PatientRegistered]) error {
			id, err := uuid.Parse(ev.Body.GetPatientId())
			if err != nil {
				return messaging.Permanent(errors.New("patient_id is not a UUID"))
			}
			return open.Handle(ctx, adapters.AccountsTx{Tx: tx}, id, ev.Body.GetVersion(), ev.Body.GetOccurredAt().AsTime())
		})
}
