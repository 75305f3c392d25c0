package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
)

// Invoices stores invoices; Add and Save publish the money events the
// invoice recorded, each with the account's next sequence number.
type Invoices interface {
	// Get returns the invoice locked, or ErrNoInvoice.
	Get(ctx context.Context, id uuid.UUID) (*invoice.Invoice, error)
	// Open returns the patient's invoices still owed, locked, oldest due
	// first.
	Open(ctx context.Context, patientID uuid.UUID) ([]*invoice.Invoice, error)
	// OfCourse returns the course's issued invoices (void ones too),
	// locked, in the order they were issued.
	OfCourse(ctx context.Context, courseID uuid.UUID) ([]*invoice.Invoice, error)
	// NextNumber takes the year's next invoice number (gapless).
	NextNumber(ctx context.Context, year int) (string, error)
	Add(ctx context.Context, inv *invoice.Invoice) error
	Save(ctx context.Context, inv *invoice.Invoice) error
}

// Payments stores payments and publishes PaymentRecorded.
type Payments interface {
	// Add stores a payment; an external reference recorded before is
	// ErrDuplicatePayment.
	Add(ctx context.Context, p Payment) error
}

// Errors.
var (
	ErrNoInvoice        = errors.New("no such invoice")
	ErrDuplicatePayment = errors.New("a payment with this external reference is recorded already")
	ErrNoPriceList      = errors.New("no price list applies to the course")
	ErrWrongCurrency    = errors.New("the amount is not in the account's currency")
	ErrMethod           = errors.New("method is cash, card, transfer or insurance")
)

// Billing holds billing's use cases; each runs in the transaction its
// Repositories are bound to.
type Billing struct {
	Clock clock.Clock
	// Location is the clinic's zone: invoice dates are its days.
	Location *time.Location
	// Terms are the clinic's payment terms.
	Terms policy.ScheduleOptions
	// ApprovalAbove: a refund above it waits for an admin's approval; the
	// zero Money means none does.
	ApprovalAbove money.Money
}

func (b *Billing) now() time.Time { return b.Clock.Now() }

// PlannedCycle is a cycle of a course plan, from CoursePlanned.
type PlannedCycle = policy.Cycle

// CoursePlanned records scheduling's plan and, for a course planned the
// first time, issues its invoices: the deposit first, then the schedule the
// price list gives, each numbered, posted to the ledger (receivable against
// deferred revenue: prepaid course money is earned only as the course is
// given) and published. A repeated or stale event, or a re-plan, issues
// nothing.
func (b *Billing) CoursePlanned(ctx context.Context, repos Repositories, c Course, cycles []PlannedCycle, replanned bool) error {
	c.Cycles = len(cycles)
	applied, err := repos.Courses().Save(ctx, c)
	if err != nil || !applied || replanned {
		return err
	}
	if invs, err := repos.Invoices().OfCourse(ctx, c.ID); err != nil || len(invs) > 0 {
		return err
	}
	now := b.now()
	today := clock.DateOf(now, b.Location)
	pl, err := repos.Reference().PriceList(ctx, c.Program, c.ProtocolVersion, today)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoPriceList, err)
	}
	schedule, err := policy.Schedule(pl, cycles, today, b.Terms)
	if err != nil {
		return err
	}
	book, err := repos.Ledger().Book(ctx, c.PatientID)
	if err != nil {
		return err
	}
	for _, s := range schedule {
		if err := b.issue(ctx, repos, book, c, pl.Currency, s, now); err != nil {
			return err
		}
	}
	// The course keeps the prices it was invoiced with: recognition uses
	// them, whatever the price list says later.
	return repos.Courses().SetPrices(ctx, c.ID, pl)
}

