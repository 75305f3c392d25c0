package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/billing/internal/domain/account"
	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// Ledger stores the double-entry postings of patient accounts inside one
// transaction, and publishes each as LedgerPosted through the outbox in
// that transaction: the finance systems' journal (clinicops
// billing-export) is those events, so a posting and its event commit
// together or not at all.
type Ledger struct {
	Tx     *sqlx.Tx
	Outbox *messaging.Outbox
}

type postingRow struct {
	ID           uuid.UUID     `db:"id"`
	PatientID    uuid.UUID     `db:"patient_id"`
	Sequence     int64         `db:"sequence"`
	Kind         string        `db:"kind"`
	Currency     string        `db:"currency"`
	InvoiceID    uuid.NullUUID `db:"invoice_id"`
	PaymentID    uuid.NullUUID `db:"payment_id"`
	RefundID     uuid.NullUUID `db:"refund_id"`
	CreditNoteID uuid.NullUUID `db:"credit_note_id"`
	Lines        []byte        `db:"lines"`
	At           time.Time     `db:"at"`
}

type postingLineJSON struct {
	Account string `json:"account"`
	Side    string `json:"side"`
	Amount  int64  `json:"amount"`
}

const (
	lockAccount    = `SELECT currency FROM accounts WHERE patient_id = $1 FOR UPDATE`
	selectPostings = `SELECT id, patient_id, sequence, kind, currency, invoice_id, payment_id, refund_id, credit_note_id,
		lines, at FROM postings WHERE patient_id = $1 ORDER BY sequence`
	insertPosting = `INSERT INTO postings (id, patient_id, sequence, kind, currency, invoice_id, payment_id, refund_id,
		credit_note_id, lines, at) VALUES (:id, :patient_id, :sequence, :kind, :currency, :invoice_id, :payment_id,
		:refund_id, :credit_note_id, :lines, :at)`
	nextEventSequence = `UPDATE accounts SET sequence = sequence + 1 WHERE patient_id = $1 RETURNING sequence`
	// The documents a posting names, for its event: each present when
	// referenced (a use case stores its document before posting it).
	selectPostingDocuments = `SELECT i.id IS NOT NULL AS invoice_found, coalesce(i.number, '') AS invoice_number,
		p.id IS NOT NULL AS payment_found, coalesce(p.external_reference, '') AS payment_reference,
		c.id IS NOT NULL AS credit_note_found, coalesce(c.number, '') AS credit_note_number
		FROM (SELECT 1) one LEFT JOIN invoices i ON i.id = $1 LEFT JOIN payments p ON p.id = $2
		LEFT JOIN credit_notes c ON c.id = $3`
)

// Book locks the patient's account for the transaction and returns its
// ledger: every posting so far, in order. Postings go through the Book,
// which refuses one that would break the ledger's rules, then Append.
func (l Ledger) Book(ctx context.Context, patientID uuid.UUID) (*ledger.Book, error) {
	var code string
	if err := l.Tx.GetContext(ctx, &code, lockAccount, patientID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, account.ErrNotFound
		}
		return nil, fmt.Errorf("lock account %s: %w", patientID, err)
	}
	c, err := money.ParseCurrency(code)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", patientID, err)
	}
	var rows []postingRow
	if err := l.Tx.SelectContext(ctx, &rows, selectPostings, patientID); err != nil {
		return nil, fmt.Errorf("postings of %s: %w", patientID, err)
	}
	postings := make([]ledger.Posting, 0, len(rows))
	for _, r := range rows {
		p, err := toDomainPosting(r)
		if err != nil {
			return nil, err
		}
		postings = append(postings, p)
	}
	return ledger.NewBook(patientID, c, postings...)
}

// Append stores a posting the Book accepted.
func (l Ledger) Append(ctx context.Context, p ledger.Posting) error {
	row, err := toDBPosting(p)
	if err != nil {
		return err
	}
	if _, err := l.Tx.NamedExecContext(ctx, insertPosting, row); err != nil {
		return fmt.Errorf("store posting %s: %w", row.ID, err)
	}
	return l.publish(ctx, p)
}

type postingDocuments struct {
	InvoiceFound     bool   `db:"invoice_found"`
	InvoiceNumber    string `db:"invoice_number"`
	PaymentFound     bool   `db:"payment_found"`
	PaymentReference string `db:"payment_reference"`
	CreditNoteFound  bool   `db:"credit_note_found"`
	CreditNoteNumber string `db:"credit_note_number"`
}

