package invoice

import (
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// Event is something that happened to an invoice's money. The aggregate
// records its events; the repository writes them to the outbox in the
// transaction that stores it. Events of one change (a payment that pays
// the invoice in full: PaymentApplied then Paid) carry the same version.
type Event interface{ invoiceEvent() }

// Snapshot is the invoice as every event carries it: who, what, and its
// money after the change.
type Snapshot struct {
	InvoiceID uuid.UUID
	Number    string
	PatientID uuid.UUID
	CourseID  uuid.UUID
	Cycle     int
	Kind      Kind
	Currency  money.Currency
	Status    Status
	Total     money.Money
	Paid      money.Money
	Credited  money.Money
	Refunded  money.Money
	// MovedToAccountCredit is paid money moved to account credit.
	MovedToAccountCredit money.Money
	Due                  money.Money
	Version              int64
	At                   time.Time
}

func (inv *Invoice) snapshot() Snapshot {
	return Snapshot{InvoiceID: inv.n.ID, Number: inv.number, PatientID: inv.n.PatientID,
		CourseID: inv.n.CourseID, Cycle: inv.n.Cycle, Kind: inv.n.Kind, Currency: inv.n.Currency,
		Status: inv.status, Total: inv.total, Paid: inv.paid, Credited: inv.credited,
		Refunded: inv.refunded, MovedToAccountCredit: inv.toAccount, Due: inv.AmountDue(),
		Version: inv.version, At: inv.updatedAt}
}

// IssuedEvent: numbered, with the lines and prices it keeps.
type IssuedEvent struct {
	Invoice  Snapshot
	Lines    []Line
	IssuedAt time.Time
	DueDate  time.Time
}

// VoidedEvent: voided; it keeps its number.
type VoidedEvent struct {
	Invoice Snapshot
	Reason  string
	// Amount is what was still owed and no longer is.
	Amount money.Money
}

// OverdueEvent: past its due date with money owed.
type OverdueEvent struct {
	Invoice Snapshot
	DueDate time.Time
}

// PaymentAppliedEvent: a payment applied; Amount = Applied + Overpayment,
// the overpayment going to account credit.
type PaymentAppliedEvent struct {
	Invoice     Snapshot
	PaymentID   string
	Amount      money.Money
	Applied     money.Money
	Overpayment money.Money
}

// PaidEvent: nothing is owed any more (paid, or paid and credited).
type PaidEvent struct{ Invoice Snapshot }

// RefundedEvent: paid money given back.
type RefundedEvent struct {
	Invoice   Snapshot
	Amount    money.Money
	Reason    string
	Reference string
}

// CreditedEvent: a credit note applied, with its three parts.
type CreditedEvent struct {
	Invoice Snapshot
	Note    CreditNote
}

func (IssuedEvent) invoiceEvent()         {}
func (VoidedEvent) invoiceEvent()         {}
func (OverdueEvent) invoiceEvent()        {}
func (PaymentAppliedEvent) invoiceEvent() {}
func (PaidEvent) invoiceEvent()           {}
func (RefundedEvent) invoiceEvent()       {}
func (CreditedEvent) invoiceEvent()       {}

// Events returns what happened since it was created or loaded, oldest first.
func (inv *Invoice) Events() []Event { return append([]Event(nil), inv.events...) }

// TakeEvents returns the events recorded since the last call (or the load)
// and forgets them: the repository writes each event exactly once.
func (inv *Invoice) TakeEvents() []Event {
	out := inv.events
	inv.events = nil
	return out
}
