package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

type refunds txRepositories

var _ app.Refunds = refunds{}

const (
	insertRefund = `INSERT INTO refunds (id, patient_id, invoice_id, amount, currency, reason, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`
	selectRefundForUpdate = `SELECT r.id, r.patient_id, r.invoice_id, coalesce(i.number, '') AS number, r.amount, r.currency,
		r.reason, r.status, r.created_at FROM refunds r LEFT JOIN invoices i ON i.id = r.invoice_id WHERE r.id = $1 FOR UPDATE OF r`
	markRefundIssued = `UPDATE refunds SET status = 'issued', approved_by = $2, updated_at = $3 WHERE id = $1`
)

// Add stores a refund; the same reason twice on an invoice is refused.
func (r refunds) Add(ctx context.Context, x app.Refund) error {
	if _, err := r.tx.ExecContext(ctx, insertRefund, x.ID, x.PatientID, nullUUID(x.InvoiceID), x.Amount.Amount(), x.Amount.Currency().String(),
		x.Reason, x.Status, x.CreatedAt); err != nil {
		if errors.Is(pgdb.MapError(err), pgdb.ErrUniqueViolation) {
			return invoice.ErrDuplicateRefund
		}
		return fmt.Errorf("store refund %s: %w", x.ID, err)
	}
	return r.publishCreditRefund(ctx, x)
}

// publishCreditRefund publishes RefundIssued for an issued refund of
// account credit (one against an invoice is published with the invoice).
func (r refunds) publishCreditRefund(ctx context.Context, x app.Refund) error {
	if x.Status != app.RefundIssued || x.InvoiceID != uuid.Nil {
		return nil
	}
	return writeMoneyEvents(ctx, txRepositories(r), x.PatientID, []app.Refund{x})
}

// Get returns the refund locked.
func (r refunds) Get(ctx context.Context, id uuid.UUID) (app.Refund, error) {
	var row struct {
		ID        uuid.UUID     `db:"id"`
		PatientID uuid.UUID     `db:"patient_id"`
		InvoiceID uuid.NullUUID `db:"invoice_id"`
		Number    string        `db:"number"`
		Amount    int64         `db:"amount"`
		Currency  string        `db:"currency"`
		Reason    string        `db:"reason"`
		Status    string        `db:"status"`
		CreatedAt time.Time     `db:"created_at"`
	}
	if err := r.tx.GetContext(ctx, &row, selectRefundForUpdate, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return app.Refund{}, app.ErrNoRefund
		}
		return app.Refund{}, fmt.Errorf("get refund %s: %w", id, err)
	}
	c, err := money.ParseCurrency(row.Currency)
	if err != nil {
		return app.Refund{}, err
	}
	m, err := money.New(row.Amount, c)
	if err != nil {
		return app.Refund{}, err
	}
	return app.Refund{ID: row.ID, PatientID: row.PatientID, InvoiceID: row.InvoiceID.UUID, Number: row.Number, Amount: m,
		Reason: row.Reason, Status: row.Status, CreatedAt: row.CreatedAt.UTC()}, nil
}

// Issued marks a pending refund issued.
func (r refunds) Issued(ctx context.Context, x app.Refund, approvedBy string, at time.Time) error {
	if _, err := r.tx.ExecContext(ctx, markRefundIssued, x.ID, approvedBy, at); err != nil {
		return fmt.Errorf("issue refund %s: %w", x.ID, err)
	}
	return r.publishCreditRefund(ctx, x)
}
