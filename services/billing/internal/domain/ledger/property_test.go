package ledger_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

// model is what the account should be, kept apart from the ledger in plain
// int64 minor units: the specification the Book is held to.
type model struct {
	owed, credit, deferred, revenue, paidIn, granted, paidOut int64
}

// sound is the rule of a patient account: nothing negative, and never more
// refunds granted than was paid in.
func (m model) sound() bool {
	return m.owed >= 0 && m.credit >= 0 && m.deferred >= 0 && m.revenue >= 0 &&
		m.granted-m.paidOut >= 0 && m.paidIn-m.paidOut >= 0 && m.granted <= m.paidIn
}

// TestLedgerPropertiesOverRandomHistories drives a Book with random
// sequences of every business event, amounts drawn both within and beyond
// what the account allows. The Book must take exactly what the model says is
// sound, and afterwards (after every step) every posting balances, the trial
// balance holds, receivable and account credit are never negative, refunded
// never exceeds paid, the summary equals the model and Check finds nothing.
func TestLedgerPropertiesOverRandomHistories(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		patient := uuid.New()
		b, err := ledger.NewBook(patient, money.CNY)
		require.NoError(rt, err)
		var m model

		// try posts what build makes, and holds the Book to the model:
		// taken if next is sound, refused (and nothing changed) if not.
		try := func(rt *rapid.T, next model, build func(h ledger.Header) (ledger.Posting, error)) {
			p, err := build(b.Header(uuid.New(), ledger.Refs{InvoiceID: uuid.New()}, t0))
			require.NoError(rt, err, "the event constructors build any non-negative parts")
			before := len(b.Postings())
			err = b.Post(p)
			if next.sound() {
				require.NoError(rt, err)
				m = next
				return
			}
			require.Error(rt, err, "an unsound posting was let through: %+v", next)
			require.Len(rt, b.Postings(), before)
		}
		upTo := func(rt *rapid.T, limit int64, label string) int64 {
			// mostly within the limit, sometimes a little or far beyond it
			return rapid.Int64Range(1, max(limit, 0)+rapid.SampledFrom([]int64{1, 100, 1_000_000}).Draw(rt, label+"_slack")).Draw(rt, label)
		}

		rt.Repeat(map[string]func(*rapid.T){
			"issue invoice": func(rt *rapid.T) {
				deferred := rapid.Int64Range(0, 6_000_000).Draw(rt, "deferred")
				earned := rapid.Int64Range(0, 200_000).Draw(rt, "earned")
				if deferred+earned == 0 {
					rt.Skip("an invoice of nothing")
				}
				next := m
				next.owed += deferred + earned
				next.deferred += deferred
				next.revenue += earned
				try(rt, next, func(h ledger.Header) (ledger.Posting, error) {
					return ledger.IssueInvoice(h, cny(deferred), cny(earned))
				})
			},
			"pay (partial, in full or over)": func(rt *rapid.T) {
				amount := rapid.Int64Range(1, max(m.owed, 1)*2).Draw(rt, "amount")
				applied, over, err := b.PaymentParts(cny(amount))
				require.NoError(rt, err)
				require.Equal(rt, min(amount, m.owed), applied.Amount())
				next := m
				next.owed -= applied.Amount()
				next.credit += over.Amount()
				next.paidIn += amount
				try(rt, next, func(h ledger.Header) (ledger.Posting, error) { return ledger.ReceivePayment(h, applied, over) })
			},
			"pay, all taken as owed": func(rt *rapid.T) {
				amount := upTo(rt, m.owed, "amount")
				next := m
				next.owed -= amount
				next.paidIn += amount
				try(rt, next, func(h ledger.Header) (ledger.Posting, error) { return ledger.ReceivePayment(h, cny(amount), zero) })
			},
			"recognise revenue": func(rt *rapid.T) {
				amount := upTo(rt, m.deferred, "amount")
				next := m
				next.deferred -= amount
				next.revenue += amount
				try(rt, next, func(h ledger.Header) (ledger.Posting, error) { return ledger.RecogniseRevenue(h, cny(amount)) })
			},
			"credit note": func(rt *rapid.T) {
				reduce := rapid.Int64Range(0, m.owed+10).Draw(rt, "reduce_owed")
				refund := rapid.Int64Range(0, max(m.paidIn-m.granted, 0)+10).Draw(rt, "refund")
				toCredit := rapid.Int64Range(0, m.deferred/2+10).Draw(rt, "to_credit")
				total := reduce + refund + toCredit
				if total == 0 {
					rt.Skip("a credit note of nothing")
				}
				fromRevenue := rapid.Int64Range(0, min(total, m.revenue+1)).Draw(rt, "from_revenue")
				next := m
				next.owed -= reduce
				next.granted += refund
				next.credit += toCredit
				next.revenue -= fromRevenue
				next.deferred -= total - fromRevenue
				try(rt, next, func(h ledger.Header) (ledger.Posting, error) {
					return ledger.IssueCreditNote(h, ledger.CreditNote{ReduceOwed: cny(reduce), Refund: cny(refund), ToCredit: cny(toCredit), FromRevenue: cny(fromRevenue)})
				})
			},
			"refund from an invoice": func(rt *rapid.T) {
				amount := upTo(rt, m.paidIn-m.granted, "amount")
				next := m
				next.deferred -= amount
				next.granted += amount
				try(rt, next, func(h ledger.Header) (ledger.Posting, error) {
					return ledger.GrantRefund(h, cny(amount), ledger.FromInvoice)
				})
			},
			"refund account credit": func(rt *rapid.T) {
				amount := upTo(rt, m.credit, "amount")
				next := m
				next.credit -= amount
				next.granted += amount
				try(rt, next, func(h ledger.Header) (ledger.Posting, error) {
					return ledger.GrantRefund(h, cny(amount), ledger.FromAccountCredit)
				})
			},
			"pay out a refund": func(rt *rapid.T) {
				amount := upTo(rt, m.granted-m.paidOut, "amount")
				next := m
				next.paidOut += amount
				try(rt, next, func(h ledger.Header) (ledger.Posting, error) { return ledger.PayOutRefund(h, cny(amount)) })
			},
			"apply account credit": func(rt *rapid.T) {
				amount := upTo(rt, min(m.credit, m.owed), "amount")
				next := m
				next.credit -= amount
				next.owed -= amount
				try(rt, next, func(h ledger.Header) (ledger.Posting, error) { return ledger.ApplyAccountCredit(h, cny(amount)) })
			},
			"": func(rt *rapid.T) { checkInvariants(rt, b, m) },
		})
	})
}

