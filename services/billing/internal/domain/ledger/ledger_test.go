package ledger_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/billing/internal/domain/ledger"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func cny(v int64) money.Money {
	m, err := money.New(v, money.CNY)
	if err != nil {
		panic(err)
	}
	return m
}

var zero = money.Zero(money.CNY)

func header(patient uuid.UUID, seq int64) ledger.Header {
	return ledger.Header{ID: uuid.New(), PatientID: patient, Seq: seq, At: t0}
}

func TestNewPostingRefusesWhatDoesNotBalance(t *testing.T) {
	t.Parallel()
	patient := uuid.New()
	usd, err := money.New(100, money.USD)
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		h       ledger.Header
		kind    ledger.Kind
		lines   []ledger.Line
		wantErr error
	}{
		{name: "unbalanced", lines: []ledger.Line{ledger.DebitLine(ledger.DeferredRevenue, cny(100)), ledger.CreditLine(ledger.Revenue, cny(99))}, wantErr: ledger.ErrUnbalanced},
		{name: "one line", lines: []ledger.Line{ledger.DebitLine(ledger.Cash, cny(100))}, wantErr: ledger.ErrInvalidPosting},
		{name: "two debits", lines: []ledger.Line{ledger.DebitLine(ledger.Cash, cny(100)), ledger.DebitLine(ledger.Receivable, cny(100))}, wantErr: ledger.ErrUnbalanced},
		{name: "mixed currency", lines: []ledger.Line{ledger.DebitLine(ledger.Cash, cny(100)), ledger.CreditLine(ledger.Receivable, usd)}, wantErr: ledger.ErrMixedCurrency},
		{name: "zero line", lines: []ledger.Line{ledger.DebitLine(ledger.Cash, cny(0)), ledger.CreditLine(ledger.Receivable, cny(0))}, wantErr: money.ErrZeroAmount},
		{name: "negative lines", lines: []ledger.Line{ledger.DebitLine(ledger.Cash, cny(-5)), ledger.CreditLine(ledger.Receivable, cny(-5))}, wantErr: money.ErrNegativeAmount},
		{name: "absurd", lines: []ledger.Line{ledger.DebitLine(ledger.Cash, cny(money.MaxAmount+1)), ledger.CreditLine(ledger.Receivable, cny(money.MaxAmount+1))}, wantErr: money.ErrAbsurdAmount},
		{name: "unknown account", lines: []ledger.Line{ledger.DebitLine("petty_cash", cny(1)), ledger.CreditLine(ledger.Receivable, cny(1))}, wantErr: ledger.ErrInvalidPosting},
		{name: "unknown kind", kind: "gift", lines: []ledger.Line{ledger.DebitLine(ledger.Cash, cny(1)), ledger.CreditLine(ledger.Receivable, cny(1))}, wantErr: ledger.ErrInvalidPosting},
		{name: "no sequence", h: ledger.Header{ID: uuid.New(), PatientID: patient, At: t0}, lines: []ledger.Line{ledger.DebitLine(ledger.Cash, cny(1)), ledger.CreditLine(ledger.Receivable, cny(1))}, wantErr: ledger.ErrInvalidPosting},
		{name: "no patient", h: ledger.Header{ID: uuid.New(), Seq: 1, At: t0}, lines: []ledger.Line{ledger.DebitLine(ledger.Cash, cny(1)), ledger.CreditLine(ledger.Receivable, cny(1))}, wantErr: ledger.ErrInvalidPosting},
		{name: "three lines balance", lines: []ledger.Line{ledger.DebitLine(ledger.Cash, cny(150)), ledger.CreditLine(ledger.Receivable, cny(100)), ledger.CreditLine(ledger.AccountCredit, cny(50))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := tc.h
			if h.ID == uuid.Nil {
				h = header(patient, 1)
			}
			kind := tc.kind
			if kind == "" {
				kind = ledger.KindPaymentReceived
			}
			p, err := ledger.NewPosting(kind, h, tc.lines...)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, cny(150), p.Total())
		})
	}
}

func lines(t *testing.T, p ledger.Posting) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, l := range p.Lines() {
		out[string(l.Side())+" "+string(l.Account())] = l.Amount().Amount()
	}
	return out
}

