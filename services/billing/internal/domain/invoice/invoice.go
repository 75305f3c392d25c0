// Package invoice is one invoice of a patient's treatment course: its lines,
// frozen at issue with the prices of the day, its number, and the money that
// went through it (paid, credited, refunded). Pure Go, no I/O: the gapless
// number comes from the database and is handed to Issue; the lock that keeps
// two refunds from both passing is the repository's (FOR UPDATE), the rule
// they are checked against is here.
//
// Money on an invoice, in its one currency:
//
//	AmountDue  = Total − Paid − Credited                (never negative)
//	Refundable = Paid − Refunded − MovedToAccountCredit (never negative)
//
// Paid + Credited never exceeds Total: a payment above what is owed is
// applied up to it and the rest handed back as overpayment. A refund gives
// paid money back; it does not reopen the invoice (what was owed was
// settled, the clinic gives part of it back), so it leaves AmountDue alone.
package invoice

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/clock"
)

// Status is where an invoice stands.
type Status string

// The statuses. Draft → issued → partially_paid → paid is the way forward;
// overdue is an issued or partly paid invoice past its due date with money
// still owed; void is final.
const (
	Draft         Status = "draft"
	Issued        Status = "issued"
	PartiallyPaid Status = "partially_paid"
	Paid          Status = "paid"
	Overdue       Status = "overdue"
	Void          Status = "void"
)

// open reports whether an invoice in status s takes payments and credits.
func (s Status) open() bool { return s == Issued || s == PartiallyPaid || s == Overdue }

// Kind is what an invoice bills.
type Kind string

// The kinds.
const (
	Deposit    Kind = "deposit"
	Instalment Kind = "instalment"
	Course     Kind = "course"
	LabFee     Kind = "lab_fee"
	Infusion   Kind = "infusion"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	return slices.Contains([]Kind{Deposit, Instalment, Course, LabFee, Infusion}, k)
}

// Errors. The typed errors below unwrap to one of these, so ports map them
// with errors.Is.
var (
	ErrNotFound = errors.New("invoice not found")
	// ErrState: the change is not possible in the invoice's status.
	ErrState = errors.New("not possible in the invoice's status")
	// ErrInvalid: an argument is malformed (ids, currency, line, number).
	ErrInvalid = errors.New("invalid invoice data")
	// ErrEmpty: an invoice without lines, or with nothing to pay, is not issued.
	ErrEmpty = errors.New("an invoice with nothing to pay cannot be issued")
	// ErrAmount: a payment or refund that is zero or negative.
	ErrAmount = errors.New("amount must be positive")
	// ErrAboveRefundable: a refund above what was paid and not yet refunded.
	ErrAboveRefundable = errors.New("refund above the refundable amount")
	// ErrAboveDue: a credit note taking off more than is owed.
	ErrAboveDue = errors.New("credit above the amount due")
	// ErrDuplicateRefund: a refund (or a credit note's) for a reason that
	// was already settled on this invoice.
	ErrDuplicateRefund = errors.New("already refunded for this reason")
	// ErrReferenceReused: an idempotency reference replayed with other
	// content.
	ErrReferenceReused = errors.New("reference already used for another refund or credit")
	// ErrCreditNoteParts: a credit note whose parts do not add up to its
	// total, or with a negative part.
	ErrCreditNoteParts = errors.New("credit note parts must be non-negative and add up to its total")
	// ErrNotRefunded: money paid and not refunded keeps an invoice from
	// being voided.
	ErrNotRefunded = errors.New("paid money must be refunded or credited before voiding")
)

// StateError says which change the invoice's status refused.
type StateError struct {
	Action string
	Status Status
}

func (e *StateError) Error() string {
	return fmt.Sprintf("cannot %s an invoice that is %s", e.Action, e.Status)
}

// Unwrap makes errors.Is(err, ErrState) hold.
func (e *StateError) Unwrap() error { return ErrState }

// RefundableError is a refund (or a credit note's refund and account-credit
// parts) above what can still be given back; it names that amount so the
// cashier sees what is possible.
type RefundableError struct {
	Requested, Refundable Amount
	Currency              string
}

