// Package app holds billing's use cases.
package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/domain/account"
)

// Repositories are billing's repositories bound to one transaction. An
// event handler gets them from the factory service.New wires (adapters.
// TxRepositories), so what it writes commits, or rolls back, together with
// the record that the event was processed.
type Repositories interface {
	Accounts() AccountOpener
}

// AccountOpener stores new accounts.
type AccountOpener interface {
	// Open stores a new account; a patient's second one changes nothing (a
	// repeated event).
	Open(ctx context.Context, a account.Account) error
}

// AccountReader reads accounts.
type AccountReader interface {
	// Get returns the patient's account or account.ErrNotFound.
	Get(ctx context.Context, patientID uuid.UUID) (account.Account, error)
}

// OpenAccount opens the account of a newly registered patient in the
// clinic's currency.
type OpenAccount struct{ Currency string }

// Handle opens the account through the handler's repositories.
func (h OpenAccount) Handle(ctx context.Context, repos Repositories, patientID uuid.UUID, version int64, at time.Time) error {
	a, err := account.Open(patientID, h.Currency, version, at)
	if err != nil {
		return err
	}
	return repos.Accounts().Open(ctx, a)
}