func TestEventPostings(t *testing.T) {
	t.Parallel()
	p := uuid.New()
	h := header(p, 1)
	for _, tc := range []struct {
		name  string
		build func() (ledger.Posting, error)
		want  map[string]int64
	}{
		{name: "invoice", build: func() (ledger.Posting, error) { return ledger.IssueInvoice(h, cny(2_000_000), cny(50_000)) },
			want: map[string]int64{"debit receivable": 2_050_000, "credit deferred_revenue": 2_000_000, "credit revenue": 50_000}},
		{name: "invoice all deferred", build: func() (ledger.Posting, error) { return ledger.IssueInvoice(h, cny(2_000_000), zero) },
			want: map[string]int64{"debit receivable": 2_000_000, "credit deferred_revenue": 2_000_000}},
		{name: "overpayment", build: func() (ledger.Posting, error) { return ledger.ReceivePayment(h, cny(100), cny(20)) },
			want: map[string]int64{"debit cash": 120, "credit receivable": 100, "credit account_credit": 20}},
		{name: "recognise", build: func() (ledger.Posting, error) { return ledger.RecogniseRevenue(h, cny(70)) },
			want: map[string]int64{"debit deferred_revenue": 70, "credit revenue": 70}},
		{name: "credit note", build: func() (ledger.Posting, error) {
			return ledger.IssueCreditNote(h, ledger.CreditNote{ReduceOwed: cny(10), Refund: cny(20), ToCredit: cny(30), FromRevenue: cny(5)})
		}, want: map[string]int64{"debit deferred_revenue": 55, "debit revenue": 5, "credit receivable": 10, "credit refunds": 20, "credit account_credit": 30}},
		{name: "refund from invoice", build: func() (ledger.Posting, error) { return ledger.GrantRefund(h, cny(40), ledger.FromInvoice) },
			want: map[string]int64{"debit deferred_revenue": 40, "credit refunds": 40}},
		{name: "refund from account credit", build: func() (ledger.Posting, error) { return ledger.GrantRefund(h, cny(40), ledger.FromAccountCredit) },
			want: map[string]int64{"debit account_credit": 40, "credit refunds": 40}},
		{name: "refund paid", build: func() (ledger.Posting, error) { return ledger.PayOutRefund(h, cny(40)) },
			want: map[string]int64{"debit refunds": 40, "credit cash": 40}},
		{name: "apply credit", build: func() (ledger.Posting, error) { return ledger.ApplyAccountCredit(h, cny(40)) },
			want: map[string]int64{"debit account_credit": 40, "credit receivable": 40}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.build()
			require.NoError(t, err)
			require.Equal(t, tc.want, lines(t, got))
		})
	}
	for name, build := range map[string]func() (ledger.Posting, error){
		"nothing":            func() (ledger.Posting, error) { return ledger.ReceivePayment(h, zero, zero) },
		"negative part":      func() (ledger.Posting, error) { return ledger.ReceivePayment(h, cny(100), cny(-20)) },
		"negative recognise": func() (ledger.Posting, error) { return ledger.RecogniseRevenue(h, cny(-1)) },
		"earned above total": func() (ledger.Posting, error) {
			return ledger.IssueCreditNote(h, ledger.CreditNote{ReduceOwed: cny(10), Refund: zero, ToCredit: zero, FromRevenue: cny(11)})
		},
		"unknown source": func() (ledger.Posting, error) { return ledger.GrantRefund(h, cny(1), "cash_drawer") },
	} {
		_, err := build()
		require.Error(t, err, name)
	}
}