func (e *RefundableError) Error() string {
	return fmt.Sprintf("refund of %d exceeds the refundable %d (%s minor units)", e.Requested, e.Refundable, e.Currency)
}

// Unwrap makes errors.Is(err, ErrAboveRefundable) hold.
func (e *RefundableError) Unwrap() error { return ErrAboveRefundable }

// DueError is a credit note taking off more than is owed.
type DueError struct {
	Requested, Due Amount
	Currency       string
}

func (e *DueError) Error() string {
	return fmt.Sprintf("credit of %d exceeds the amount due %d (%s minor units)", e.Requested, e.Due, e.Currency)
}

// Unwrap makes errors.Is(err, ErrAboveDue) hold.
func (e *DueError) Unwrap() error { return ErrAboveDue }

// NotRefundedError is a void refused because money is still held.
type NotRefundedError struct {
	Held     Amount
	Currency string
}

func (e *NotRefundedError) Error() string {
	return fmt.Sprintf("%d (%s minor units) paid and not refunded", e.Held, e.Currency)
}

// Unwrap makes errors.Is(err, ErrNotRefunded) hold.
func (e *NotRefundedError) Unwrap() error { return ErrNotRefunded }

// Line is one item of an invoice. Amount and Tax are computed once, when
// the line is added, and never again: an issued invoice keeps its prices.
type Line struct {
	Code        string
	Description string
	Quantity    int64
	UnitPrice   Amount
	// TaxRate in basis points (1300 = 13 %); the unit price is net of tax.
	TaxRate BasisPoints
	// Amount = Quantity × UnitPrice.
	Amount Amount
	// Tax = Amount × TaxRate / 10000, rounded half to even once per line.
	Tax Amount
}

// LineItem is a line to add; the aggregate computes its amount and tax.
type LineItem struct {
	Code        string
	Description string
	Quantity    int64
	UnitPrice   Amount
	TaxRate     BasisPoints
}

// Settlement is a refund or a credit note already made on the invoice. It
// is kept with the invoice so the same reason is never settled twice and a
// retried request (same reference) changes nothing.
type Settlement struct {
	// Kind is "refund" or "credit_note".
	Kind      string
	Reference string
	// Reason as given; compared by its normalized form.
	Reason string
	Amount Amount
	At     time.Time
}

const (
	settlementRefund = "refund"
	settlementCredit = "credit_note"
)

// New is what a new draft is for.
type New struct {
	ID        uuid.UUID
	PatientID uuid.UUID
	CourseID  uuid.UUID
	// Cycle is the cycle billed; 0 for the course as a whole.
	Cycle    int
	Currency string
	Kind     Kind
}

// Invoice is the aggregate.
type Invoice struct {
	n         New
	lines     []Line
	total     Amount
	status    Status
	number    string
	issuedAt  time.Time
	dueDate   time.Time
	paid      Amount
	credited  Amount
	refunded  Amount
	toAccount Amount
	settled   []Settlement
	voidedFor string
	version   int64
	createdAt time.Time
	updatedAt time.Time
	events    []Event
}

// NewDraft is an empty draft at version 1. A draft has no number and no
// events: nothing happened to money yet.
func NewDraft(n New, now time.Time) (*Invoice, error) {
	if n.ID == uuid.Nil || n.PatientID == uuid.Nil || n.CourseID == uuid.Nil {
		return nil, fmt.Errorf("invoice, patient and course ids are required: %w", ErrInvalid)
	}
	if n.Cycle < 0 {
		return nil, fmt.Errorf("cycle %d: %w", n.Cycle, ErrInvalid)
	}
	if !validCurrency(n.Currency) {
		return nil, fmt.Errorf("currency %q is not an ISO 4217 code: %w", n.Currency, ErrInvalid)
	}
	if !n.Kind.Valid() {
		return nil, fmt.Errorf("kind %q: %w", n.Kind, ErrInvalid)
	}
	return &Invoice{n: n, status: Draft, version: 1, createdAt: now, updatedAt: now}, nil
}