// CultureStarted recognises the cycle's lab fee: from the culture's start
// it is earned, and no cancellation refunds it. Once per course and cycle,
// whatever events ask again.
func (b *Billing) CultureStarted(ctx context.Context, repos Repositories, courseID uuid.UUID, cycle int) error {
	return b.recognise(ctx, repos, courseID, cycle, "lab_fee", func(pl policy.PriceList, _ Course) (money.Money, error) {
		return pl.LabFee, nil
	})
}

// InfusionGiven recognises the cycle's share of the course price (the
// price split evenly over the cycles, to the fen; less the lab fee,
// recognised when the culture started): what the patient prepaid for the
// cycle is earned once its infusion is given.
func (b *Billing) InfusionGiven(ctx context.Context, repos Repositories, courseID uuid.UUID, cycle int) error {
	return b.recognise(ctx, repos, courseID, cycle, "infusion", func(pl policy.PriceList, c Course) (money.Money, error) {
		if c.Cycles < 1 || cycle < 1 || cycle > c.Cycles {
			return money.Money{}, fmt.Errorf("course %s has no cycle %d", c.ID, cycle)
		}
		weights := make([]int64, c.Cycles)
		for i := range weights {
			weights[i] = 1
		}
		shares, err := pl.CoursePrice.Allocate(weights...)
		if err != nil {
			return money.Money{}, err
		}
		share, err := shares[cycle-1].Sub(pl.LabFee)
		if err != nil || share.IsNegative() {
			return money.Zero(pl.Currency), err
		}
		return share, nil
	})
}

func (b *Billing) recognise(ctx context.Context, repos Repositories, courseID uuid.UUID, cycle int, kind string,
	amount func(policy.PriceList, Course) (money.Money, error)) error {
	now := b.now()
	c, err := repos.Courses().Get(ctx, courseID)
	if err != nil {
		return err
	}
	pl, err := repos.Courses().Prices(ctx, courseID)
	if err != nil {
		return err
	}
	m, err := amount(pl, c)
	if err != nil {
		return err
	}
	book, err := repos.Ledger().Book(ctx, c.PatientID)
	if err != nil {
		return err
	}
	invs, err := repos.Invoices().OfCourse(ctx, courseID)
	if err != nil {
		return err
	}
	// Never more than the course still holds deferred: what credit notes
	// took off the course (a failed product, a cancellation) is not earned.
	if deferred := deferredOf(book, ids(invs)); m.Currency() == deferred.Currency() && m.Amount() > deferred.Amount() {
		m = money.Zero(m.Currency())
		if deferred.IsPositive() {
			m = deferred
		}
	}
	return b.recogniseAmount(ctx, repos, book, c, cycle, kind, m, now)
}

// recogniseAmount records the recognition of (course, cycle, kind) once and
// posts it: Dr deferred revenue, Cr revenue, referenced to the course's
// deposit invoice. A zero amount is recorded (the milestone happened) and
// posts nothing.
func (b *Billing) recogniseAmount(ctx context.Context, repos Repositories, book *ledger.Book, c Course, cycle int, kind string,
	m money.Money, now time.Time) error {
	depositID, number, err := repos.Courses().Deposit(ctx, c.ID)
	if err != nil {
		return err
	}
	pid, err := uuid.NewV7()
	if err != nil {
		return err
	}
	fresh, err := repos.Courses().Recognise(ctx, Recognition{CourseID: c.ID, PatientID: c.PatientID, Cycle: cycle, Kind: kind,
		Amount: m, PostingID: pid, InvoiceID: depositID, Number: number, At: now})
	if err != nil || !fresh || !m.IsPositive() {
		return err
	}
	p, err := ledger.RecogniseRevenue(book.Header(pid, ledger.Refs{InvoiceID: depositID}, now), m)
	if err != nil {
		return err
	}
	if err := book.Post(p); err != nil {
		return err
	}
	return repos.Ledger().Append(ctx, p)
}