func TestBookRefusesWhatWouldMakeTheAccountUnsound(t *testing.T) {
	t.Parallel()
	patient := uuid.New()
	b, err := ledger.NewBook(patient, money.CNY)
	require.NoError(t, err)
	post := func(build func(h ledger.Header) (ledger.Posting, error)) error {
		p, err := build(b.Header(uuid.New(), ledger.Refs{}, t0))
		require.NoError(t, err)
		return b.Post(p)
	}
	require.NoError(t, post(func(h ledger.Header) (ledger.Posting, error) { return ledger.IssueInvoice(h, cny(1000), zero) }))
	var bal *ledger.BalanceError
	err = post(func(h ledger.Header) (ledger.Posting, error) { return ledger.ReceivePayment(h, cny(1200), zero) })
	require.ErrorAs(t, err, &bal, "paying more than is owed as if it were owed")
	require.Equal(t, ledger.Receivable, bal.Account)
	applied, over, err := b.PaymentParts(cny(1200))
	require.NoError(t, err)
	require.Equal(t, cny(1000), applied)
	require.Equal(t, cny(200), over)
	require.NoError(t, post(func(h ledger.Header) (ledger.Posting, error) { return ledger.ReceivePayment(h, applied, over) }))
	require.ErrorIs(t, post(func(h ledger.Header) (ledger.Posting, error) {
		return ledger.GrantRefund(h, cny(201), ledger.FromAccountCredit)
	}), ledger.ErrNegativeBalance, "more account credit than there is")
	require.NoError(t, post(func(h ledger.Header) (ledger.Posting, error) {
		return ledger.GrantRefund(h, cny(200), ledger.FromAccountCredit)
	}))
	require.NoError(t, post(func(h ledger.Header) (ledger.Posting, error) { return ledger.RecogniseRevenue(h, cny(300)) }))
	require.ErrorIs(t, post(func(h ledger.Header) (ledger.Posting, error) {
		return ledger.GrantRefund(h, cny(1001), ledger.FromInvoice)
	}),
		ledger.ErrRefundAbovePaid, "1200 paid in, 200 granted: 1000 is the most")
	require.NoError(t, post(func(h ledger.Header) (ledger.Posting, error) {
		return ledger.GrantRefund(h, cny(700), ledger.FromInvoice)
	}))
	require.ErrorIs(t, post(func(h ledger.Header) (ledger.Posting, error) { return ledger.PayOutRefund(h, cny(901)) }), ledger.ErrNegativeBalance)
	require.NoError(t, post(func(h ledger.Header) (ledger.Posting, error) { return ledger.PayOutRefund(h, cny(900)) }))

	s := b.Summary()
	require.Equal(t, ledger.Summary{Currency: money.CNY, Owed: zero, AccountCredit: zero, Cash: cny(300), PaidIn: cny(1200),
		RefundsGranted: cny(900), Refunded: cny(900), RefundsPending: zero, Revenue: cny(300), Deferred: zero}, s)
	require.Empty(t, ledger.Check(b.Postings()))
	again, err := ledger.Summarize(money.CNY, b.Postings())
	require.NoError(t, err)
	require.Equal(t, s, again, "derived from the postings alone")

	p, err := ledger.RecogniseRevenue(header(patient, 3), cny(1))
	require.NoError(t, err)
	require.ErrorIs(t, b.Post(p), ledger.ErrSequence)
	p, err = ledger.RecogniseRevenue(header(uuid.New(), b.NextSeq()), cny(1))
	require.NoError(t, err)
	require.ErrorIs(t, b.Post(p), ledger.ErrWrongAccount)
	require.Len(t, b.Postings(), 6, "nothing refused was kept")
}

func TestCheckFindsEveryViolation(t *testing.T) {
	t.Parallel()
	patient := uuid.New()
	st := func(seq int64, kind ledger.Kind, ls ...ledger.LineState) ledger.Posting {
		return ledger.FromState(ledger.State{Header: header(patient, seq), Kind: kind, Lines: ls})
	}
	dr := func(a ledger.Account, m money.Money) ledger.LineState {
		return ledger.LineState{Account: a, Side: ledger.Debit, Amount: m}
	}
	cr := func(a ledger.Account, m money.Money) ledger.LineState {
		return ledger.LineState{Account: a, Side: ledger.Credit, Amount: m}
	}
	usd, err := money.New(5, money.USD)
	require.NoError(t, err)
	postings := []ledger.Posting{
		st(1, ledger.KindInvoiceIssued, dr(ledger.Receivable, cny(100)), cr(ledger.DeferredRevenue, cny(100))),
		st(2, ledger.KindPaymentReceived, dr(ledger.Cash, cny(100)), cr(ledger.Receivable, cny(90))), // unbalanced
		st(2, ledger.KindRevenueRecognised, dr(ledger.DeferredRevenue, cny(10)), cr(ledger.Revenue, cny(10))),
		st(4, ledger.KindAccountCreditApplied, dr(ledger.AccountCredit, cny(50)), cr(ledger.Receivable, cny(50))),
		st(5, ledger.KindRefundGranted, dr(ledger.Cash, usd), cr(ledger.Refunds, usd)),
	}
	rules := map[ledger.Rule]bool{}
	for _, v := range ledger.Check(postings) {
		rules[v.Rule] = true
		require.Equal(t, patient, v.PatientID)
	}
	require.Equal(t, map[ledger.Rule]bool{
		ledger.RuleInvalid: true, ledger.RuleSequenceDuplicate: true, ledger.RuleSequenceGap: true,
		ledger.RuleNegativeBalance: true, ledger.RuleCurrency: true, ledger.RuleTrialBalance: true,
	}, rules)

	refundAbove := []ledger.Posting{
		st(1, ledger.KindPaymentReceived, dr(ledger.Cash, cny(100)), cr(ledger.AccountCredit, cny(100))),
		st(2, ledger.KindRefundGranted, dr(ledger.AccountCredit, cny(100)), cr(ledger.Refunds, cny(100))),
		st(3, ledger.KindRefundGranted, dr(ledger.DeferredRevenue, cny(1)), cr(ledger.Refunds, cny(1))),
	}
	got := ledger.Check(refundAbove)
	require.NotEmpty(t, got)
	var above bool
	for _, v := range got {
		above = above || v.Rule == ledger.RuleRefundAbovePaid
	}
	require.True(t, above, "%v", got)
	require.Empty(t, ledger.Check(refundAbove[:2]))
}