// State is an invoice as stored, for the repository.
type State struct {
	New
	Lines    []Line
	Total    Amount
	Status   Status
	Number   string
	IssuedAt time.Time
	DueDate  time.Time
	Paid     Amount
	Credited Amount
	Refunded Amount
	// MovedToAccountCredit is paid money a credit note moved to the
	// patient's account credit.
	MovedToAccountCredit Amount
	Settlements          []Settlement
	VoidReason           string
	Version              int64
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// FromState rebuilds a stored invoice; for the repository only.
func FromState(s State) *Invoice {
	return &Invoice{n: s.New, lines: slices.Clone(s.Lines), total: s.Total, status: s.Status,
		number: s.Number, issuedAt: s.IssuedAt, dueDate: s.DueDate, paid: s.Paid,
		credited: s.Credited, refunded: s.Refunded, toAccount: s.MovedToAccountCredit,
		settled: slices.Clone(s.Settlements), voidedFor: s.VoidReason, version: s.Version,
		createdAt: s.CreatedAt, updatedAt: s.UpdatedAt}
}

// State is the invoice as the repository stores it.
func (inv *Invoice) State() State {
	return State{New: inv.n, Lines: slices.Clone(inv.lines), Total: inv.total, Status: inv.status,
		Number: inv.number, IssuedAt: inv.issuedAt, DueDate: inv.dueDate, Paid: inv.paid,
		Credited: inv.credited, Refunded: inv.refunded, MovedToAccountCredit: inv.toAccount,
		Settlements: slices.Clone(inv.settled), VoidReason: inv.voidedFor, Version: inv.version,
		CreatedAt: inv.createdAt, UpdatedAt: inv.updatedAt}
}

// ID is the invoice's id.
func (inv *Invoice) ID() uuid.UUID { return inv.n.ID }

// PatientID is the patient billed.
func (inv *Invoice) PatientID() uuid.UUID { return inv.n.PatientID }

// CourseID is the course billed.
func (inv *Invoice) CourseID() uuid.UUID { return inv.n.CourseID }

// Cycle is the cycle billed, 0 for the course.
func (inv *Invoice) Cycle() int { return inv.n.Cycle }

// Kind is what it bills.
func (inv *Invoice) Kind() Kind { return inv.n.Kind }

// Currency is the one currency of all its amounts.
func (inv *Invoice) Currency() string { return inv.n.Currency }

// Status is where it stands.
func (inv *Invoice) Status() Status { return inv.status }

// Number is its number, empty while it is a draft.
func (inv *Invoice) Number() string { return inv.number }

// IssuedAt is when it was issued (zero in draft).
func (inv *Invoice) IssuedAt() time.Time { return inv.issuedAt }

// DueDate is the date it is due (zero in draft).
func (inv *Invoice) DueDate() time.Time { return inv.dueDate }

// Lines are its lines, a copy.
func (inv *Invoice) Lines() []Line { return slices.Clone(inv.lines) }

// Total is the sum of the lines' amounts and taxes.
func (inv *Invoice) Total() Amount { return inv.total }

// AmountPaid is what was paid against it (before refunds).
func (inv *Invoice) AmountPaid() Amount { return inv.paid }

// AmountCredited is what credit notes took off what is owed.
func (inv *Invoice) AmountCredited() Amount { return inv.credited }

// AmountRefunded is what was given back, by refunds and credit notes.
func (inv *Invoice) AmountRefunded() Amount { return inv.refunded }

// MovedToAccountCredit is paid money credit notes moved to account credit.
func (inv *Invoice) MovedToAccountCredit() Amount { return inv.toAccount }

// Version is its version; every change adds one.
func (inv *Invoice) Version() int64 { return inv.version }

// AmountDue is what is still owed: total − paid − credited, never negative.
func (inv *Invoice) AmountDue() Amount {
	if inv.status == Draft || inv.status == Void {
		return 0
	}
	d := mustSub(mustSub(inv.total, inv.paid), inv.credited)
	if isNegative(d) {
		return 0
	}
	return d
}

// Refundable is what can still be given back: paid − refunded − moved to
// account credit, never negative.
func (inv *Invoice) Refundable() Amount {
	r := mustSub(mustSub(inv.paid, inv.refunded), inv.toAccount)
	if isNegative(r) {
		return 0
	}
	return r
}

func (inv *Invoice) change(now time.Time) {
	inv.version++
	inv.updatedAt = now
}

func (inv *Invoice) record(e Event) { inv.events = append(inv.events, e) }

// AddLine adds a line to a draft. Quantity is positive, the unit price
// and tax rate non-negative (the rate at most 100 %).
func (inv *Invoice) AddLine(li LineItem, now time.Time) error {
	if inv.status != Draft {
		return &StateError{"add a line to", inv.status}
	}
	if strings.TrimSpace(li.Code) == "" {
		return fmt.Errorf("line code is required: %w", ErrInvalid)
	}
	if li.Quantity <= 0 || isNegative(li.UnitPrice) || li.TaxRate < 0 || li.TaxRate > maxRate {
		return fmt.Errorf("line %s: quantity %d, unit price %d, tax rate %d bp: %w",
			li.Code, li.Quantity, li.UnitPrice, li.TaxRate, ErrInvalid)
	}
	amount, err := mul(li.UnitPrice, li.Quantity)
	if err != nil {
		return fmt.Errorf("line %s: %w", li.Code, err)
	}
	tax, err := Tax(amount, li.TaxRate)
	if err != nil {
		return fmt.Errorf("line %s: %w", li.Code, err)
	}
	gross, err := add(amount, tax)
	if err != nil {
		return fmt.Errorf("line %s: %w", li.Code, err)
	}
	total, err := add(inv.total, gross)
	if err != nil {
		return fmt.Errorf("line %s: %w", li.Code, err)
	}
	inv.lines = append(inv.lines, Line{Code: li.Code, Description: li.Description, Quantity: li.Quantity,
		UnitPrice: li.UnitPrice, TaxRate: li.TaxRate, Amount: amount, Tax: tax})
	inv.total = total
	inv.change(now)
	return nil
}

var numberFormat = regexp.MustCompile(`^INV-[0-9]{4}-[0-9]{6,}$`)

// FormatNumber is the number of the seq-th invoice of a year:
// FormatNumber(2026, 123) is "INV-2026-000123". The sequence is the
// database's (gapless per clinic and year); this is only its spelling.
func FormatNumber(year int, seq int64) string { return fmt.Sprintf("INV-%04d-%06d", year, seq) }

// Issue gives a draft its number and due date and freezes its lines. Only
// a draft with something to pay is issued; the number is the caller's,
// taken from the gapless sequence in the same transaction, so a draft
// that is never issued burns no number.
func (inv *Invoice) Issue(number string, issuedAt, dueDate time.Time) error {
	if inv.status != Draft {
		return &StateError{"issue", inv.status}
	}
	if len(inv.lines) == 0 || !isPositive(inv.total) {
		return ErrEmpty
	}
	if !numberFormat.MatchString(number) {
		return fmt.Errorf("invoice number %q (want INV-YYYY-NNNNNN): %w", number, ErrInvalid)
	}
	// The due date is a date in the clinic's zone (midnight UTC); the
	// day of slack lets a clinic behind UTC issue in its evening.
	if dueDate.IsZero() || dueDate.Before(clock.DateOf(issuedAt, time.UTC).AddDate(0, 0, -1)) {
		return fmt.Errorf("due date %s before the issue date: %w", dueDate.Format(time.DateOnly), ErrInvalid)
	}
	inv.number, inv.issuedAt, inv.dueDate, inv.status = number, issuedAt, dueDate, Issued
	inv.change(issuedAt)
	inv.record(IssuedEvent{Invoice: inv.snapshot(), Lines: slices.Clone(inv.lines), DueDate: dueDate, IssuedAt: issuedAt})
	return nil
}

// settle sets the status after money moved: paid when nothing is owed
// (by payment or credit), partially paid when something was paid, and
// otherwise as it was (an overdue invoice stays overdue while anything is
// owed). It reports whether the invoice just became paid.
func (inv *Invoice) settle() bool {
	switch {
	case inv.status == Paid:
		return false
	case inv.AmountDue() == 0:
		inv.status = Paid
		return true
	case inv.status == Overdue:
	case isPositive(inv.paid):
		inv.status = PartiallyPaid
	}
	return false
}

// ApplyPayment applies a payment (or the part of one allocated to this
// invoice). What exceeds the amount due is not applied: it is returned as
// overpayment for the caller to put on the patient's account credit.
func (inv *Invoice) ApplyPayment(amount Amount, paymentID string, at time.Time) (overpayment Amount, err error) {
	if !inv.status.open() {
		return 0, &StateError{"pay", inv.status}
	}
	if !isPositive(amount) {
		return 0, fmt.Errorf("payment of %d: %w", amount, ErrAmount)
	}
	if strings.TrimSpace(paymentID) == "" {
		return 0, fmt.Errorf("payment id is required: %w", ErrInvalid)
	}
	due := inv.AmountDue()
	applied := minAmount(amount, due)
	overpayment = mustSub(amount, applied)
	inv.paid = mustAdd(inv.paid, applied)
	paid := inv.settle()
	inv.change(at)
	inv.record(PaymentAppliedEvent{Invoice: inv.snapshot(), PaymentID: paymentID, Amount: amount,
		Applied: applied, Overpayment: overpayment})
	if paid {
		inv.record(PaidEvent{Invoice: inv.snapshot()})
	}
	return overpayment, nil
}

// MarkOverdue marks an issued or partly paid invoice overdue once the
// clinic's date (now in loc) is past its due date. Before then, and on an
// invoice already overdue, it changes nothing and reports false. A draft,
// paid or void invoice is refused (the job that asks is stale).
func (inv *Invoice) MarkOverdue(now time.Time, loc *time.Location) (bool, error) {
	switch inv.status {
	case Overdue:
		return false, nil
	case Issued, PartiallyPaid:
	default:
		return false, &StateError{"mark overdue", inv.status}
	}
	if !clock.DateOf(now, loc).After(inv.dueDate) {
		return false, nil
	}
	inv.status = Overdue
	inv.change(now)
	inv.record(OverdueEvent{Invoice: inv.snapshot(), DueDate: inv.dueDate})
	return true, nil
}

// Void cancels an invoice; an issued one keeps its number (the sequence
// stays gapless and the void is on record). An invoice holding paid money
// not yet given back (refunded or moved to account credit) is refused:
// settle the money first with a refund or a credit note. A paid invoice
// is never voided (a credit note undoes it), nor a void one again.
func (inv *Invoice) Void(reason string, at time.Time) error {
	switch inv.status {
	case Draft, Issued, PartiallyPaid, Overdue:
	default:
		return &StateError{"void", inv.status}
	}
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("a void needs a reason: %w", ErrInvalid)
	}
	if held := inv.Refundable(); isPositive(held) {
		return &NotRefundedError{Held: held, Currency: inv.n.Currency}
	}
	inv.status, inv.voidedFor = Void, reason
	inv.change(at)
	inv.record(VoidedEvent{Invoice: inv.snapshot(), Reason: reason})
	return nil
}

