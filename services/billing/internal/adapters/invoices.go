package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

type invoices txRepositories

var _ app.Invoices = invoices{}

type invoiceRow struct {
	ID        uuid.UUID      `db:"id"`
	PatientID uuid.UUID      `db:"patient_id"`
	CourseID  uuid.NullUUID  `db:"course_id"`
	Cycle     int            `db:"cycle"`
	Kind      string         `db:"kind"`
	Currency  string         `db:"currency"`
	Number    sql.NullString `db:"number"`
	Status    string         `db:"status"`
	Total     int64          `db:"total"`
	Paid      int64          `db:"paid"`
	Credited  int64          `db:"credited"`
	Refunded  int64          `db:"refunded"`
	IssuedAt  sql.NullTime   `db:"issued_at"`
	DueDate   sql.NullTime   `db:"due_date"`
	State     []byte         `db:"state"`
	Version   int64          `db:"version"`
	CreatedAt time.Time      `db:"created_at"`
	UpdatedAt time.Time      `db:"updated_at"`
}

// invoiceStateJSON is the invoice as the domain keeps it; the columns
// beside it are what queries filter and sort on.
type invoiceStateJSON struct {
	Lines                []lineJSON       `json:"lines"`
	MovedToAccountCredit money.Money      `json:"moved_to_account_credit"`
	Settlements          []settlementJSON `json:"settlements"`
	VoidReason           string           `json:"void_reason,omitempty"`
	// Voided is what was owed when it was voided (the ledger check reads
	// it); absent for an invoice never voided.
	Voided *money.Money `json:"voided,omitempty"`
}

type lineJSON struct {
	Code        string      `json:"code"`
	Description string      `json:"description"`
	Quantity    int64       `json:"quantity"`
	UnitPrice   money.Money `json:"unit_price"`
	TaxRate     int64       `json:"tax_rate_bp"`
	Amount      money.Money `json:"amount"`
	Tax         money.Money `json:"tax"`
}

type settlementJSON struct {
	Kind      string      `json:"kind"`
	Reference string      `json:"reference"`
	Reason    string      `json:"reason"`
	Amount    money.Money `json:"amount"`
	At        time.Time   `json:"at"`
}

const (
	invoiceColumns = `id, patient_id, course_id, cycle, kind, currency, number, status, total, paid, credited, refunded,
		issued_at, due_date, state, version, created_at, updated_at`
	insertInvoice = `INSERT INTO invoices (` + invoiceColumns + `) VALUES (:id, :patient_id, :course_id, :cycle, :kind,
		:currency, :number, :status, :total, :paid, :credited, :refunded, :issued_at, :due_date, :state, :version,
		:created_at, :updated_at)`
	updateInvoice = `UPDATE invoices SET number = :number, status = :status, total = :total, paid = :paid,
		credited = :credited, refunded = :refunded, issued_at = :issued_at, due_date = :due_date, state = :state,
		version = :version, updated_at = :updated_at WHERE id = :id`
	selectInvoiceForUpdate = `SELECT ` + invoiceColumns + ` FROM invoices WHERE id = $1 FOR UPDATE`
	selectOpenInvoices     = `SELECT ` + invoiceColumns + ` FROM invoices WHERE patient_id = $1
		AND status IN ('issued', 'partially_paid', 'overdue') ORDER BY due_date, number FOR UPDATE`
	selectCourseInvoices = `SELECT ` + invoiceColumns + ` FROM invoices WHERE course_id = $1 AND number IS NOT NULL
		ORDER BY number FOR UPDATE`
)

