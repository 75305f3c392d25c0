package ledger

import (
	"errors"
	"fmt"

	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// ErrInvalidAmount: a part of a business event is negative, or the event
// moves nothing at all.
var ErrInvalidAmount = errors.New("invalid amount for the event")

// parts builds the lines of one side from amounts that may be zero (then
// there is no line) but not negative.
func parts(side Side, amounts map[Account]money.Money, order ...Account) ([]Line, error) {
	var out []Line
	for _, a := range order {
		m, ok := amounts[a]
		if !ok || m.IsZero() {
			continue
		}
		if m.IsNegative() {
			return nil, fmt.Errorf("%w: %s %s is negative", ErrInvalidAmount, a, m)
		}
		out = append(out, Line{account: a, side: side, amount: m})
	}
	return out, nil
}

// sumOf adds the parts of an event, which must be of one currency and not
// all zero.
func sumOf(ms ...money.Money) (money.Money, error) {
	total, err := money.Sum(ms[0].Currency(), ms...)
	if err != nil {
		return money.Money{}, fmt.Errorf("%w: %w", ErrMixedCurrency, err)
	}
	if !total.IsPositive() {
		return money.Money{}, fmt.Errorf("%w: the event moves %s", ErrInvalidAmount, total)
	}
	return total, nil
}

// build is the posting of an event's credits and debits, each a part per
// account that may be zero (no line).
func build(k Kind, h Header, credits, debits map[Account]money.Money, order ...Account) (Posting, error) {
	dr, err := parts(Debit, debits, order...)
	if err != nil {
		return Posting{}, err
	}
	cr, err := parts(Credit, credits, order...)
	if err != nil {
		return Posting{}, err
	}
	p, err := NewPosting(k, h, append(dr, cr...)...)
	if err != nil {
		return Posting{}, fmt.Errorf("%s: %w", k, err)
	}
	return p, nil
}

var chart = Accounts()

// IssueInvoice posts an issued invoice of deferred+earned: Dr receivable,
// Cr deferred_revenue what is earned later (a deposit, a course fee), Cr
// revenue what is earned at once (an infusion billed when it is given).
func IssueInvoice(h Header, deferred, earned money.Money) (Posting, error) {
	total, err := sumOf(deferred, earned)
	if err != nil {
		return Posting{}, err
	}
	return build(KindInvoiceIssued, h,
		map[Account]money.Money{DeferredRevenue: deferred, Revenue: earned},
		map[Account]money.Money{Receivable: total}, chart...)
}

// ReceivePayment posts a payment of applied+overpaid: Dr cash, Cr
// receivable what it pays of what is owed, Cr account_credit the rest.
func ReceivePayment(h Header, applied, overpaid money.Money) (Posting, error) {
	total, err := sumOf(applied, overpaid)
	if err != nil {
		return Posting{}, err
	}
	return build(KindPaymentReceived, h,
		map[Account]money.Money{Receivable: applied, AccountCredit: overpaid},
		map[Account]money.Money{Cash: total}, chart...)
}

// RecogniseRevenue posts revenue earned from what was deferred: Dr
// deferred_revenue, Cr revenue (the lab fee at culture start, an infusion's
// share of the deposit when it is given, a forfeited deposit).
func RecogniseRevenue(h Header, amount money.Money) (Posting, error) {
	if _, err := sumOf(amount); err != nil {
		return Posting{}, err
	}
	return build(KindRevenueRecognised, h,
		map[Account]money.Money{Revenue: amount},
		map[Account]money.Money{DeferredRevenue: amount}, chart...)
}

// CreditNote is a credit note's parts. Its total is ReduceOwed + Refund +
// ToCredit; FromRevenue says how much of that total was already earned
// (and is taken off revenue), the rest is taken off deferred revenue.
type CreditNote struct {
	// ReduceOwed is taken off what the patient still owes.
	ReduceOwed money.Money
	// Refund is to be paid back (a refunds balance until it is paid out).
	Refund money.Money
	// ToCredit becomes account credit.
	ToCredit money.Money
	// FromRevenue is the part of the total that had been recognised.
	FromRevenue money.Money
}

// IssueCreditNote posts a credit note: Dr deferred_revenue (and revenue for
// its earned part), Cr receivable / refunds / account_credit by its parts.
// The parts add up exactly by construction: the debit is their sum.
func IssueCreditNote(h Header, cn CreditNote) (Posting, error) {
	total, err := sumOf(cn.ReduceOwed, cn.Refund, cn.ToCredit)
	if err != nil {
		return Posting{}, err
	}
	if cn.FromRevenue.Currency() != total.Currency() && !cn.FromRevenue.IsZero() {
		return Posting{}, fmt.Errorf("%w: earned part in %s", ErrMixedCurrency, cn.FromRevenue.Currency())
	}
	fromRevenue := cn.FromRevenue
	if fromRevenue.IsZero() {
		fromRevenue = money.Zero(total.Currency())
	}
	fromDeferred, err := total.Sub(fromRevenue)
	if err != nil || fromDeferred.IsNegative() || fromRevenue.IsNegative() {
		return Posting{}, fmt.Errorf("%w: earned part %s of a credit note of %s", ErrInvalidAmount, cn.FromRevenue, total)
	}
	return build(KindCreditNote, h,
		map[Account]money.Money{Receivable: cn.ReduceOwed, Refunds: cn.Refund, AccountCredit: cn.ToCredit},
		map[Account]money.Money{DeferredRevenue: fromDeferred, Revenue: fromRevenue}, chart...)
}

// RefundSource is what a refund is taken from.
type RefundSource string

// The sources of a refund.
const (
	// FromInvoice: money paid on an invoice and not yet earned.
	FromInvoice RefundSource = "invoice"
	// FromAccountCredit: the patient's money on account.
	FromAccountCredit RefundSource = "account_credit"
)

// GrantRefund posts a refund decided (approved, where approval is needed):
// Dr deferred_revenue (from an invoice) or account_credit, Cr refunds. The
// money leaves with PayOutRefund.
func GrantRefund(h Header, amount money.Money, from RefundSource) (Posting, error) {
	if _, err := sumOf(amount); err != nil {
		return Posting{}, err
	}
	var debit Account
	switch from {
	case FromInvoice:
		debit = DeferredRevenue
	case FromAccountCredit:
		debit = AccountCredit
	default:
		return Posting{}, fmt.Errorf("%w: refund source %q", ErrInvalidPosting, from)
	}
	return build(KindRefundGranted, h,
		map[Account]money.Money{Refunds: amount},
		map[Account]money.Money{debit: amount}, chart...)
}

// PayOutRefund posts a granted refund leaving the clinic: Dr refunds, Cr
// cash.
func PayOutRefund(h Header, amount money.Money) (Posting, error) {
	if _, err := sumOf(amount); err != nil {
		return Posting{}, err
	}
	return build(KindRefundPaid, h,
		map[Account]money.Money{Cash: amount},
		map[Account]money.Money{Refunds: amount}, chart...)
}

// ApplyAccountCredit posts account credit used to pay an invoice: Dr
// account_credit, Cr receivable.
func ApplyAccountCredit(h Header, amount money.Money) (Posting, error) {
	if _, err := sumOf(amount); err != nil {
		return Posting{}, err
	}
	return build(KindAccountCreditApplied, h,
		map[Account]money.Money{Receivable: amount},
		map[Account]money.Money{AccountCredit: amount}, chart...)
}

// VoidInvoice posts a voided invoice's amount still owed: Dr
// deferred_revenue (and revenue for fromRevenue, the part of it already
// earned), Cr receivable. What was paid on it was settled before (an
// invoice holding paid money is not voided).
func VoidInvoice(h Header, owed, fromRevenue money.Money) (Posting, error) {
	if _, err := sumOf(owed); err != nil {
		return Posting{}, err
	}
	fromDeferred, err := owed.Sub(fromRevenue)
	if err != nil || fromDeferred.IsNegative() || fromRevenue.IsNegative() {
		return Posting{}, fmt.Errorf("%w: earned part %s of a void of %s", ErrInvalidAmount, fromRevenue, owed)
	}
	return build(KindInvoiceVoided, h,
		map[Account]money.Money{Receivable: owed},
		map[Account]money.Money{DeferredRevenue: fromDeferred, Revenue: fromRevenue}, chart...)
}
