// Package app holds billing's use cases.
package app

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/domain/account"
	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
)

// Repositories are billing's repositories bound to one transaction. An
// event handler gets them from the factory service.New wires (adapters.
// TxRepositories), so what it writes commits, or rolls back, together with
// the record that the event was processed.
type Repositories interface {
	Jobs() Jobs
	Accounts() AccountOpener
	Courses() Courses
	Invoices() Invoices
	Payments() Payments
	Refunds() Refunds
	CreditNotes() CreditNotes
	Settlements() Settlements
	Ledger() Ledger
	Reference() Reference
}

// Course is what billing knows of a course, from scheduling's events.
type Course struct {
	ID              uuid.UUID `db:"course_id"`
	PatientID       uuid.UUID `db:"patient_id"`
	Program         string    `db:"program"`
	ProtocolVersion string    `db:"protocol_version"`
	// Status is scheduling's course status.
	Status string `db:"status"`
	// Cultures and InfusionsGiven count the milestones billing recognised
	// (Get reads them from the recognitions; Save does not write them).
	Cultures       int `db:"cultures"`
	InfusionsGiven int `db:"infusions_given"`
	// Cycles is the number of cycles of the plan.
	Cycles    int       `db:"cycles"`
	Version   int64     `db:"version"`
	UpdatedAt time.Time `db:"updated_at"`
}

// Recognition is revenue earned from a course's prepaid money.
type Recognition struct {
	CourseID, PatientID uuid.UUID
	Cycle               int
	// Kind is "lab_fee" or "infusion".
	Kind      string
	Amount    money.Money
	PostingID uuid.UUID
	// InvoiceID and Number are the course's deposit invoice's.
	InvoiceID uuid.UUID
	Number    string
	At        time.Time
}

// ErrUnknownCourse: billing has not heard of the course.
var ErrUnknownCourse = errors.New("course unknown to billing")

// Courses keeps billing's view of courses.
type Courses interface {
	// Save stores c unless the same or a newer version is stored.
	Save(ctx context.Context, c Course) (applied bool, err error)
	// Get returns the course locked, or ErrUnknownCourse.
	Get(ctx context.Context, id uuid.UUID) (Course, error)
	// SetPrices keeps the price list the course was invoiced with.
	SetPrices(ctx context.Context, id uuid.UUID, pl policy.PriceList) error
	// Prices returns the price list the course was invoiced with.
	Prices(ctx context.Context, id uuid.UUID) (policy.PriceList, error)
	// Recognise records revenue recognised for (course, cycle, kind) and
	// publishes RevenueRecognised; false when it was recognised before
	// (nothing is written).
	Recognise(ctx context.Context, r Recognition) (bool, error)
	// Recognised reports whether (course, cycle, kind) was recognised.
	Recognised(ctx context.Context, courseID uuid.UUID, cycle int, kind string) (bool, error)
	// Deposit returns the course's deposit invoice, or ErrNoInvoice.
	Deposit(ctx context.Context, courseID uuid.UUID) (uuid.UUID, string, error)
}

// Jobs schedules billing's durable jobs in the transaction.
type Jobs interface {
	// OverdueCheck looks at the invoice the day after it is due and marks
	// it overdue if money is still owed.
	OverdueCheck(ctx context.Context, invoiceID uuid.UUID, at time.Time) error
}

// LedgerReport is what the ledger check found.
type LedgerReport struct {
	Postings, Accounts int
	Violations         []Violation
}

// Violation is one rule the ledger breaks.
type Violation struct {
	Rule      string
	PatientID uuid.UUID
	PostingID uuid.UUID
	Detail    string
}

// UnitOfWork runs fn in one transaction: it commits when fn returns nil.
type UnitOfWork interface {
	Do(ctx context.Context, fn func(Repositories) error) error
}

// Ledger stores the double-entry postings of patient accounts.
type Ledger interface {
	// Book locks the patient's account for the transaction and returns its
	// ledger so far (account.ErrNotFound when there is no account).
	Book(ctx context.Context, patientID uuid.UUID) (*ledger.Book, error)
	// Append stores a posting the Book accepted.
	Append(ctx context.Context, p ledger.Posting) error
	// NextEventSequence takes the account's next money-event number.
	NextEventSequence(ctx context.Context, patientID uuid.UUID) (int64, error)
}

// Reference reads the clinic's price lists and cancellation policies.
type Reference interface {
	// PriceList returns the list of a program's protocol version that
	// applies on date.
	PriceList(ctx context.Context, program, version string, date time.Time) (policy.PriceList, error)
	// Policy returns a program's cancellation policy.
	Policy(ctx context.Context, program string) (policy.CancellationPolicy, error)
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