func (b *Billing) issue(ctx context.Context, repos Repositories, book *ledger.Book, c Course, cur money.Currency, s policy.ScheduledInvoice, now time.Time) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	inv, err := invoice.NewDraft(invoice.New{ID: id, PatientID: c.PatientID, CourseID: c.ID, Cycle: s.Cycle, Currency: cur, Kind: s.Kind}, now)
	if err != nil {
		return err
	}
	if err := inv.AddLine(invoice.LineItem{Code: s.Code, Description: s.Description, Quantity: 1, UnitPrice: s.Amount, TaxRate: s.TaxRate}, now); err != nil {
		return err
	}
	number, err := repos.Invoices().NextNumber(ctx, now.In(b.Location).Year())
	if err != nil {
		return err
	}
	if err := inv.Issue(number, now, s.DueDate); err != nil {
		return err
	}
	// The invoice first: its posting's LedgerPosted names its number.
	if err := repos.Invoices().Add(ctx, inv); err != nil {
		return err
	}
	pid, err := uuid.NewV7()
	if err != nil {
		return err
	}
	p, err := ledger.IssueInvoice(book.Header(pid, ledger.Refs{InvoiceID: id}, now), inv.Total(), money.Zero(cur))
	if err != nil {
		return err
	}
	if err := book.Post(p); err != nil {
		return err
	}
	if err := repos.Ledger().Append(ctx, p); err != nil {
		return err
	}
	// The day after the due date, in the clinic's zone.
	due := s.DueDate
	return repos.Jobs().OverdueCheck(ctx, id, time.Date(due.Year(), due.Month(), due.Day()+1, 0, 0, 0, 0, b.Location))
}

// MarkOverdue is the durable job's: an invoice still owed after its due
// date becomes overdue (InvoiceOverdue). A paid or void one is left alone.
func (b *Billing) MarkOverdue(ctx context.Context, repos Repositories, id uuid.UUID) error {
	inv, err := repos.Invoices().Get(ctx, id)
	if errors.Is(err, ErrNoInvoice) {
		return nil
	}
	if err != nil {
		return err
	}
	changed, err := inv.MarkOverdue(b.now(), b.Location)
	if errors.Is(err, invoice.ErrState) {
		return nil // paid or void since: nothing is overdue
	}
	if err != nil || !changed {
		return err
	}
	return repos.Invoices().Save(ctx, inv)
}

// PaymentInput is a payment as the cashier or a payment system reports it.
type PaymentInput struct {
	PatientID         uuid.UUID
	Amount            money.Money
	Method            string
	ExternalReference string
	ReceivedAt        time.Time
	// Allocations say which invoices it pays, and how much of each; none
	// means the patient's open invoices, the oldest due first.
	Allocations []AllocationInput
}

// AllocationInput is the part of a payment meant for one invoice.
type AllocationInput struct {
	InvoiceID uuid.UUID
	Amount    money.Money
}

// Allocation is the part of a payment applied to one invoice.
type Allocation struct {
	InvoiceID uuid.UUID
	Number    string
	Amount    money.Money
}

// Payment is a recorded payment.
type Payment struct {
	ID                uuid.UUID
	PatientID         uuid.UUID
	Amount            money.Money
	Method            string
	ExternalReference string
	ReceivedAt        time.Time
	RecordedAt        time.Time
	Allocations       []Allocation
	// ToAccountCredit is what no invoice owed: the patient's credit.
	ToAccountCredit money.Money
}

// PaymentRecorded is the payment's event (PaymentRecorded on the wire).
type PaymentRecorded struct{ Payment Payment }

var methods = []string{"cash", "card", "transfer", "insurance"}