// normalizeReason makes "Course cancelled" and " course  CANCELLED" the
// same reason. Callers should use codes ("course_cancelled",
// "product_failed:cycle:2").
func normalizeReason(r string) string { return strings.Join(strings.Fields(strings.ToLower(r)), " ") }

// replayed looks for a settlement with this reference: found and equal is
// a retry (nothing to do); found and different is a reused reference.
func (inv *Invoice) replayed(s Settlement) (bool, error) {
	for _, p := range inv.settled {
		if p.Reference != s.Reference {
			continue
		}
		if p.Kind == s.Kind && p.Amount == s.Amount && normalizeReason(p.Reason) == normalizeReason(s.Reason) {
			return true, nil
		}
		return false, fmt.Errorf("reference %q: %w", s.Reference, ErrReferenceReused)
	}
	for _, p := range inv.settled {
		if normalizeReason(p.Reason) == normalizeReason(s.Reason) {
			return false, fmt.Errorf("reason %q (%s %s): %w", s.Reason, p.Kind, p.Reference, ErrDuplicateRefund)
		}
	}
	return false, nil
}

// Refund gives back paid money, at most what is refundable, once per
// reason. reference is the caller's idempotency reference: the same
// refund asked again (same reference, amount and reason) changes nothing
// and returns nil; the reference with other content is refused.
func (inv *Invoice) Refund(amount Amount, reason, reference string, at time.Time) error {
	switch inv.status {
	case Issued, PartiallyPaid, Paid, Overdue:
	default:
		return &StateError{"refund", inv.status}
	}
	if !isPositive(amount) {
		return fmt.Errorf("refund of %d: %w", amount, ErrAmount)
	}
	if strings.TrimSpace(reason) == "" || strings.TrimSpace(reference) == "" {
		return fmt.Errorf("a refund needs a reason and a reference: %w", ErrInvalid)
	}
	s := Settlement{Kind: settlementRefund, Reference: reference, Reason: reason, Amount: amount, At: at}
	if again, err := inv.replayed(s); again || err != nil {
		return err
	}
	if refundable := inv.Refundable(); amount > refundable {
		return &RefundableError{Requested: amount, Refundable: refundable, Currency: inv.n.Currency}
	}
	inv.refunded = mustAdd(inv.refunded, amount)
	inv.settled = append(inv.settled, s)
	inv.change(at)
	inv.record(RefundedEvent{Invoice: inv.snapshot(), Amount: amount, Reason: reason, Reference: reference})
	return nil
}

