package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// Refund statuses.
const (
	RefundPending = "pending_approval"
	RefundIssued  = "issued"
)

// Refunds stores refunds.
type Refunds interface {
	// Add stores a refund; a second one for the same reason on the same
	// invoice is invoice.ErrDuplicateRefund.
	Add(ctx context.Context, r Refund) error
	// Get returns the refund locked, or ErrNoRefund.
	Get(ctx context.Context, id uuid.UUID) (Refund, error)
	// Issued marks a pending refund issued by an approver.
	Issued(ctx context.Context, r Refund, approvedBy string, at time.Time) error
}

// Refund is money given back against an invoice, or out of the account
// credit (InvoiceID uuid.Nil).
type Refund struct {
	ID, PatientID, InvoiceID uuid.UUID
	Number                   string
	Amount                   money.Money
	Reason                   string
	Status                   string
	CreatedAt                time.Time
}

// RefundInput is a refund the billing desk asks for: against an invoice,
// or, with no invoice (uuid.Nil), out of the patient's account credit.
type RefundInput struct {
	PatientID, InvoiceID uuid.UUID
	Amount               money.Money
	Reason               string
}

// Errors of refunds.
var (
	ErrNoRefund         = errors.New("no such refund")
	ErrRefundNotPending = errors.New("the refund is not waiting for approval")
	ErrInvalidRefund    = errors.New("invalid refund")
	// ErrAboveAccountCredit: a refund of account credit above what the
	// account holds.
	ErrAboveAccountCredit = errors.New("above the account credit")
	// ErrRefundEarned: a refund from an invoice above what its course
	// holds not yet earned (money the policy kept, or recognised as the
	// course was given). A refund takes back unearned money; earned money
	// is given back by a credit note, which takes it off revenue.
	ErrRefundEarned = errors.New("the money was earned: give it back with a credit note")
)

