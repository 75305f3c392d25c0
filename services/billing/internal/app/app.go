// Package app holds billing's use cases.
package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/domain/account"
)

// AccountOpener stores new accounts.
type AccountOpener interface {
	Open(ctx context.Context, a account.Account) error
}

// AccountReader reads accounts.
type AccountReader interface {
	Get(ctx context.Context, patientID uuid.UUID) (account.Account, error)
}

// OpenAccount opens the account of a newly registered patient in the
// clinic's currency.
type OpenAccount struct{ Currency string }

// Handle opens the account through w.
func (h OpenAccount) Handle(ctx context.Context, w AccountOpener, patientID uuid.UUID, version int64, at time.Time) error {
	a, err := account.Open(patientID, h.Currency, version, at)
	if err != nil {
		return err
	}
	return w.Open(ctx, a)
}
