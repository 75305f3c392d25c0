package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
)

// ErrInvalidVoid: a void without a reason (or with a very long one).
var ErrInvalidVoid = errors.New("a void needs a reason of 1 to 200 characters")

// VoidInvoice voids an invoice that holds no paid money (settle that
// first with a refund or a credit note): it keeps its number, what it still
// owed is taken off the account (Dr deferred revenue, or revenue for what
// was already earned of its course, Cr receivable), and InvoiceVoided is
// published. Decided under the account's lock; a paid, void or draft
// invoice is refused.
func (b *Billing) VoidInvoice(ctx context.Context, repos Repositories, invoiceID uuid.UUID, reason string) (*invoice.Invoice, error) {
	now := b.now()
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 200 {
		return nil, fmt.Errorf("reason: 1 to 200 characters: %w", ErrInvalidVoid)
	}
	inv, err := repos.Invoices().Get(ctx, invoiceID)
	if err != nil {
		return nil, err
	}
	// The account's lock first (the order payments and refunds take),
	// then the invoice as it is under it.
	book, err := repos.Ledger().Book(ctx, inv.PatientID())
	if err != nil {
		return nil, err
	}
	if inv, err = repos.Invoices().Get(ctx, invoiceID); err != nil {
		return nil, err
	}
	course, err := b.courseInvoiceIDs(ctx, repos, inv)
	if err != nil {
		return nil, err
	}
	if err := inv.Void(reason, now); err != nil {
		return nil, err
	}
	if err := repos.Invoices().Save(ctx, inv); err != nil {
		return nil, err
	}
	owed := inv.AmountVoided()
	if !owed.IsPositive() {
		return inv, nil
	}
	fromRevenue, err := earnedPart(book, course, owed)
	if err != nil {
		return nil, err
	}
	return inv, post(ctx, repos, book, func(h ledger.Header) (ledger.Posting, error) {
		return ledger.VoidInvoice(h.WithRefs(ledger.Refs{InvoiceID: inv.ID()}), owed, fromRevenue)
	}, now)
}
