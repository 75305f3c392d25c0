package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
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

const selectCreditNotes = `SELECT n.id, n.number, n.patient_id, n.invoice_id, coalesce(i.number, '') AS invoice_number, n.course_id,
	n.currency, n.total, n.reduce_owed, n.refund, n.to_account_credit, n.from_revenue, n.reason, n.created_at
	FROM credit_notes n JOIN invoices i ON i.id = n.invoice_id
	WHERE ($1::uuid IS NULL OR n.patient_id = $1) AND ($2::uuid IS NULL OR n.course_id = $2)
	ORDER BY n.number`

// CreditNotes lists the credit notes of a patient and/or a course, by
// number.
func (q Queries) CreditNotes(ctx context.Context, patientID, courseID uuid.UUID) ([]app.CreditNote, error) {
	var rows []struct {
		ID              uuid.UUID     `db:"id"`
		Number          string        `db:"number"`
		PatientID       uuid.UUID     `db:"patient_id"`
		InvoiceID       uuid.UUID     `db:"invoice_id"`
		InvoiceNumber   string        `db:"invoice_number"`
		CourseID        uuid.NullUUID `db:"course_id"`
		Currency        string        `db:"currency"`
		Total           int64         `db:"total"`
		ReduceOwed      int64         `db:"reduce_owed"`
		Refund          int64         `db:"refund"`
		ToAccountCredit int64         `db:"to_account_credit"`
		FromRevenue     int64         `db:"from_revenue"`
		Reason          string        `db:"reason"`
		CreatedAt       time.Time     `db:"created_at"`
	}
	if err := q.DB.SelectContext(ctx, &rows, selectCreditNotes, nullUUID(patientID), nullUUID(courseID)); err != nil {
		return nil, fmt.Errorf("list credit notes: %w", err)
	}
	out := make([]app.CreditNote, 0, len(rows))
	for _, r := range rows {
		c, err := money.ParseCurrency(r.Currency)
		if err != nil {
			return nil, err
		}
		amounts := make([]money.Money, 5)
		for i, v := range []int64{r.Total, r.ReduceOwed, r.Refund, r.ToAccountCredit, r.FromRevenue} {
			if amounts[i], err = money.New(v, c); err != nil {
				return nil, fmt.Errorf("credit note %s: %w", r.ID, err)
			}
		}
		out = append(out, app.CreditNote{ID: r.ID, Number: r.Number, PatientID: r.PatientID, InvoiceID: r.InvoiceID,
			InvoiceNumber: r.InvoiceNumber, CourseID: r.CourseID.UUID, Total: amounts[0], ReduceOwed: amounts[1], Refund: amounts[2],
			ToAccountCredit: amounts[3], FromRevenue: amounts[4], Reason: r.Reason, CreatedAt: r.CreatedAt.UTC()})
	}
	return out, nil
}