// CreditNote undoes part of an invoice. Its total is split, exactly, into
// what it takes off the amount still owed, what is refunded, and what
// moves to the patient's account credit.
type CreditNote struct {
	// Reference is the caller's idempotency reference (the note's id).
	Reference string
	Reason    string
	Total     Amount
	// ReduceOwed is taken off the amount due (at most AmountDue).
	ReduceOwed Amount
	// Refund is paid money given back; Refund + ToAccountCredit is at
	// most Refundable.
	Refund Amount
	// ToAccountCredit is paid money moved to the account credit, to pay
	// other invoices or be refunded from the account later.
	ToAccountCredit Amount
}

// Validate checks the note on its own: every part non-negative, the total
// positive and equal to the sum of the parts.
func (c CreditNote) Validate() error {
	if strings.TrimSpace(c.Reference) == "" || strings.TrimSpace(c.Reason) == "" {
		return fmt.Errorf("a credit note needs a reference and a reason: %w", ErrInvalid)
	}
	if isNegative(c.ReduceOwed) || isNegative(c.Refund) || isNegative(c.ToAccountCredit) || !isPositive(c.Total) {
		return ErrCreditNoteParts
	}
	sum, err := add(c.ReduceOwed, c.Refund)
	if err == nil {
		sum, err = add(sum, c.ToAccountCredit)
	}
	if err != nil || sum != c.Total {
		return fmt.Errorf("parts %d + %d + %d ≠ total %d: %w", c.ReduceOwed, c.Refund, c.ToAccountCredit, c.Total, ErrCreditNoteParts)
	}
	return nil
}