// RecordPayment records a payment against the patient's invoices: what
// the invoices owe is applied to them (an invoice paid in full publishes
// InvoicePaid, a course's deposit DepositPaid), the rest becomes account
// credit, and one ledger posting records it all. Zero, negative, absurd
// and wrong-currency amounts are refused, and an external reference is
// never recorded twice.
func (b *Billing) RecordPayment(ctx context.Context, repos Repositories, in PaymentInput) (Payment, error) {
	now := b.now()
	if err := money.CheckPayment(in.Amount); err != nil {
		return Payment{}, err
	}
	if !slices.Contains(methods, in.Method) {
		return Payment{}, ErrMethod
	}
	if strings.TrimSpace(in.ExternalReference) == "" || len(in.ExternalReference) > 100 {
		return Payment{}, fmt.Errorf("external reference: 1 to 100 characters: %w", ErrInvalidPayment)
	}
	book, err := repos.Ledger().Book(ctx, in.PatientID)
	if err != nil {
		return Payment{}, err
	}
	cur := book.Summary().Currency
	if in.Amount.Currency() != cur {
		return Payment{}, ErrWrongCurrency
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Payment{}, err
	}
	p := Payment{ID: id, PatientID: in.PatientID, Amount: in.Amount, Method: in.Method, ExternalReference: in.ExternalReference,
		ReceivedAt: in.ReceivedAt, RecordedAt: now, ToAccountCredit: money.Zero(cur)}
	left := in.Amount
	targets, err := b.targets(ctx, repos, in)
	if err != nil {
		return Payment{}, err
	}
	for _, t := range targets {
		part := left
		if t.limit != nil {
			if part, err = left.Min(*t.limit); err != nil {
				return Payment{}, err
			}
		}
		if !part.IsPositive() {
			continue
		}
		over, err := t.inv.ApplyPayment(part, id.String(), now)
		if err != nil {
			return Payment{}, err
		}
		applied, err := part.Sub(over)
		if err != nil {
			return Payment{}, err
		}
		if left, err = left.Sub(applied); err != nil {
			return Payment{}, err
		}
		if applied.IsPositive() {
			p.Allocations = append(p.Allocations, Allocation{InvoiceID: t.inv.ID(), Number: t.inv.Number(), Amount: applied})
		}
	}
	p.ToAccountCredit = left
	appliedTotal, err := in.Amount.Sub(left)
	if err != nil {
		return Payment{}, err
	}
	// The payment first (its sequence number comes before the invoice
	// events it causes), then the invoices, then the ledger.
	if err := repos.Payments().Add(ctx, p); err != nil {
		return Payment{}, err
	}
	for _, t := range targets {
		if err := repos.Invoices().Save(ctx, t.inv); err != nil {
			return Payment{}, err
		}
	}
	pid, err := uuid.NewV7()
	if err != nil {
		return Payment{}, err
	}
	posting, err := ledger.ReceivePayment(book.Header(pid, ledger.Refs{PaymentID: id}, now), appliedTotal, left)
	if err != nil {
		return Payment{}, err
	}
	if err := book.Post(posting); err != nil {
		return Payment{}, err
	}
	return p, repos.Ledger().Append(ctx, posting)
}

// ErrInvalidPayment: the payment is not one billing can record.
var ErrInvalidPayment = errors.New("invalid payment")

type target struct {
	inv   *invoice.Invoice
	limit *money.Money
}

// targets are the invoices a payment goes to: the allocations asked for,
// or the patient's open invoices, oldest due first.
func (b *Billing) targets(ctx context.Context, repos Repositories, in PaymentInput) ([]target, error) {
	if len(in.Allocations) == 0 {
		open, err := repos.Invoices().Open(ctx, in.PatientID)
		if err != nil {
			return nil, err
		}
		out := make([]target, len(open))
		for i, inv := range open {
			out[i] = target{inv: inv}
		}
		return out, nil
	}
	var out []target
	for _, a := range in.Allocations {
		inv, err := repos.Invoices().Get(ctx, a.InvoiceID)
		if err != nil {
			return nil, err
		}
		if inv.PatientID() != in.PatientID {
			return nil, fmt.Errorf("invoice %s is another patient's: %w", a.InvoiceID, ErrInvalidPayment)
		}
		amount := a.Amount
		out = append(out, target{inv: inv, limit: &amount})
	}
	return out, nil
}
