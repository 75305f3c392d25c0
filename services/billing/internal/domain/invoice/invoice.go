// Package invoice is one invoice of a patient's treatment course: its lines,
// frozen at issue with the prices of the day, its number, and the money that
// went through it (paid, credited, refunded). Pure Go, no I/O: the gapless
// number comes from the database and is handed to Issue; the lock that keeps
// two refunds from both passing is the repository's (FOR UPDATE), the rule
// they are checked against is here.
//
// Money on an invoice is money.Money, all of it in the invoice's one
// currency (an amount in another is refused where it comes in):
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
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
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
	// ErrOverflow: an amount too large to be a real price (int64 minor
	// units would overflow). It is money's sentinel, named here so callers
	// of this package need not import money to tell it apart.
	ErrOverflow = money.ErrOverflow
)

// inCurrency refuses an amount that is not in the invoice's currency (the
// zero Money, of no currency, included); the error is both ErrInvalid and
// money.ErrCurrencyMismatch.
func (inv *Invoice) inCurrency(what string, m money.Money) error {
	if err := money.CheckCurrency(m, inv.n.Currency); err != nil {
		return fmt.Errorf("%s: %w: %w", what, ErrInvalid, err)
	}
	return nil
}

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
	Requested, Refundable money.Money
}

func (e *RefundableError) Error() string {
	return fmt.Sprintf("refund of %s exceeds the refundable %s", e.Requested, e.Refundable)
}

// Unwrap makes errors.Is(err, ErrAboveRefundable) hold.
func (e *RefundableError) Unwrap() error { return ErrAboveRefundable }

// DueError is a credit note taking off more than is owed.
type DueError struct {
	Requested, Due money.Money
}

func (e *DueError) Error() string {
	return fmt.Sprintf("credit of %s exceeds the amount due %s", e.Requested, e.Due)
}

// Unwrap makes errors.Is(err, ErrAboveDue) hold.
func (e *DueError) Unwrap() error { return ErrAboveDue }

// NotRefundedError is a void refused because money is still held.
type NotRefundedError struct {
	Held money.Money
}

func (e *NotRefundedError) Error() string {
	return fmt.Sprintf("%s paid and not refunded", e.Held)
}

// Unwrap makes errors.Is(err, ErrNotRefunded) hold.
func (e *NotRefundedError) Unwrap() error { return ErrNotRefunded }

// Line is one item of an invoice. Amount and Tax are computed once, when
// the line is added, and never again: an issued invoice keeps its prices.
type Line struct {
	Code        string
	Description string
	Quantity    int64
	UnitPrice   money.Money
	// TaxRate in basis points (1300 = 13 %); the unit price is net of tax.
	TaxRate BasisPoints
	// Amount = Quantity × UnitPrice.
	Amount money.Money
	// Tax = Amount × TaxRate / 10000, rounded half to even once per line.
	Tax money.Money
}

// LineItem is a line to add; the aggregate computes its amount and tax.
type LineItem struct {
	Code        string
	Description string
	Quantity    int64
	// UnitPrice is in the invoice's currency.
	UnitPrice money.Money
	TaxRate   BasisPoints
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
	Amount money.Money
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
	Cycle int
	// Currency is the one currency of all the invoice's amounts.
	Currency money.Currency
	Kind     Kind
}

// Invoice is the aggregate.
type Invoice struct {
	n         New
	lines     []Line
	total     money.Money
	status    Status
	number    string
	issuedAt  time.Time
	dueDate   time.Time
	paid      money.Money
	credited  money.Money
	refunded  money.Money
	toAccount money.Money
	settled   []Settlement
	voidedFor string
	voided    money.Money
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
	if _, err := money.New(0, n.Currency); err != nil {
		return nil, fmt.Errorf("currency: %w: %w", err, ErrInvalid)
	}
	if !n.Kind.Valid() {
		return nil, fmt.Errorf("kind %q: %w", n.Kind, ErrInvalid)
	}
	zero := money.Zero(n.Currency)
	return &Invoice{n: n, total: zero, status: Draft, paid: zero, credited: zero, refunded: zero, toAccount: zero,
		version: 1, createdAt: now, updatedAt: now}, nil
}