// publish writes p's LedgerPosted to the outbox with the account's next
// event number.
func (l Ledger) publish(ctx context.Context, p ledger.Posting) error {
	if l.Outbox == nil {
		return errors.New("ledger: no outbox to publish LedgerPosted")
	}
	s := p.State()
	var d postingDocuments
	if err := l.Tx.GetContext(ctx, &d, selectPostingDocuments, s.Refs.InvoiceID, s.Refs.PaymentID, s.Refs.CreditNoteID); err != nil {
		return fmt.Errorf("documents of posting %s: %w", s.ID, err)
	}
	for _, ref := range []struct {
		id    uuid.UUID
		found bool
		what  string
	}{{s.Refs.InvoiceID, d.InvoiceFound, "invoice"}, {s.Refs.PaymentID, d.PaymentFound, "payment"},
		{s.Refs.CreditNoteID, d.CreditNoteFound, "credit note"}} {
		if ref.id != uuid.Nil && !ref.found {
			return fmt.Errorf("posting %s names %s %s, which is not stored", s.ID, ref.what, ref.id)
		}
	}
	seq, err := l.NextEventSequence(ctx, s.PatientID)
	if err != nil {
		return err
	}
	lines := make([]*billingv1.PostingLine, len(s.Lines))
	for i, ln := range s.Lines {
		lines[i] = &billingv1.PostingLine{Account: string(ln.Account), Side: string(ln.Side), Amount: pm(ln.Amount)}
	}
	m := &billingv1.LedgerPosted{PostingId: s.ID.String(), Version: 1, OccurredAt: ts(s.At), PatientId: s.PatientID.String(),
		AccountSequence: seq, PostingSequence: s.Seq, Kind: string(s.Kind), Lines: lines,
		InvoiceId: idOrEmpty(s.Refs.InvoiceID), InvoiceNumber: d.InvoiceNumber, PaymentId: idOrEmpty(s.Refs.PaymentID),
		PaymentReference: d.PaymentReference, RefundId: idOrEmpty(s.Refs.RefundID),
		CreditNoteId: idOrEmpty(s.Refs.CreditNoteID), CreditNoteNumber: d.CreditNoteNumber}
	return l.Outbox.Publish(ctx, l.Tx, s.ID.String(), m)
}

// NextEventSequence takes the account's next money-event number (the
// account row is locked by Book or by this update until the transaction
// ends, so the numbers of one account are gapless and in commit order).
func (l Ledger) NextEventSequence(ctx context.Context, patientID uuid.UUID) (int64, error) {
	var n int64
	if err := l.Tx.GetContext(ctx, &n, nextEventSequence, patientID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, account.ErrNotFound
		}
		return 0, fmt.Errorf("next event sequence of %s: %w", patientID, err)
	}
	return n, nil
}

func toDBPosting(p ledger.Posting) (postingRow, error) {
	s := p.State()
	lines := make([]postingLineJSON, len(s.Lines))
	currency := ""
	for i, l := range s.Lines {
		lines[i] = postingLineJSON{Account: string(l.Account), Side: string(l.Side), Amount: l.Amount.Amount()}
		currency = l.Amount.Currency().String()
	}
	b, err := json.Marshal(lines)
	if err != nil {
		return postingRow{}, err
	}
	nu := func(id uuid.UUID) uuid.NullUUID { return uuid.NullUUID{UUID: id, Valid: id != uuid.Nil} }
	return postingRow{ID: s.ID, PatientID: s.PatientID, Sequence: s.Seq, Kind: string(s.Kind), Currency: currency,
		InvoiceID: nu(s.Refs.InvoiceID), PaymentID: nu(s.Refs.PaymentID), RefundID: nu(s.Refs.RefundID),
		CreditNoteID: nu(s.Refs.CreditNoteID), Lines: b, At: s.At}, nil
}

func toDomainPosting(r postingRow) (ledger.Posting, error) {
	c, err := money.ParseCurrency(r.Currency)
	if err != nil {
		return ledger.Posting{}, fmt.Errorf("posting %s: %w", r.ID, err)
	}
	var lines []postingLineJSON
	if err := json.Unmarshal(r.Lines, &lines); err != nil {
		return ledger.Posting{}, fmt.Errorf("posting %s lines: %w", r.ID, err)
	}
	s := ledger.State{Header: ledger.Header{ID: r.ID, PatientID: r.PatientID, Seq: r.Sequence, At: r.At.UTC(),
		Refs: ledger.Refs{InvoiceID: r.InvoiceID.UUID, PaymentID: r.PaymentID.UUID, RefundID: r.RefundID.UUID,
			CreditNoteID: r.CreditNoteID.UUID}}, Kind: ledger.Kind(r.Kind)}
	for _, l := range lines {
		m, err := money.New(l.Amount, c)
		if err != nil {
			return ledger.Posting{}, fmt.Errorf("posting %s: %w", r.ID, err)
		}
		s.Lines = append(s.Lines, ledger.LineState{Account: ledger.Account(l.Account), Side: ledger.Side(l.Side), Amount: m})
	}
	return ledger.FromState(s), nil
}