func toDBInvoice(inv *invoice.Invoice) (invoiceRow, error) {
	s := inv.State()
	st := invoiceStateJSON{MovedToAccountCredit: s.MovedToAccountCredit, VoidReason: s.VoidReason,
		Lines: []lineJSON{}, Settlements: []settlementJSON{}}
	if s.Voided.IsPositive() {
		st.Voided = &s.Voided
	}
	for _, l := range s.Lines {
		st.Lines = append(st.Lines, lineJSON{Code: l.Code, Description: l.Description, Quantity: l.Quantity,
			UnitPrice: l.UnitPrice, TaxRate: l.TaxRate, Amount: l.Amount, Tax: l.Tax})
	}
	for _, x := range s.Settlements {
		st.Settlements = append(st.Settlements, settlementJSON{Kind: x.Kind, Reference: x.Reference, Reason: x.Reason, Amount: x.Amount, At: x.At})
	}
	b, err := json.Marshal(st)
	if err != nil {
		return invoiceRow{}, err
	}
	row := invoiceRow{ID: s.ID, PatientID: s.PatientID, CourseID: uuid.NullUUID{UUID: s.CourseID, Valid: s.CourseID != uuid.Nil},
		Cycle: s.Cycle, Kind: string(s.Kind), Currency: s.Currency.String(), Status: string(s.Status),
		Total: s.Total.Amount(), Paid: s.Paid.Amount(), Credited: s.Credited.Amount(), Refunded: s.Refunded.Amount(),
		State: b, Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if s.Number != "" {
		row.Number = sql.NullString{String: s.Number, Valid: true}
	}
	if !s.IssuedAt.IsZero() {
		row.IssuedAt = sql.NullTime{Time: s.IssuedAt, Valid: true}
	}
	if !s.DueDate.IsZero() {
		row.DueDate = sql.NullTime{Time: s.DueDate, Valid: true}
	}
	return row, nil
}

func toDomainInvoice(r invoiceRow) (*invoice.Invoice, error) {
	c, err := money.ParseCurrency(r.Currency)
	if err != nil {
		return nil, fmt.Errorf("invoice %s: %w", r.ID, err)
	}
	var st invoiceStateJSON
	if err := json.Unmarshal(r.State, &st); err != nil {
		return nil, fmt.Errorf("invoice %s state: %w", r.ID, err)
	}
	m := func(v int64) (money.Money, error) { return money.New(v, c) }
	s := invoice.State{New: invoice.New{ID: r.ID, PatientID: r.PatientID, CourseID: r.CourseID.UUID, Cycle: r.Cycle,
		Currency: c, Kind: invoice.Kind(r.Kind)}, Status: invoice.Status(r.Status), Number: r.Number.String,
		MovedToAccountCredit: st.MovedToAccountCredit, VoidReason: st.VoidReason, Voided: money.Zero(c), Version: r.Version,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if st.Voided != nil {
		s.Voided = *st.Voided
	}
	for _, x := range []struct {
		v   int64
		dst *money.Money
	}{{r.Total, &s.Total}, {r.Paid, &s.Paid}, {r.Credited, &s.Credited}, {r.Refunded, &s.Refunded}} {
		if *x.dst, err = m(x.v); err != nil {
			return nil, fmt.Errorf("invoice %s: %w", r.ID, err)
		}
	}
	if r.IssuedAt.Valid {
		s.IssuedAt = r.IssuedAt.Time.UTC()
	}
	if r.DueDate.Valid {
		s.DueDate = r.DueDate.Time.UTC()
	}
	for _, l := range st.Lines {
		s.Lines = append(s.Lines, invoice.Line{Code: l.Code, Description: l.Description, Quantity: l.Quantity,
			UnitPrice: l.UnitPrice, TaxRate: l.TaxRate, Amount: l.Amount, Tax: l.Tax})
	}
	for _, x := range st.Settlements {
		s.Settlements = append(s.Settlements, invoice.Settlement{Kind: x.Kind, Reference: x.Reference, Reason: x.Reason, Amount: x.Amount, At: x.At.UTC()})
	}
	return invoice.FromState(s), nil
}

// Get returns the invoice locked for the transaction.
func (r invoices) Get(ctx context.Context, id uuid.UUID) (*invoice.Invoice, error) {
	var row invoiceRow
	if err := r.tx.GetContext(ctx, &row, selectInvoiceForUpdate, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, app.ErrNoInvoice
		}
		return nil, fmt.Errorf("get invoice %s: %w", id, err)
	}
	return toDomainInvoice(row)
}

// Open returns the patient's invoices still owed, locked, oldest due first.
func (r invoices) Open(ctx context.Context, patientID uuid.UUID) ([]*invoice.Invoice, error) {
	return r.list(ctx, selectOpenInvoices, patientID)
}

func (r invoices) list(ctx context.Context, query string, id uuid.UUID) ([]*invoice.Invoice, error) {
	var rows []invoiceRow
	if err := r.tx.SelectContext(ctx, &rows, query, id); err != nil {
		return nil, fmt.Errorf("invoices of %s: %w", id, err)
	}
	out := make([]*invoice.Invoice, 0, len(rows))
	for _, row := range rows {
		inv, err := toDomainInvoice(row)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, nil
}

// OfCourse returns the course's issued invoices, locked, in the order
// they were numbered.
func (r invoices) OfCourse(ctx context.Context, courseID uuid.UUID) ([]*invoice.Invoice, error) {
	return r.list(ctx, selectCourseInvoices, courseID)
}

// NextNumber takes the year's next invoice number in the transaction.
func (r invoices) NextNumber(ctx context.Context, year int) (string, error) {
	return NextInvoiceNumber(ctx, r.tx, year)
}

// Add stores a new invoice and publishes its events.
func (r invoices) Add(ctx context.Context, inv *invoice.Invoice) error {
	return r.write(ctx, insertInvoice, inv)
}

// Save stores a changed invoice and publishes its events.
func (r invoices) Save(ctx context.Context, inv *invoice.Invoice) error {
	return r.write(ctx, updateInvoice, inv)
}

func (r invoices) write(ctx context.Context, query string, inv *invoice.Invoice) error {
	row, err := toDBInvoice(inv)
	if err != nil {
		return err
	}
	if _, err := r.tx.NamedExecContext(ctx, query, row); err != nil {
		return fmt.Errorf("store invoice %s: %w", inv.ID(), err)
	}
	return writeMoneyEvents(ctx, txRepositories(r), inv.PatientID(), inv.TakeEvents())
}