// Credit applies a credit note to an issued invoice. The note's reason
// counts as settled like a refund's: a refund and a credit note never both
// go out for the same reason. The same note again (same reference and
// content) changes nothing.
func (inv *Invoice) Credit(c CreditNote, at time.Time) error {
	if !inv.status.open() && inv.status != Paid {
		return &StateError{"credit", inv.status}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	s := Settlement{Kind: settlementCredit, Reference: c.Reference, Reason: c.Reason, Amount: c.Total, At: at}
	if again, err := inv.replayed(s); again || err != nil {
		return err
	}
	if due := inv.AmountDue(); c.ReduceOwed > due {
		return &DueError{Requested: c.ReduceOwed, Due: due, Currency: inv.n.Currency}
	}
	back := mustAdd(c.Refund, c.ToAccountCredit)
	if refundable := inv.Refundable(); back > refundable {
		return &RefundableError{Requested: back, Refundable: refundable, Currency: inv.n.Currency}
	}
	inv.credited = mustAdd(inv.credited, c.ReduceOwed)
	inv.refunded = mustAdd(inv.refunded, c.Refund)
	inv.toAccount = mustAdd(inv.toAccount, c.ToAccountCredit)
	inv.settled = append(inv.settled, s)
	paid := inv.settle()
	inv.change(at)
	inv.record(CreditedEvent{Invoice: inv.snapshot(), Note: c})
	if paid {
		inv.record(PaidEvent{Invoice: inv.snapshot()})
	}
	return nil
}
