package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// Queries is billing's read side, on the pool.
type Queries struct{ DB *sqlx.DB }

const (
	selectInvoice  = `SELECT ` + invoiceColumns + ` FROM invoices WHERE id = $1`
	selectInvoices = `SELECT ` + invoiceColumns + ` FROM invoices
		WHERE ($1::uuid IS NULL OR patient_id = $1) AND ($2::uuid IS NULL OR course_id = $2) AND ($3 = '' OR status = $3)
		ORDER BY number NULLS LAST, created_at LIMIT 500`
)

// Summary is the account's balances, derived from its postings.
func (q Queries) Summary(ctx context.Context, patientID uuid.UUID) (ledger.Summary, error) {
	var s ledger.Summary
	err := pgdb.InTx(ctx, q.DB, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}, func(tx *sqlx.Tx) error {
		var code string
		if err := tx.GetContext(ctx, &code, `SELECT currency FROM accounts WHERE patient_id = $1`, patientID); err != nil {
			return fmt.Errorf("account %s: %w", patientID, err)
		}
		var rows []postingRow
		if err := tx.SelectContext(ctx, &rows, selectPostings, patientID); err != nil {
			return fmt.Errorf("postings of %s: %w", patientID, err)
		}
		postings := make([]ledger.Posting, 0, len(rows))
		for _, r := range rows {
			p, err := toDomainPosting(r)
			if err != nil {
				return err
			}
			postings = append(postings, p)
		}
		c, err := money.ParseCurrency(code)
		if err != nil {
			return err
		}
		s, err = ledger.Summarize(c, postings)
		return err
	})
	return s, err
}

// Invoice returns one invoice or app.ErrNoInvoice.
func (q Queries) Invoice(ctx context.Context, id uuid.UUID) (*invoice.Invoice, error) {
	var row invoiceRow
	if err := q.DB.GetContext(ctx, &row, selectInvoice, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, app.ErrNoInvoice
		}
		return nil, fmt.Errorf("get invoice %s: %w", id, err)
	}
	return toDomainInvoice(row)
}

// Invoices lists invoices of a patient and/or a course, by number.
func (q Queries) Invoices(ctx context.Context, patientID, courseID uuid.UUID, status string) ([]*invoice.Invoice, error) {
	nu := func(id uuid.UUID) uuid.NullUUID { return uuid.NullUUID{UUID: id, Valid: id != uuid.Nil} }
	var rows []invoiceRow
	if err := q.DB.SelectContext(ctx, &rows, selectInvoices, nu(patientID), nu(courseID), status); err != nil {
		return nil, fmt.Errorf("list invoices: %w", err)
	}
	out := make([]*invoice.Invoice, 0, len(rows))
	for _, r := range rows {
		inv, err := toDomainInvoice(r)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, nil
}

// The check's queries take $1, one patient account, or NULL for all of
// them.
const (
	selectAllPostings = `SELECT id, patient_id, sequence, kind, currency, invoice_id, payment_id, refund_id, credit_note_id,
		lines, at FROM postings WHERE ($1::uuid IS NULL OR patient_id = $1) ORDER BY patient_id, sequence`
)

// recordsVsPosted finds the accounts whose records (patient_id, amount
// rows) do not add up to the lines of one side of the postings of a kind.
func recordsVsPosted(records, kind, side string) string {
	return `SELECT coalesce(y.patient_id, p.patient_id) FROM (SELECT patient_id, sum(amount) AS total FROM (` + records + `) r
			WHERE ($1::uuid IS NULL OR r.patient_id = $1) GROUP BY patient_id) y
		FULL JOIN (SELECT p.patient_id, sum((l->>'amount')::bigint) AS total FROM postings p, jsonb_array_elements(p.lines) l
			WHERE ($1::uuid IS NULL OR p.patient_id = $1) AND p.kind = '` + kind + `' AND l->>'side' = '` + side + `'
			GROUP BY p.patient_id) p ON p.patient_id = y.patient_id
		WHERE coalesce(y.total, 0) <> coalesce(p.total, 0)`
}

// agreements are what the ledger must agree with: issued invoices (void
// ones included: voiding is its own posting, of what was still owed),
// payments, refunds issued (granted, and paid out), credit notes, and the
// refunds they paid out.
var agreements = map[string]string{
	"invoices_agree":     recordsVsPosted(`SELECT patient_id, total AS amount FROM invoices WHERE number IS NOT NULL`, "invoice_issued", "debit"),
	"payments_agree":     recordsVsPosted(`SELECT patient_id, amount FROM payments`, "payment_received", "debit"),
	"refunds_agree":      recordsVsPosted(`SELECT patient_id, amount FROM refunds WHERE status = 'issued'`, "refund_granted", "credit"),
	"credit_notes_agree": recordsVsPosted(`SELECT patient_id, total AS amount FROM credit_notes`, "credit_note", "debit"),
	"refunds_paid_agree": recordsVsPosted(`SELECT patient_id, amount FROM refunds WHERE status = 'issued'
		UNION ALL SELECT patient_id, refund FROM credit_notes WHERE refund > 0`, "refund_paid", "debit"),
	"voids_agree": recordsVsPosted(`SELECT patient_id, (state->'voided'->>'value')::bigint AS amount FROM invoices
		WHERE status = 'void' AND state->'voided' IS NOT NULL`, "invoice_voided", "debit"),
}

// LedgerCheck runs the ledger's rules over every posting of every account
// (each balanced, in one currency, numbered without a gap, no balance
// negative, no refund above what was paid, the trial balance) and checks
// that the ledger agrees with the invoices, payments, refunds and credit
// notes, in one
// repeatable-read snapshot.
func (q Queries) LedgerCheck(ctx context.Context) (app.LedgerReport, error) {
	return q.ledgerCheck(ctx, uuid.NullUUID{})
}

// LedgerCheckOf runs LedgerCheck's rules over one patient account: the
// same check, without reading every other account.
func (q Queries) LedgerCheckOf(ctx context.Context, patientID uuid.UUID) (app.LedgerReport, error) {
	return q.ledgerCheck(ctx, uuid.NullUUID{UUID: patientID, Valid: true})
}

func (q Queries) ledgerCheck(ctx context.Context, patient uuid.NullUUID) (app.LedgerReport, error) {
	var rep app.LedgerReport
	err := pgdb.InTx(ctx, q.DB, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}, func(tx *sqlx.Tx) error {
		var rows []postingRow
		if err := tx.SelectContext(ctx, &rows, selectAllPostings, patient); err != nil {
			return fmt.Errorf("postings: %w", err)
		}
		postings := make([]ledger.Posting, 0, len(rows))
		accounts := map[uuid.UUID]bool{}
		for _, r := range rows {
			p, err := toDomainPosting(r)
			if err != nil {
				return err
			}
			postings = append(postings, p)
			accounts[r.PatientID] = true
		}
		rep.Postings, rep.Accounts = len(postings), len(accounts)
		for _, v := range ledger.Check(postings) {
			rep.Violations = append(rep.Violations, app.Violation{Rule: string(v.Rule), PatientID: v.PatientID, PostingID: v.PostingID, Detail: v.Err.Error()})
		}
		for rule, query := range agreements {
			var off []uuid.UUID
			if err := tx.SelectContext(ctx, &off, query, patient); err != nil {
				return fmt.Errorf("%s: %w", rule, err)
			}
			for _, id := range off {
				rep.Violations = append(rep.Violations, app.Violation{Rule: rule, PatientID: id, Detail: "the ledger does not add up to the records"})
			}
		}
		return nil
	})
	return rep, err
}
