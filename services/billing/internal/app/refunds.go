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
	Issued(ctx context.Context, id uuid.UUID, approvedBy string, at time.Time) error
}

// Refund is money given back against an invoice.
type Refund struct {
	ID, PatientID, InvoiceID uuid.UUID
	Number                   string
	Amount                   money.Money
	Reason                   string
	Status                   string
	CreatedAt                time.Time
}

// RefundInput is a refund the billing desk asks for.
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
)

// RequestRefund gives back money paid on an invoice: never above what is
// refundable (paid, less refunded), never twice for the same reason, and
// decided under the invoice's lock, so two refunds racing for the last of
// it cannot both pass. Above the approval limit it waits, as
// pending_approval, for an admin (ApproveRefund); below it is issued at
// once: the invoice refunded (RefundIssued), the refund granted and paid
// out in the ledger.
func (b *Billing) RequestRefund(ctx context.Context, repos Repositories, in RefundInput) (Refund, error) {
	now := b.now()
	in.Reason = strings.TrimSpace(in.Reason)
	if in.Reason == "" || len(in.Reason) > 200 {
		return Refund{}, fmt.Errorf("reason: 1 to 200 characters: %w", ErrInvalidRefund)
	}
	if !in.Amount.IsPositive() {
		return Refund{}, fmt.Errorf("amount must be positive: %w", ErrInvalidRefund)
	}
	// The account first, then the invoice: the order payments take too.
	book, err := repos.Ledger().Book(ctx, in.PatientID)
	if err != nil {
		return Refund{}, err
	}
	inv, err := repos.Invoices().Get(ctx, in.InvoiceID)
	if err != nil {
		return Refund{}, err
	}
	if inv.PatientID() != in.PatientID {
		return Refund{}, fmt.Errorf("invoice %s is another patient's: %w", in.InvoiceID, ErrInvalidRefund)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Refund{}, err
	}
	r := Refund{ID: id, PatientID: in.PatientID, InvoiceID: in.InvoiceID, Number: inv.Number(), Amount: in.Amount,
		Reason: in.Reason, Status: RefundIssued, CreatedAt: now}
	if b.ApprovalAbove.IsPositive() {
		above, err := in.Amount.Cmp(b.ApprovalAbove)
		if err != nil {
			return Refund{}, err
		}
		if above > 0 {
			if c, err := in.Amount.Cmp(inv.Refundable()); err != nil || c > 0 {
				if err != nil {
					return Refund{}, err
				}
				return Refund{}, &invoice.RefundableError{Requested: in.Amount, Refundable: inv.Refundable()}
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
	inv, err := repos.Invoices().Get(ctx, r.InvoiceID)
	if err != nil {
		return Refund{}, err
	}
	if err := b.payRefund(ctx, repos, book, inv, r, now); err != nil {
		return Refund{}, err
	}
	r.Status = RefundIssued
	return r, repos.Refunds().Issued(ctx, id, by, now)
}

func (b *Billing) payRefund(ctx context.Context, repos Repositories, book *ledger.Book, inv *invoice.Invoice, r Refund, now time.Time) error {
	if err := inv.Refund(r.Amount, r.Reason, r.ID.String(), now); err != nil {
		return err
	}
	if err := repos.Invoices().Save(ctx, inv); err != nil {
		return err
	}
	refs := ledger.Refs{InvoiceID: inv.ID(), RefundID: r.ID}
	grantID, err := uuid.NewV7()
	if err != nil {
		return err
	}
	grant, err := ledger.GrantRefund(book.Header(grantID, refs, now), r.Amount, ledger.FromInvoice)
	if err != nil {
		return err
	}
	if err := book.Post(grant); err != nil {
		return err
	}
	if err := repos.Ledger().Append(ctx, grant); err != nil {
		return err
	}
	payID, err := uuid.NewV7()
	if err != nil {
		return err
	}
	pay, err := ledger.PayOutRefund(book.Header(payID, refs, now), r.Amount)
	if err != nil {
		return err
	}
	if err := book.Post(pay); err != nil {
		return err
	}
	return repos.Ledger().Append(ctx, pay)
}