// State is an invoice as stored, for the repository. Every amount is in
// New.Currency, zeros included (money.Zero of it).
type State struct {
	New
	Lines    []Line
	Total    money.Money
	Status   Status
	Number   string
	IssuedAt time.Time
	DueDate  time.Time
	Paid     money.Money
	Credited money.Money
	Refunded money.Money
	// MovedToAccountCredit is paid money a credit note moved to the
	// patient's account credit.
	MovedToAccountCredit money.Money
	Settlements          []Settlement
	VoidReason           string
	// Voided is what was still owed when it was voided.
	Voided    money.Money
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// FromState rebuilds a stored invoice; for the repository only.
func FromState(s State) *Invoice {
	return &Invoice{n: s.New, lines: slices.Clone(s.Lines), total: s.Total, status: s.Status,
		number: s.Number, issuedAt: s.IssuedAt, dueDate: s.DueDate, paid: s.Paid,
		credited: s.Credited, refunded: s.Refunded, toAccount: s.MovedToAccountCredit,
		settled: slices.Clone(s.Settlements), voidedFor: s.VoidReason, voided: s.Voided, version: s.Version,
		createdAt: s.CreatedAt, updatedAt: s.UpdatedAt}
}

// State is the invoice as the repository stores it.
func (inv *Invoice) State() State {
	return State{New: inv.n, Lines: slices.Clone(inv.lines), Total: inv.total, Status: inv.status,
		Number: inv.number, IssuedAt: inv.issuedAt, DueDate: inv.dueDate, Paid: inv.paid,
		Credited: inv.credited, Refunded: inv.refunded, MovedToAccountCredit: inv.toAccount,
		Settlements: slices.Clone(inv.settled), VoidReason: inv.voidedFor, Voided: inv.voided, Version: inv.version,
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
func (inv *Invoice) Currency() money.Currency { return inv.n.Currency }

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
func (inv *Invoice) Total() money.Money { return inv.total }

// AmountPaid is what was paid against it (before refunds).
func (inv *Invoice) AmountPaid() money.Money { return inv.paid }

// AmountCredited is what credit notes took off what is owed.
func (inv *Invoice) AmountCredited() money.Money { return inv.credited }

// AmountRefunded is what was given back, by refunds and credit notes.
func (inv *Invoice) AmountRefunded() money.Money { return inv.refunded }

// MovedToAccountCredit is paid money credit notes moved to account credit.
func (inv *Invoice) MovedToAccountCredit() money.Money { return inv.toAccount }

// Version is its version; every change adds one.
func (inv *Invoice) Version() int64 { return inv.version }

// AmountDue is what is still owed: total − paid − credited, never negative.
func (inv *Invoice) AmountDue() money.Money {
	if inv.status == Draft || inv.status == Void {
		return money.Zero(inv.n.Currency)
	}
	d := must(must(inv.total.Sub(inv.paid)).Sub(inv.credited))
	if d.IsNegative() {
		return money.Zero(inv.n.Currency)
	}
	return d
}

// Refundable is what can still be given back: paid − refunded − moved to
// account credit, never negative.
func (inv *Invoice) Refundable() money.Money {
	r := must(must(inv.paid.Sub(inv.refunded)).Sub(inv.toAccount))
	if r.IsNegative() {
		return money.Zero(inv.n.Currency)
	}
	return r
}

func (inv *Invoice) change(now time.Time) {
	inv.version++
	inv.updatedAt = now
}

func (inv *Invoice) record(e Event) { inv.events = append(inv.events, e) }

// AddLine adds a line to a draft. Quantity is positive, the unit price
// non-negative and in the invoice's currency, the tax rate non-negative
// and at most 100 %.
func (inv *Invoice) AddLine(li LineItem, now time.Time) error {
	if inv.status != Draft {
		return &StateError{"add a line to", inv.status}
	}
	if strings.TrimSpace(li.Code) == "" {
		return fmt.Errorf("line code is required: %w", ErrInvalid)
	}
	if err := inv.inCurrency("line "+li.Code+" unit price", li.UnitPrice); err != nil {
		return err
	}
	if li.Quantity <= 0 || li.UnitPrice.IsNegative() || li.TaxRate < 0 || li.TaxRate > maxRate {
		return fmt.Errorf("line %s: quantity %d, unit price %s, tax rate %d bp: %w",
			li.Code, li.Quantity, li.UnitPrice, li.TaxRate, ErrInvalid)
	}
	amount, err := li.UnitPrice.MulRatio(li.Quantity, 1)
	if err != nil {
		return fmt.Errorf("line %s: %w", li.Code, err)
	}
	tax, err := Tax(amount, li.TaxRate)
	if err != nil {
		return fmt.Errorf("line %s: %w", li.Code, err)
	}
	gross, err := amount.Add(tax)
	if err != nil {
		return fmt.Errorf("line %s: %w", li.Code, err)
	}
	total, err := inv.total.Add(gross)
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
	if len(inv.lines) == 0 || !inv.total.IsPositive() {
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
	case inv.AmountDue().IsZero():
		inv.status = Paid
		return true
	case inv.status == Overdue:
	case inv.paid.IsPositive():
		inv.status = PartiallyPaid
	}
	return false
}

// ApplyPayment applies a payment (or the part of one allocated to this
// invoice), in the invoice's currency. What exceeds the amount due is not
// applied: it is returned as overpayment for the caller to put on the
// patient's account credit.
func (inv *Invoice) ApplyPayment(amount money.Money, paymentID string, at time.Time) (overpayment money.Money, err error) {
	if !inv.status.open() {
		return money.Money{}, &StateError{"pay", inv.status}
	}
	if err := inv.inCurrency("payment", amount); err != nil {
		return money.Money{}, err
	}
	if !amount.IsPositive() {
		return money.Money{}, fmt.Errorf("payment of %s: %w", amount, ErrAmount)
	}
	if strings.TrimSpace(paymentID) == "" {
		return money.Money{}, fmt.Errorf("payment id is required: %w", ErrInvalid)
	}
	applied := must(amount.Min(inv.AmountDue()))
	overpayment = must(amount.Sub(applied))
	inv.paid = must(inv.paid.Add(applied))
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
	if held := inv.Refundable(); held.IsPositive() {
		return &NotRefundedError{Held: held}
	}
	inv.voided = inv.AmountDue()
	inv.status, inv.voidedFor = Void, reason
	inv.change(at)
	inv.record(VoidedEvent{Invoice: inv.snapshot(), Reason: reason, Amount: inv.voided})
	return nil
}

// AmountVoided is what was still owed when it was voided (zero for an
// invoice never voided).
func (inv *Invoice) AmountVoided() money.Money {
	if inv.voided.Currency() != inv.n.Currency {
		return money.Zero(inv.n.Currency)
	}
	return inv.voided
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

// Refund gives back paid money, in the invoice's currency, at most what
// is refundable, once per reason. reference is the caller's idempotency
// reference: the same refund asked again (same reference, amount and
// reason) changes nothing and returns nil; the reference with other
// content is refused.
func (inv *Invoice) Refund(amount money.Money, reason, reference string, at time.Time) error {
	if strings.TrimSpace(reference) == "" {
		return fmt.Errorf("a refund needs a reason and a reference: %w", ErrInvalid)
	}
	s := Settlement{Kind: settlementRefund, Reference: reference, Reason: reason, Amount: amount, At: at}
	if again, err := inv.checkRefund(s); again || err != nil {
		return err
	}
	inv.refunded = must(inv.refunded.Add(amount))
	inv.settled = append(inv.settled, s)
	inv.change(at)
	inv.record(RefundedEvent{Invoice: inv.snapshot(), Amount: amount, Reason: reason, Reference: reference})
	return nil
}

// CheckRefund refuses, as Refund would now, a new refund of amount for
// reason, and changes nothing: a refund that waits for approval is held
// to it when it is asked for, so it is not accepted only to be refused
// at approval.
func (inv *Invoice) CheckRefund(amount money.Money, reason string) error {
	_, err := inv.checkRefund(Settlement{Kind: settlementRefund, Reason: reason, Amount: amount})
	return err
}

// checkRefund holds a refund to the rules (status, currency, a positive
// amount, a reason, once per reason, at most what is refundable); again
// is true for a retry of one made (same reference and content).
func (inv *Invoice) checkRefund(s Settlement) (again bool, err error) {
	switch inv.status {
	case Issued, PartiallyPaid, Paid, Overdue:
	default:
		return false, &StateError{"refund", inv.status}
	}
	if err := inv.inCurrency("refund", s.Amount); err != nil {
		return false, err
	}
	if !s.Amount.IsPositive() {
		return false, fmt.Errorf("refund of %s: %w", s.Amount, ErrAmount)
	}
	if strings.TrimSpace(s.Reason) == "" {
		return false, fmt.Errorf("a refund needs a reason and a reference: %w", ErrInvalid)
	}
	if again, err := inv.replayed(s); again || err != nil {
		return again, err
	}
	if refundable := inv.Refundable(); must(s.Amount.Cmp(refundable)) > 0 {
		return false, &RefundableError{Requested: s.Amount, Refundable: refundable}
	}
	return false, nil
}

// CreditNote undoes part of an invoice. Its total is split, exactly, into
// what it takes off the amount still owed, what is refunded, and what
// moves to the patient's account credit. All four amounts are in the
// invoice's currency, a part of nothing included (money.Zero of it).
type CreditNote struct {
	// Reference is the caller's idempotency reference (the note's id).
	Reference string
	// Number is the note's own number (CN-2026-000001), from the year's
	// gapless series, assigned by the caller when it issues the note.
	Number string
	Reason string
	Total  money.Money
	// ReduceOwed is taken off the amount due (at most AmountDue).
	ReduceOwed money.Money
	// Refund is paid money given back; Refund + ToAccountCredit is at
	// most Refundable.
	Refund money.Money
	// ToAccountCredit is paid money moved to the account credit, to pay
	// other invoices or be refunded from the account later.
	ToAccountCredit money.Money
}

// Validate checks the note on its own: every part non-negative and in the
// total's currency, the total positive and equal to the sum of the parts.
func (c CreditNote) Validate() error {
	if strings.TrimSpace(c.Reference) == "" || strings.TrimSpace(c.Reason) == "" {
		return fmt.Errorf("a credit note needs a reference and a reason: %w", ErrInvalid)
	}
	if c.ReduceOwed.IsNegative() || c.Refund.IsNegative() || c.ToAccountCredit.IsNegative() || !c.Total.IsPositive() {
		return ErrCreditNoteParts
	}
	sum, err := money.Sum(c.Total.Currency(), c.ReduceOwed, c.Refund, c.ToAccountCredit)
	if err != nil {
		return fmt.Errorf("parts %s + %s + %s of total %s: %w: %w", c.ReduceOwed, c.Refund, c.ToAccountCredit, c.Total, ErrCreditNoteParts, err)
	}
	if sum != c.Total {
		return fmt.Errorf("parts %s + %s + %s ≠ total %s: %w", c.ReduceOwed, c.Refund, c.ToAccountCredit, c.Total, ErrCreditNoteParts)
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
	if err := inv.inCurrency("credit note", c.Total); err != nil {
		return err
	}
	s := Settlement{Kind: settlementCredit, Reference: c.Reference, Reason: c.Reason, Amount: c.Total, At: at}
	if again, err := inv.replayed(s); again || err != nil {
		return err
	}
	if due := inv.AmountDue(); must(c.ReduceOwed.Cmp(due)) > 0 {
		return &DueError{Requested: c.ReduceOwed, Due: due}
	}
	back := must(c.Refund.Add(c.ToAccountCredit))
	if refundable := inv.Refundable(); must(back.Cmp(refundable)) > 0 {
		return &RefundableError{Requested: back, Refundable: refundable}
	}
	inv.credited = must(inv.credited.Add(c.ReduceOwed))
	inv.refunded = must(inv.refunded.Add(c.Refund))
	inv.toAccount = must(inv.toAccount.Add(c.ToAccountCredit))
	inv.settled = append(inv.settled, s)
	paid := inv.settle()
	inv.change(at)
	inv.record(CreditedEvent{Invoice: inv.snapshot(), Note: c})
	if paid {
		inv.record(PaidEvent{Invoice: inv.snapshot()})
	}
	return nil
}
