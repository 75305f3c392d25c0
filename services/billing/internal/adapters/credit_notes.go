package adapters

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/app"
)

type creditNotes txRepositories

var _ app.CreditNotes = creditNotes{}

const (
	// nextCreditNoteNumber is nextInvoiceNumber's discipline for the
	// credit notes' own series.
	nextCreditNoteNumber = `INSERT INTO credit_note_numbers (year, last) VALUES ($1, 1)
		ON CONFLICT (year) DO UPDATE SET last = credit_note_numbers.last + 1 RETURNING last`
	insertCreditNote = `INSERT INTO credit_notes (id, number, patient_id, invoice_id, course_id, currency, total, reduce_owed,
		refund, to_account_credit, from_revenue, reason, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	insertSettlement = `INSERT INTO settlements (key, course_id, kind, cycle, detail, at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (key) DO NOTHING`
)

// NextNumber takes the year's next credit note number in the transaction,
// as "CN-<year>-<six digits>": gapless, the year's row locked until the
// transaction ends.
func (r creditNotes) NextNumber(ctx context.Context, year int) (string, error) {
	var n int64
	if err := r.tx.GetContext(ctx, &n, nextCreditNoteNumber, year); err != nil {
		return "", fmt.Errorf("next credit note number of %d: %w", year, err)
	}
	return fmt.Sprintf("CN-%04d-%06d", year, n), nil
}

// Add stores an issued credit note (its CreditNoteIssued was published
// with the invoice it credits).
func (r creditNotes) Add(ctx context.Context, n app.CreditNote) error {
	if _, err := r.tx.ExecContext(ctx, insertCreditNote, n.ID, n.Number, n.PatientID, n.InvoiceID, nullUUID(n.CourseID),
		n.Total.Currency().String(), n.Total.Amount(), n.ReduceOwed.Amount(), n.Refund.Amount(), n.ToAccountCredit.Amount(),
		n.FromRevenue.Amount(), n.Reason, n.CreatedAt); err != nil {
		return fmt.Errorf("store credit note %s: %w", n.ID, err)
	}
	return nil
}

type settlements txRepositories

var _ app.Settlements = settlements{}

// Take records the settlement's key; false when it was taken before.
func (r settlements) Take(ctx context.Context, s app.SettlementRecord) (bool, error) {
	res, err := r.tx.ExecContext(ctx, insertSettlement, s.Key, s.CourseID, s.Kind, s.Cycle, []byte(s.Detail), s.At)
	if err != nil {
		return false, fmt.Errorf("record settlement %s: %w", s.Key, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// nullUUID stores uuid.Nil as NULL.
func nullUUID(id uuid.UUID) uuid.NullUUID { return uuid.NullUUID{UUID: id, Valid: id != uuid.Nil} }
