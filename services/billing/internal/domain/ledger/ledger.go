// Package ledger is the double-entry ledger of a patient's account with the
// clinic: every change of money is a Posting whose debits equal its credits,
// and every balance is derived from postings, never stored apart. Pure Go,
// no I/O.
//
// # Chart of accounts
//
// Each patient account has six ledger accounts. A balance is reported on
// the account's normal side, so in a sound ledger none is ever negative.
//
//	account           type       normal  balance means
//	receivable        asset      debit   invoiced and still owed by the patient
//	cash              asset      debit   received from the patient, less paid back
//	deferred_revenue  liability  credit  invoiced course money not yet earned (a
//	                                     deposit until the infusion it pays for)
//	revenue           income     credit  earned: recognised, net of credit notes
//	refunds           liability  credit  refunds payable: granted, not yet paid out
//	account_credit    liability  credit  the patient's money on account
//
// Paid in total is the debit turnover of cash; refunded is the debit
// turnover of refunds (money actually paid back); refunds granted is its
// credit turnover. Tax has no account of its own here: an invoice's tax is
// part of what it defers or earns.
//
// # Postings, one per business event
//
//	invoice issued         Dr receivable          Cr deferred_revenue (to be earned)
//	                                              Cr revenue (earned at once, e.g. an
//	                                                 infusion billed when given)
//	payment received       Dr cash                Cr receivable (what it pays of what is owed)
//	                                              Cr account_credit (the overpayment)
//	revenue recognised     Dr deferred_revenue    Cr revenue
//	  (the lab fee when culture starts; an infusion's share of the deposit when
//	  it is given; a deposit forfeited under the cancellation policy)
//	credit note            Dr deferred_revenue    Cr receivable (takes off what is owed)
//	                       Dr revenue (the part   Cr refunds (to be paid back)
//	                          already earned)     Cr account_credit (kept on account)
//	refund granted         Dr deferred_revenue (from an invoice's paid amount)
//	                       or Dr account_credit   Cr refunds
//	refund paid out        Dr refunds             Cr cash
//	account credit applied Dr account_credit      Cr receivable
//	invoice voided         Dr deferred_revenue    Cr receivable (what it still owed)
//	                       Dr revenue (the part
//	                          already earned)
//
// A credit note thus takes its total off what the clinic has yet to earn
// (or, for its earned part, off revenue) and says where the money goes:
// off the bill, back to the patient, or onto their account. A refund is two
// postings, granted then paid out, so a refund waiting for its payment is
// visible as a refunds balance, and the cash account moves only when money
// really leaves. Both steps may be written in one transaction.
//
// # Invariants
//
// A Book refuses a posting after which any balance would be negative, or
// refunds granted would exceed paid in total; Check finds the same on stored
// postings, plus what a Book never lets in: unbalanced or mixed-currency
// postings and gaps or duplicates in an account's sequence.
package ledger

import "slices"

// Account is a ledger account of a patient account.
type Account string

// The chart of accounts; see the package documentation.
const (
	Receivable      Account = "receivable"
	Cash            Account = "cash"
	DeferredRevenue Account = "deferred_revenue"
	Revenue         Account = "revenue"
	Refunds         Account = "refunds"
	AccountCredit   Account = "account_credit"
)

// Accounts is the chart, in a stable order.
func Accounts() []Account {
	return []Account{Receivable, Cash, DeferredRevenue, Revenue, Refunds, AccountCredit}
}

// Valid reports whether a is in the chart.
func (a Account) Valid() bool { return slices.Contains(Accounts(), a) }

// DebitNormal reports whether a's balance is its debits less its credits
// (assets); otherwise it is its credits less its debits.
func (a Account) DebitNormal() bool { return a == Receivable || a == Cash }

// Side is the side of a posting line.
type Side string

// The two sides.
const (
	Debit  Side = "debit"
	Credit Side = "credit"
)

// Kind is the business event a posting records.
type Kind string

// The kinds, one per business event; see the package documentation.
const (
	KindInvoiceIssued        Kind = "invoice_issued"
	KindPaymentReceived      Kind = "payment_received"
	KindRevenueRecognised    Kind = "revenue_recognised"
	KindCreditNote           Kind = "credit_note"
	KindRefundGranted        Kind = "refund_granted"
	KindRefundPaid           Kind = "refund_paid"
	KindAccountCreditApplied Kind = "account_credit_applied"
	KindInvoiceVoided        Kind = "invoice_voided"
)

// Kinds is every kind, in a stable order.
func Kinds() []Kind {
	return []Kind{KindInvoiceIssued, KindPaymentReceived, KindRevenueRecognised, KindCreditNote,
		KindRefundGranted, KindRefundPaid, KindAccountCreditApplied, KindInvoiceVoided}
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return slices.Contains(Kinds(), k) }