// RequestRefund gives back money paid on an invoice: never above what is
// refundable (paid, less refunded), never twice for the same reason, and
// decided under the invoice's lock, so two refunds racing for the last of
// it cannot both pass. With no invoice it gives back account credit, never
// above what the account holds, decided under the account's lock. Above the approval limit it waits, as
// pending_approval, for an admin (ApproveRefund); below it is issued at
// once: the invoice refunded (RefundIssued), the refund granted and paid
// out in the ledger.
func (b *Billing) RequestRefund(ctx context.Context, repos Repositories, in RefundInput) (Refund, error) {
	now := b.now()
	in.Reason = strings.TrimSpace(in.Reason)
	if in.Reason == "" || len(in.Reason) > 200 {
		return Refund{}, fmt.Errorf("reason: 1 to 200 characters: %w", ErrInvalidRefund)
	}
	if settlementReason(in.Reason) {
		return Refund{}, fmt.Errorf("reason %q is billing's own: %w", in.Reason, ErrInvalidRefund)
	}
	if !in.Amount.IsPositive() {
		return Refund{}, fmt.Errorf("amount must be positive: %w", ErrInvalidRefund)
	}
	// The account first, then the invoice: the order payments take too.
	book, err := repos.Ledger().Book(ctx, in.PatientID)
	if err != nil {
		return Refund{}, err
	}
	if in.Amount.Currency() != book.Summary().Currency {
		return Refund{}, ErrWrongCurrency
	}
	inv, err := b.refundedInvoice(ctx, repos, in.PatientID, in.InvoiceID)
	if err != nil {
		return Refund{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Refund{}, err
	}
	r := Refund{ID: id, PatientID: in.PatientID, InvoiceID: in.InvoiceID, Amount: in.Amount,
		Reason: in.Reason, Status: RefundIssued, CreatedAt: now}
	if inv != nil {
		r.Number = inv.Number()
	}
	if b.ApprovalAbove.IsPositive() {
		above, err := in.Amount.Cmp(b.ApprovalAbove)
		if err != nil {
			return Refund{}, err
		}
		if above > 0 {
			// Held to every rule the approval will apply (the amount, the
			// reason not settled before), so it waits only if it can pass.
			if err := refundable(book, inv, in.Amount, in.Reason); err != nil {
				return Refund{}, err
			}
			if err := b.unearned(ctx, repos, book, inv, in.Amount); err != nil {
				return Refund{}, err
			}
			r.Status = RefundPending
			return r, repos.Refunds().Add(ctx, r)
		}
	}
	if err := b.payRefund(ctx, repos, book, inv, r, now); err != nil {
		return Refund{}, err
	}
	return r, repos.Refunds().Add(ctx, r)
}

// ApproveRefund issues a refund that waited for approval, checked again
// against the invoice as it is now.
func (b *Billing) ApproveRefund(ctx context.Context, repos Repositories, id uuid.UUID, by string) (Refund, error) {
	now := b.now()
	r, err := repos.Refunds().Get(ctx, id)
	if err != nil {
		return Refund{}, err
	}
	if r.Status != RefundPending {
		return Refund{}, ErrRefundNotPending
	}
	book, err := repos.Ledger().Book(ctx, r.PatientID)
	if err != nil {
		return Refund{}, err
	}
	inv, err := b.refundedInvoice(ctx, repos, r.PatientID, r.InvoiceID)
	if err != nil {
		return Refund{}, err
	}
	if err := b.payRefund(ctx, repos, book, inv, r, now); err != nil {
		return Refund{}, err
	}
	r.Status = RefundIssued
	return r, repos.Refunds().Issued(ctx, r, by, now)
}

// refundedInvoice is the invoice a refund is against, locked (after the
// account), or nil for a refund of account credit.
func (b *Billing) refundedInvoice(ctx context.Context, repos Repositories, patientID, invoiceID uuid.UUID) (*invoice.Invoice, error) {
	if invoiceID == uuid.Nil {
		return nil, nil
	}
	inv, err := repos.Invoices().Get(ctx, invoiceID)
	if err != nil {
		return nil, err
	}
	if inv.PatientID() != patientID {
		return nil, fmt.Errorf("invoice %s is another patient's: %w", invoiceID, ErrInvalidRefund)
	}
	return inv, nil
}

// refundable checks a refund against what it comes from: the invoice (its
// refundable money, the reasons it settled), or the account credit.
func refundable(book *ledger.Book, inv *invoice.Invoice, amount money.Money, reason string) error {
	if inv != nil {
		return inv.CheckRefund(amount, reason)
	}
	credit := book.Balance(ledger.AccountCredit)
	if c, err := amount.Cmp(credit); err != nil || c > 0 {
		if err != nil {
			return err
		}
		return fmt.Errorf("%s asked, %s held: %w", amount, credit, ErrAboveAccountCredit)
	}
	return nil
}

// payRefund issues r: against the invoice (its refundable money, once per
// reason, RefundIssued published with it) or out of the account credit
// (checked under the account's lock; RefundIssued published with the
// refund), granted and paid out in the ledger.
func (b *Billing) payRefund(ctx context.Context, repos Repositories, book *ledger.Book, inv *invoice.Invoice, r Refund, now time.Time) error {
	from := ledger.FromAccountCredit
	if inv != nil {
		from = ledger.FromInvoice
		if err := b.unearned(ctx, repos, book, inv, r.Amount); err != nil {
			return err
		}
		if err := inv.Refund(r.Amount, r.Reason, r.ID.String(), now); err != nil {
			return err
		}
		if err := repos.Invoices().Save(ctx, inv); err != nil {
			return err
		}
	} else if err := refundable(book, nil, r.Amount, r.Reason); err != nil {
		return err
	}
	refs := ledger.Refs{InvoiceID: r.InvoiceID, RefundID: r.ID}
	if err := post(ctx, repos, book, func(h ledger.Header) (ledger.Posting, error) {
		return ledger.GrantRefund(h.WithRefs(refs), r.Amount, from)
	}, now); err != nil {
		return err
	}
	return post(ctx, repos, book, func(h ledger.Header) (ledger.Posting, error) {
		return ledger.PayOutRefund(h.WithRefs(refs), r.Amount)
	}, now)
}

// unearned refuses a refund from inv above the deferred revenue its course
// holds: a refund from an invoice is taken off deferred revenue, and money
// already earned (kept under the cancellation policy, or recognised as the
// course was given) is not there to take.
func (b *Billing) unearned(ctx context.Context, repos Repositories, book *ledger.Book, inv *invoice.Invoice, amount money.Money) error {
	if inv == nil {
		return nil
	}
	course, err := b.courseInvoiceIDs(ctx, repos, inv)
	if err != nil {
		return err
	}
	held := deferredOf(book, course)
	c, err := amount.Cmp(held)
	if err != nil {
		return err
	}
	if c > 0 {
		return fmt.Errorf("%s asked, %s of the course not yet earned: %w", amount, held, ErrRefundEarned)
	}
	return nil
}