func checkInvariants(rt *rapid.T, b *ledger.Book, m model) {
	postings := b.Postings()
	var allDebits, allCredits int64
	for i, p := range postings {
		require.EqualValues(rt, i+1, p.Seq(), "the sequence grows by one")
		var dr, cr int64
		for _, l := range p.Lines() {
			require.True(rt, l.Amount().IsPositive())
			require.Equal(rt, money.CNY, l.Amount().Currency())
			if l.Side() == ledger.Debit {
				dr += l.Amount().Amount()
			} else {
				cr += l.Amount().Amount()
			}
		}
		require.Equal(rt, dr, cr, "posting %d (%s) balances", p.Seq(), p.Kind())
		allDebits += dr
		allCredits += cr
	}
	require.Equal(rt, allDebits, allCredits, "trial balance")

	s, err := ledger.Summarize(money.CNY, postings)
	require.NoError(rt, err)
	require.Equal(rt, b.Summary(), s, "the book's balances are its postings'")
	require.False(rt, s.Owed.IsNegative(), "receivable %s", s.Owed)
	require.False(rt, s.AccountCredit.IsNegative(), "account credit %s", s.AccountCredit)
	require.LessOrEqual(rt, s.Refunded.Amount(), s.PaidIn.Amount(), "refunded never exceeds paid")
	require.LessOrEqual(rt, s.RefundsGranted.Amount(), s.PaidIn.Amount(), "granted never exceeds paid")
	require.Equal(rt, model{owed: s.Owed.Amount(), credit: s.AccountCredit.Amount(), deferred: s.Deferred.Amount(),
		revenue: s.Revenue.Amount(), paidIn: s.PaidIn.Amount(), granted: s.RefundsGranted.Amount(), paidOut: s.Refunded.Amount()}, m)
	require.Empty(rt, ledger.Check(postings))
}
