// Package adapters holds billing's Postgres repositories.
package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/account"
)

type accountRow struct {
	PatientID uuid.UUID `db:"patient_id"`
	Currency  string    `db:"currency"`
	OpenedAt  time.Time `db:"opened_at"`
	Version   int64     `db:"version"`
}

const (
	// insertAccount opens an account once; a repeated event changes nothing.
	insertAccount = `INSERT INTO accounts (patient_id, currency, opened_at, version)
		VALUES (:patient_id, :currency, :opened_at, :version) ON CONFLICT (patient_id) DO NOTHING`
	selectAccount = `SELECT patient_id, currency, opened_at, version FROM accounts WHERE patient_id = $1`
)

type txRepositories struct {
	tx *sqlx.Tx
	s  *Store
}

func (r txRepositories) Accounts() app.AccountOpener  { return accountsTx{tx: r.tx} }
func (r txRepositories) Ledger() app.Ledger           { return Ledger{Tx: r.tx, Outbox: r.s.Outbox} }
func (r txRepositories) Courses() app.Courses         { return courses(r) }
func (r txRepositories) Jobs() app.Jobs               { return jobsTx(r) }
func (r txRepositories) Invoices() app.Invoices       { return invoices(r) }
func (r txRepositories) Payments() app.Payments       { return payments(r) }
func (r txRepositories) Refunds() app.Refunds         { return refunds(r) }
func (r txRepositories) CreditNotes() app.CreditNotes { return creditNotes(r) }
func (r txRepositories) Settlements() app.Settlements { return settlements(r) }
func (r txRepositories) Reference() app.Reference     { return Reference{Q: r.tx} }

// accountsTx writes accounts inside a transaction.
type accountsTx struct{ tx sqlx.ExtContext }

// Open stores a new account unless the patient has one.
func (r accountsTx) Open(ctx context.Context, a account.Account) error {
	row := accountRow{PatientID: a.PatientID, Currency: a.Currency, OpenedAt: a.OpenedAt, Version: a.Version}
	if _, err := sqlx.NamedExecContext(ctx, r.tx, insertAccount, row); err != nil {
		return fmt.Errorf("open account %s: %w", a.PatientID, err)
	}
	return nil
}

// Accounts reads accounts (app.AccountReader).
type Accounts struct{ DB *sqlx.DB }

var _ app.AccountReader = Accounts{}

// Get returns the patient's account or account.ErrNotFound.
func (r Accounts) Get(ctx context.Context, patientID uuid.UUID) (account.Account, error) {
	var row accountRow
	if err := r.DB.GetContext(ctx, &row, selectAccount, patientID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return account.Account{}, account.ErrNotFound
		}
		return account.Account{}, fmt.Errorf("get account %s: %w", patientID, err)
	}
	return account.Account{PatientID: row.PatientID, Currency: row.Currency, OpenedAt: row.OpenedAt.UTC(), Version: row.Version}, nil
}
