package invoice_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
)

var (
	t0      = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	dueDate = time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)
)

// cny is v fen.
func cny(v int64) money.Money {
	m, err := money.New(v, money.CNY)
	if err != nil {
		panic(err)
	}
	return m
}

// note is a credit note of total fen, split into its three parts.
func note(ref, reason string, total, reduceOwed, refund, toAccount int64) invoice.CreditNote {
	return invoice.CreditNote{Reference: ref, Reason: reason, Total: cny(total), ReduceOwed: cny(reduceOwed),
		Refund: cny(refund), ToAccountCredit: cny(toAccount)}
}

// usd is v cents.
func usd(v int64) money.Money {
	m, err := money.New(v, money.USD)
	if err != nil {
		panic(err)
	}
	return m
}

func draft(t *testing.T, lines ...invoice.LineItem) *invoice.Invoice {
	t.Helper()
	inv, err := invoice.NewDraft(invoice.New{ID: uuid.New(), PatientID: uuid.New(), CourseID: uuid.New(),
		Currency: money.CNY, Kind: invoice.Deposit}, t0)
	require.NoError(t, err)
	for _, l := range lines {
		require.NoError(t, inv.AddLine(l, t0))
	}
	return inv
}

func deposit(amount int64) invoice.LineItem {
	return invoice.LineItem{Code: "DEPOSIT", Description: "course deposit", Quantity: 1, UnitPrice: cny(amount)}
}

// issued is an issued invoice of 10,000.00 CNY.
func issued(t *testing.T) *invoice.Invoice {
	t.Helper()
	inv := draft(t, deposit(1_000_000))
	require.NoError(t, inv.Issue("INV-2026-000001", t0, dueDate))
	return inv
}

// in builds an invoice in the given status.
func in(t *testing.T, s invoice.Status) *invoice.Invoice {
	t.Helper()
	if s == invoice.Draft {
		return draft(t, deposit(1_000_000))
	}
	inv := issued(t)
	switch s {
	case invoice.PartiallyPaid:
		_, err := inv.ApplyPayment(cny(400_000), "pay-1", t0)
		require.NoError(t, err)
	case invoice.Paid:
		_, err := inv.ApplyPayment(cny(1_000_000), "pay-1", t0)
		require.NoError(t, err)
	case invoice.Overdue:
		ok, err := inv.MarkOverdue(dueDate.AddDate(0, 0, 1), time.UTC)
		require.NoError(t, err)
		require.True(t, ok)
	case invoice.Void:
		require.NoError(t, inv.Void("entered twice", t0))
	}
	require.Equal(t, s, inv.Status())
	return inv
}

var allStatuses = []invoice.Status{invoice.Draft, invoice.Issued, invoice.PartiallyPaid, invoice.Paid, invoice.Overdue, invoice.Void}

// Every change from every status: allowed where the lifecycle says so,
// a StateError (errors.Is ErrState) elsewhere, and a refused change leaves
// the invoice as it was.
func TestLifecycleFromEveryStatus(t *testing.T) {
	t.Parallel()
	changes := []struct {
		name    string
		do      func(*invoice.Invoice) error
		allowed []invoice.Status
	}{
		{"add line", func(i *invoice.Invoice) error { return i.AddLine(deposit(1), t0) }, []invoice.Status{invoice.Draft}},
		{"issue", func(i *invoice.Invoice) error { return i.Issue("INV-2026-000009", t0, dueDate) }, []invoice.Status{invoice.Draft}},
		{"pay", func(i *invoice.Invoice) error { _, err := i.ApplyPayment(cny(100), "p", t0); return err },
			[]invoice.Status{invoice.Issued, invoice.PartiallyPaid, invoice.Overdue}},
		{"mark overdue", func(i *invoice.Invoice) error {
			_, err := i.MarkOverdue(dueDate.AddDate(0, 0, 2), time.UTC)
			return err
		},
			[]invoice.Status{invoice.Issued, invoice.PartiallyPaid, invoice.Overdue}},
		{"void", func(i *invoice.Invoice) error { return i.Void("mistake", t0) },
			[]invoice.Status{invoice.Draft, invoice.Issued, invoice.Overdue}}, // partially paid: see TestVoid
		{"refund", func(i *invoice.Invoice) error { return i.Refund(cny(100), "goodwill", "r1", t0) },
			[]invoice.Status{invoice.PartiallyPaid, invoice.Paid}}, // issued/overdue: nothing paid, see TestRefund
		{"credit", func(i *invoice.Invoice) error {
			return i.Credit(note("cn1", "discount", 100, 100, 0, 0), t0)
		}, []invoice.Status{invoice.Issued, invoice.PartiallyPaid, invoice.Overdue}}, // paid: nothing owed
	}
	for _, c := range changes {
		for _, s := range allStatuses {
			t.Run(fmt.Sprintf("%s from %s", c.name, s), func(t *testing.T) {
				t.Parallel()
				inv := in(t, s)
				before := inv.State()
				err := c.do(inv)
				allowed := false
				for _, a := range c.allowed {
					allowed = allowed || a == s
				}
				if allowed {
					require.NoError(t, err)
					return
				}
				require.Error(t, err)
				require.Equal(t, before, inv.State(), "a refused change changes nothing")
				if s == invoice.Draft || s == invoice.Void || c.name == "add line" || c.name == "issue" ||
					(c.name == "pay" && s == invoice.Paid) || (c.name == "mark overdue" && s == invoice.Paid) ||
					(c.name == "void" && s == invoice.Paid) {
					require.ErrorIs(t, err, invoice.ErrState)
				}
			})
		}
	}
}

func TestNumberOnlyAtIssue(t *testing.T) {
	t.Parallel()
	inv := draft(t, deposit(500_000))
	require.Empty(t, inv.Number(), "a draft never has a number")
	require.Equal(t, cny(0), inv.AmountDue(), "a draft is not owed")

	empty := draft(t)
	require.ErrorIs(t, empty.Issue("INV-2026-000001", t0, dueDate), invoice.ErrEmpty)
	require.Empty(t, empty.Number(), "a refused issue burns no number")
	free := draft(t, invoice.LineItem{Code: "X", Quantity: 1, UnitPrice: cny(0)})
	require.ErrorIs(t, free.Issue("INV-2026-000001", t0, dueDate), invoice.ErrEmpty)

	for _, bad := range []string{"", "2026-000001", "INV-26-000001", "INV-2026-12"} {
		require.ErrorIs(t, inv.Issue(bad, t0, dueDate), invoice.ErrInvalid, bad)
	}
	require.ErrorIs(t, inv.Issue("INV-2026-000001", t0, t0.AddDate(0, 0, -3)), invoice.ErrInvalid, "due before issue")
	require.Empty(t, inv.Number())

	require.Equal(t, "INV-2026-000123", invoice.FormatNumber(2026, 123))
	require.NoError(t, inv.Issue(invoice.FormatNumber(2026, 123), t0, dueDate))
	require.Equal(t, "INV-2026-000123", inv.Number())
	require.Equal(t, invoice.Issued, inv.Status())
	require.Equal(t, cny(500_000), inv.AmountDue())
	require.ErrorIs(t, inv.Issue("INV-2026-000124", t0, dueDate), invoice.ErrState, "issued once")
	require.Equal(t, "INV-2026-000123", inv.Number())
}

func TestNewDraftValidates(t *testing.T) {
	t.Parallel()
	ok := invoice.New{ID: uuid.New(), PatientID: uuid.New(), CourseID: uuid.New(), Currency: money.CNY, Kind: invoice.Instalment, Cycle: 2}
	tests := []struct {
		name string
		mod  func(*invoice.New)
	}{
		{"no id", func(n *invoice.New) { n.ID = uuid.Nil }},
		{"no patient", func(n *invoice.New) { n.PatientID = uuid.Nil }},
		{"no course", func(n *invoice.New) { n.CourseID = uuid.Nil }},
		// A code money does not read is no currency at all.
		{"lowercase currency", func(n *invoice.New) { n.Currency, _ = money.ParseCurrency("cny") }},
		{"no currency", func(n *invoice.New) { n.Currency = money.Currency{} }},
		{"unknown kind", func(n *invoice.New) { n.Kind = "tip" }},
		{"negative cycle", func(n *invoice.New) { n.Cycle = -1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := ok
			tc.mod(&n)
			_, err := invoice.NewDraft(n, t0)
			require.ErrorIs(t, err, invoice.ErrInvalid)
		})
	}
	inv, err := invoice.NewDraft(ok, t0)
	require.NoError(t, err)
	require.Equal(t, invoice.Draft, inv.Status())
	require.Equal(t, int64(1), inv.Version())
	require.Empty(t, inv.Events())
}

// The total is the sum of the lines' amounts and taxes; each line's tax
// is rounded once, half to even.
func TestTotalsAndTaxRounding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		qty             int64
		unit            int64
		rate            invoice.BasisPoints
		amount, wantTax int64
	}{
		{"no tax", 3, 200_000, 0, 600_000, 0},
		{"13 % exact", 1, 1_000_000, 1300, 1_000_000, 130_000},
		{"half rounds to even (down)", 1, 1, 5000, 1, 0},    // 0.5 → 0
		{"half rounds to even (up)", 3, 1, 5000, 3, 2},      // 1.5 → 2
		{"2.5 rounds to 2", 5, 1, 5000, 5, 2},               // 2.5 → 2
		{"above half rounds up", 1, 7, 1000, 7, 1},          // 0.7 → 1
		{"below half rounds down", 1, 4, 1000, 4, 0},        // 0.4 → 0
		{"6 % of 12.25", 1, 1225, 600, 1225, 74},            // 73.5 → 74
		{"6 % of 12.75", 1, 1275, 600, 1275, 76},            // 76.5 → 76
		{"per line, not per unit", 3, 1225, 600, 3675, 220}, // 220.5 → 220
		{"100 %", 2, 999, 10000, 1998, 1998},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inv := draft(t, invoice.LineItem{Code: "L", Quantity: tc.qty, UnitPrice: cny(tc.unit), TaxRate: tc.rate})
			l := inv.Lines()[0]
			require.Equal(t, cny(tc.amount), l.Amount)
			require.Equal(t, cny(tc.wantTax), l.Tax)
			require.Equal(t, cny(tc.amount+tc.wantTax), inv.Total())
		})
	}

	t.Run("total is the sum of the lines", func(t *testing.T) {
		t.Parallel()
		inv := draft(t,
			invoice.LineItem{Code: "LAB", Quantity: 1, UnitPrice: cny(300_000), TaxRate: 600},
			invoice.LineItem{Code: "INF", Quantity: 3, UnitPrice: cny(200_001), TaxRate: 600},
			invoice.LineItem{Code: "DEP", Quantity: 1, UnitPrice: cny(1)})
		sum := cny(0)
		for _, l := range inv.Lines() {
			require.Equal(t, cny(l.Quantity*l.UnitPrice.Amount()), l.Amount)
			var err error
			sum, err = money.Sum(money.CNY, sum, l.Amount, l.Tax)
			require.NoError(t, err)
		}
		require.Equal(t, sum, inv.Total())
		require.Equal(t, cny(300_000+18_000+600_003+36_000+1), inv.Total()) // 36000.18 → 36000
	})

	t.Run("bad lines refused", func(t *testing.T) {
		t.Parallel()
		inv := draft(t)
		for _, l := range []invoice.LineItem{
			{Code: "", Quantity: 1, UnitPrice: cny(1)},
			{Code: "A", Quantity: 0, UnitPrice: cny(1)},
			{Code: "A", Quantity: 1, UnitPrice: cny(-1)},
			{Code: "A", Quantity: 1, UnitPrice: cny(1), TaxRate: 10001},
			{Code: "A", Quantity: 1, UnitPrice: cny(1), TaxRate: -1},
			{Code: "A", Quantity: 1, UnitPrice: usd(1)},
			{Code: "A", Quantity: 1, UnitPrice: money.Money{}},
		} {
			require.ErrorIs(t, inv.AddLine(l, t0), invoice.ErrInvalid, l)
		}
		require.ErrorIs(t, inv.AddLine(invoice.LineItem{Code: "A", Quantity: 1, UnitPrice: usd(1)}, t0), money.ErrCurrencyMismatch,
			"a line in another currency")
		require.ErrorIs(t, inv.AddLine(invoice.LineItem{Code: "A", Quantity: 1 << 40, UnitPrice: cny(1 << 40)}, t0), invoice.ErrOverflow)
		require.Empty(t, inv.Lines())
		require.Equal(t, cny(0), inv.Total())
	})
}

func TestPayments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		payments    []int64
		wantStatus  invoice.Status
		wantPaid    int64
		wantDue     int64
		wantOverpay int64 // of the last payment
	}{
		{"partial", []int64{400_000}, invoice.PartiallyPaid, 400_000, 600_000, 0},
		{"two partials", []int64{400_000, 100_000}, invoice.PartiallyPaid, 500_000, 500_000, 0},
		{"exact", []int64{1_000_000}, invoice.Paid, 1_000_000, 0, 0},
		{"partial then the rest", []int64{400_000, 600_000}, invoice.Paid, 1_000_000, 0, 0},
		{"overpay", []int64{1_250_000}, invoice.Paid, 1_000_000, 0, 250_000},
		{"partial then overpay", []int64{400_000, 700_000}, invoice.Paid, 1_000_000, 0, 100_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inv := issued(t)
			var over money.Money
			for i, p := range tc.payments {
				var err error
				over, err = inv.ApplyPayment(cny(p), fmt.Sprintf("pay-%d", i), t0)
				require.NoError(t, err)
			}
			require.Equal(t, tc.wantStatus, inv.Status())
			require.Equal(t, cny(tc.wantPaid), inv.AmountPaid())
			require.Equal(t, cny(tc.wantDue), inv.AmountDue())
			require.Equal(t, cny(tc.wantOverpay), over)
		})
	}

	t.Run("zero, negative, no id refused", func(t *testing.T) {
		t.Parallel()
		inv := issued(t)
		for _, a := range []int64{0, -1, -1_000_000} {
			_, err := inv.ApplyPayment(cny(a), "p", t0)
			require.ErrorIs(t, err, invoice.ErrAmount)
		}
		_, err := inv.ApplyPayment(cny(1), " ", t0)
		require.ErrorIs(t, err, invoice.ErrInvalid)
		require.Equal(t, cny(0), inv.AmountPaid())
		require.Equal(t, int64(3), inv.Version(), "refused payments change nothing")
	})

	t.Run("an overdue invoice paid in part stays overdue, in full is paid", func(t *testing.T) {
		t.Parallel()
		inv := in(t, invoice.Overdue)
		_, err := inv.ApplyPayment(cny(100_000), "p1", t0)
		require.NoError(t, err)
		require.Equal(t, invoice.Overdue, inv.Status())
		_, err = inv.ApplyPayment(cny(900_000), "p2", t0)
		require.NoError(t, err)
		require.Equal(t, invoice.Paid, inv.Status())
	})
}

func TestMarkOverdue(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	inv := issued(t)
	// 23:30 UTC on the due date is already the next day in Shanghai.
	ok, err := inv.MarkOverdue(time.Date(2026, 3, 16, 15, 0, 0, 0, time.UTC), shanghai)
	require.NoError(t, err)
	require.False(t, ok, "on the due date (23:00 in Shanghai) it is not yet overdue")
	ok, err = inv.MarkOverdue(time.Date(2026, 3, 16, 16, 30, 0, 0, time.UTC), time.UTC)
	require.NoError(t, err)
	require.False(t, ok, "on the due date in UTC")
	require.Equal(t, invoice.Issued, inv.Status())

	ok, err = inv.MarkOverdue(time.Date(2026, 3, 16, 16, 30, 0, 0, time.UTC), shanghai)
	require.NoError(t, err)
	require.True(t, ok, "00:30 on the 17th in Shanghai")
	require.Equal(t, invoice.Overdue, inv.Status())
	v := inv.Version()
	n := len(inv.Events())

	for range 3 {
		ok, err = inv.MarkOverdue(dueDate.AddDate(0, 0, 10), shanghai)
		require.NoError(t, err)
		require.False(t, ok, "idempotent")
	}
	require.Equal(t, v, inv.Version())
	require.Len(t, inv.Events(), n, "marked overdue once, one event")
}

func TestVoid(t *testing.T) {
	t.Parallel()
	t.Run("keeps its number", func(t *testing.T) {
		t.Parallel()
		inv := issued(t)
		due := inv.AmountDue()
		require.Equal(t, cny(0), inv.AmountVoided())
		require.NoError(t, inv.Void("duplicate", t0))
		require.Equal(t, invoice.Void, inv.Status())
		require.Equal(t, "INV-2026-000001", inv.Number())
		require.Equal(t, cny(0), inv.AmountDue())
		require.Equal(t, due, inv.AmountVoided(), "what it still owed")
		require.Equal(t, due, invoice.FromState(inv.State()).AmountVoided())
		require.ErrorIs(t, inv.Void("again", t0), invoice.ErrState, "never voided twice")
	})
	t.Run("refused while paid money is held", func(t *testing.T) {
		t.Parallel()
		inv := in(t, invoice.PartiallyPaid)
		err := inv.Void("cancelled", t0)
		var nr *invoice.NotRefundedError
		require.ErrorAs(t, err, &nr)
		require.Equal(t, cny(400_000), nr.Held)
		require.Equal(t, invoice.PartiallyPaid, inv.Status())
		// Refunded in full, it can be voided.
		require.NoError(t, inv.Refund(cny(400_000), "course_cancelled", "r1", t0))
		require.NoError(t, inv.Void("cancelled", t0))
		require.Equal(t, "INV-2026-000001", inv.Number())
	})
	t.Run("paid money moved to account credit counts as given back", func(t *testing.T) {
		t.Parallel()
		inv := in(t, invoice.PartiallyPaid)
		require.NoError(t, inv.Credit(note("cn", "moved", 400_000, 0, 0, 400_000), t0))
		require.NoError(t, inv.Void("cancelled", t0))
	})
	t.Run("a reason is required", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, issued(t).Void(" ", t0), invoice.ErrInvalid)
	})
}

func TestRefund(t *testing.T) {
	t.Parallel()
	paid := func(t *testing.T) *invoice.Invoice { return in(t, invoice.Paid) } // 10,000.00 paid

	t.Run("above refundable refused, naming what is refundable", func(t *testing.T) {
		t.Parallel()
		inv := paid(t)
		require.NoError(t, inv.Refund(cny(700_000), "lab fee waived", "r1", t0))
		err := inv.Refund(cny(300_001), "course_cancelled", "r2", t0)
		var re *invoice.RefundableError
		require.ErrorAs(t, err, &re)
		require.ErrorIs(t, err, invoice.ErrAboveRefundable)
		require.Equal(t, cny(300_000), re.Refundable)
		require.Equal(t, cny(300_001), re.Requested)
		require.Equal(t, cny(700_000), inv.AmountRefunded())
	})
	t.Run("exactly the refundable is allowed", func(t *testing.T) {
		t.Parallel()
		inv := paid(t)
		require.NoError(t, inv.Refund(cny(1_000_000), "course_cancelled", "r1", t0))
		require.Equal(t, cny(0), inv.Refundable())
		require.Equal(t, invoice.Paid, inv.Status(), "a refund does not reopen the invoice")
		require.Equal(t, cny(0), inv.AmountDue())
		require.ErrorIs(t, inv.Refund(cny(1), "rounding", "r2", t0), invoice.ErrAboveRefundable)
	})
	t.Run("nothing paid, nothing refundable", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, issued(t).Refund(cny(1), "x", "r", t0), invoice.ErrAboveRefundable)
	})
	t.Run("never twice for the same reason", func(t *testing.T) {
		t.Parallel()
		inv := paid(t)
		require.NoError(t, inv.Refund(cny(100_000), "Course cancelled", "r1", t0))
		for _, reason := range []string{"Course cancelled", "course  CANCELLED ", "course cancelled"} {
			err := inv.Refund(cny(100_000), reason, "r2", t0)
			require.ErrorIs(t, err, invoice.ErrDuplicateRefund, reason)
		}
		require.ErrorIs(t, inv.Credit(note("cn", "course cancelled", 1, 0, 1, 0), t0),
			invoice.ErrDuplicateRefund, "nor by a credit note")
		require.Equal(t, cny(100_000), inv.AmountRefunded())
	})
	t.Run("the same reference is a retry, not a second refund", func(t *testing.T) {
		t.Parallel()
		inv := paid(t)
		require.NoError(t, inv.Refund(cny(100_000), "overcharge", "r1", t0))
		v := inv.Version()
		require.NoError(t, inv.Refund(cny(100_000), "overcharge", "r1", t0))
		require.Equal(t, v, inv.Version())
		require.Equal(t, cny(100_000), inv.AmountRefunded())
		require.ErrorIs(t, inv.Refund(cny(200_000), "overcharge", "r1", t0), invoice.ErrReferenceReused)
		require.ErrorIs(t, inv.Refund(cny(100_000), "other", "r1", t0), invoice.ErrReferenceReused)
	})
	t.Run("zero, negative, no reason, no reference refused", func(t *testing.T) {
		t.Parallel()
		inv := paid(t)
		require.ErrorIs(t, inv.Refund(cny(0), "x", "r", t0), invoice.ErrAmount)
		require.ErrorIs(t, inv.Refund(cny(-5), "x", "r", t0), invoice.ErrAmount)
		require.ErrorIs(t, inv.Refund(cny(5), "", "r", t0), invoice.ErrInvalid)
		require.ErrorIs(t, inv.Refund(cny(5), "x", "", t0), invoice.ErrInvalid)
		require.Equal(t, cny(0), inv.AmountRefunded())
	})
	t.Run("CheckRefund refuses what Refund would, and changes nothing", func(t *testing.T) {
		t.Parallel()
		inv := paid(t)
		require.NoError(t, inv.Credit(note("cn", "Goodwill", 100_000, 0, 100_000, 0), t0))
		v := inv.Version()
		require.NoError(t, inv.CheckRefund(cny(900_000), "overcharge"))
		require.ErrorIs(t, inv.CheckRefund(cny(900_001), "overcharge"), invoice.ErrAboveRefundable)
		require.ErrorIs(t, inv.CheckRefund(cny(1), " goodwill"), invoice.ErrDuplicateRefund, "a reason a credit note settled")
		require.ErrorIs(t, inv.CheckRefund(cny(0), "overcharge"), invoice.ErrAmount)
		require.ErrorIs(t, issued(t).CheckRefund(cny(1), "overcharge"), invoice.ErrAboveRefundable)
		require.Equal(t, v, inv.Version())
		require.Equal(t, cny(100_000), inv.AmountRefunded())
	})
}

func TestCreditNote(t *testing.T) {
	t.Parallel()
	// Each case starts from an invoice of 10,000.00 with 4,000.00 paid:
	// 6,000.00 due, 4,000.00 refundable.
	tests := []struct {
		name                    string
		note                    invoice.CreditNote
		want                    error
		wantDue, wantRefundable int64
		wantStatus              invoice.Status
	}{
		{"parts add up", note("", "", 700_000, 500_000, 100_000, 100_000),
			nil, 100_000, 200_000, invoice.PartiallyPaid},
		{"parts short of the total", note("", "", 700_000, 500_000, 100_000, 0),
			invoice.ErrCreditNoteParts, 600_000, 400_000, invoice.PartiallyPaid},
		{"parts above the total", note("", "", 100, 100, 1, 0),
			invoice.ErrCreditNoteParts, 600_000, 400_000, invoice.PartiallyPaid},
		{"negative part", note("", "", 100, 200, -100, 0),
			invoice.ErrCreditNoteParts, 600_000, 400_000, invoice.PartiallyPaid},
		{"zero total", invoice.CreditNote{}, invoice.ErrCreditNoteParts, 600_000, 400_000, invoice.PartiallyPaid},
		{"reduce above due", note("", "", 600_001, 600_001, 0, 0),
			invoice.ErrAboveDue, 600_000, 400_000, invoice.PartiallyPaid},
		{"refund above refundable", note("", "", 400_001, 0, 400_001, 0),
			invoice.ErrAboveRefundable, 600_000, 400_000, invoice.PartiallyPaid},
		{"refund and account credit together above refundable", note("", "", 400_001, 0, 200_000, 200_001),
			invoice.ErrAboveRefundable, 600_000, 400_000, invoice.PartiallyPaid},
		{"the whole due taken off: paid", note("", "", 600_000, 600_000, 0, 0),
			nil, 0, 400_000, invoice.Paid},
		{"everything undone", note("", "", 1_000_000, 600_000, 400_000, 0),
			nil, 0, 0, invoice.Paid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inv := in(t, invoice.PartiallyPaid)
			tc.note.Reference, tc.note.Reason = "cn-1", "product_failed:cycle:1"
			err := inv.Credit(tc.note, t0)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, cny(tc.wantDue), inv.AmountDue())
			require.Equal(t, cny(tc.wantRefundable), inv.Refundable())
			require.Equal(t, tc.wantStatus, inv.Status())
			sum, err := money.Sum(money.CNY, inv.AmountDue(), inv.AmountPaid(), inv.AmountCredited())
			require.NoError(t, err)
			require.Equal(t, inv.Total(), sum)
		})
	}
	t.Run("the due error names the amount due", func(t *testing.T) {
		t.Parallel()
		inv := in(t, invoice.PartiallyPaid)
		var de *invoice.DueError
		require.ErrorAs(t, inv.Credit(note("c", "r", 700_000, 700_000, 0, 0), t0), &de)
		require.Equal(t, cny(600_000), de.Due)
	})
}

// TestEvents: every change adds one to the version; every money change
// records its event carrying the invoice, its number, patient, course,
// currency and amounts after the change.
func TestEvents(t *testing.T) {
	t.Parallel()
	inv := draft(t)
	require.Equal(t, int64(1), inv.Version())
	require.NoError(t, inv.AddLine(deposit(1_000_000), t0))
	require.Equal(t, int64(2), inv.Version(), "adding a line is a change")
	require.Empty(t, inv.Events(), "a draft records no events")

	require.NoError(t, inv.Issue("INV-2026-000042", t0, dueDate))
	_, err := inv.MarkOverdue(dueDate.AddDate(0, 0, 1), time.UTC)
	require.NoError(t, err)
	_, err = inv.ApplyPayment(cny(300_000), "p1", t0.Add(time.Hour))
	require.NoError(t, err)
	over, err := inv.ApplyPayment(cny(800_000), "p2", t0.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, cny(100_000), over)
	require.NoError(t, inv.Refund(cny(50_000), "goodwill", "r1", t0))
	require.NoError(t, inv.Credit(note("cn1", "failed qc", 70_000, 0, 20_000, 50_000), t0))

	evs := inv.TakeEvents()
	require.Empty(t, inv.Events(), "taken once")
	require.Len(t, evs, 7)

	snap := func(e invoice.Event) invoice.Snapshot {
		switch e := e.(type) {
		case invoice.IssuedEvent:
			return e.Invoice
		case invoice.OverdueEvent:
			return e.Invoice
		case invoice.PaymentAppliedEvent:
			return e.Invoice
		case invoice.PaidEvent:
			return e.Invoice
		case invoice.RefundedEvent:
			return e.Invoice
		case invoice.CreditedEvent:
			return e.Invoice
		case invoice.VoidedEvent:
			return e.Invoice
		}
		t.Fatalf("unknown event %T", e)
		return invoice.Snapshot{}
	}
	wantVersions := []int64{3, 4, 5, 6, 6, 7, 8}
	for i, e := range evs {
		s := snap(e)
		require.Equal(t, wantVersions[i], s.Version, "%T", e)
		require.Equal(t, "INV-2026-000042", s.Number)
		require.Equal(t, inv.ID(), s.InvoiceID)
		require.Equal(t, inv.PatientID(), s.PatientID)
		require.Equal(t, inv.CourseID(), s.CourseID)
		require.Equal(t, money.CNY, s.Currency)
		require.Equal(t, cny(1_000_000), s.Total)
	}

	issuedEv := evs[0].(invoice.IssuedEvent)
	require.Len(t, issuedEv.Lines, 1)
	require.Equal(t, dueDate, issuedEv.DueDate)
	require.IsType(t, invoice.OverdueEvent{}, evs[1])
	p1 := evs[2].(invoice.PaymentAppliedEvent)
	require.Equal(t, cny(300_000), p1.Applied)
	require.Equal(t, invoice.Overdue, p1.Invoice.Status)
	require.Equal(t, cny(700_000), p1.Invoice.Due)
	p2 := evs[3].(invoice.PaymentAppliedEvent)
	require.Equal(t, cny(800_000), p2.Amount)
	require.Equal(t, cny(700_000), p2.Applied)
	require.Equal(t, cny(100_000), p2.Overpayment)
	paidEv := evs[4].(invoice.PaidEvent)
	require.Equal(t, invoice.Paid, paidEv.Invoice.Status)
	require.Equal(t, cny(1_000_000), paidEv.Invoice.Paid)
	ref := evs[5].(invoice.RefundedEvent)
	require.Equal(t, cny(50_000), ref.Amount)
	require.Equal(t, cny(50_000), ref.Invoice.Refunded)
	cr := evs[6].(invoice.CreditedEvent)
	require.Equal(t, cny(70_000), cr.Note.Total)
	require.Equal(t, cny(70_000), cr.Invoice.Refunded)
	require.Equal(t, cny(50_000), cr.Invoice.MovedToAccountCredit)
	require.Equal(t, cny(880_000), inv.Refundable())

	t.Run("voided", func(t *testing.T) {
		t.Parallel()
		inv := issued(t)
		inv.TakeEvents()
		require.NoError(t, inv.Void("entered twice", t0))
		evs := inv.TakeEvents()
		require.Len(t, evs, 1)
		v := evs[0].(invoice.VoidedEvent)
		require.Equal(t, "entered twice", v.Reason)
		require.Equal(t, int64(4), v.Invoice.Version)
		require.Equal(t, "INV-2026-000001", v.Invoice.Number)
		require.Equal(t, invoice.Void, v.Invoice.Status)
	})
	t.Run("credit that settles the invoice records Credited then Paid, one version", func(t *testing.T) {
		t.Parallel()
		inv := issued(t)
		inv.TakeEvents()
		require.NoError(t, inv.Credit(note("c", "waived", 1_000_000, 1_000_000, 0, 0), t0))
		evs := inv.TakeEvents()
		require.Len(t, evs, 2)
		require.IsType(t, invoice.CreditedEvent{}, evs[0])
		require.IsType(t, invoice.PaidEvent{}, evs[1])
		require.Equal(t, int64(4), evs[1].(invoice.PaidEvent).Invoice.Version)
	})
}

// A stored invoice comes back the same.
func TestStateRoundTrip(t *testing.T) {
	t.Parallel()
	inv := in(t, invoice.PartiallyPaid)
	require.NoError(t, inv.Refund(cny(100_000), "x", "r", t0))
	back := invoice.FromState(inv.State())
	require.Equal(t, inv.State(), back.State())
	require.Empty(t, back.Events(), "a loaded invoice has no new events")
	require.ErrorIs(t, back.Refund(cny(1), "x", "r2", t0), invoice.ErrDuplicateRefund, "reasons survive the round trip")
}

// Every amount that comes in must be in the invoice's currency: another
// currency, or the zero Money of none, is refused (ErrInvalid and
// money.ErrCurrencyMismatch) and changes nothing.
func TestOtherCurrencyRefused(t *testing.T) {
	t.Parallel()
	changes := map[string]func(*invoice.Invoice) error{
		"payment in USD": func(i *invoice.Invoice) error { _, err := i.ApplyPayment(usd(100), "p", t0); return err },
		"payment of no currency": func(i *invoice.Invoice) error {
			_, err := i.ApplyPayment(money.Money{}, "p", t0)
			return err
		},
		"refund in USD": func(i *invoice.Invoice) error { return i.Refund(usd(100), "x", "r", t0) },
		"credit note in USD": func(i *invoice.Invoice) error {
			return i.Credit(invoice.CreditNote{Reference: "c", Reason: "r", Total: usd(100), ReduceOwed: usd(100),
				Refund: usd(0), ToAccountCredit: usd(0)}, t0)
		},
	}
	for name, do := range changes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inv := in(t, invoice.PartiallyPaid)
			before := inv.State()
			err := do(inv)
			require.ErrorIs(t, err, invoice.ErrInvalid)
			require.ErrorIs(t, err, money.ErrCurrencyMismatch)
			require.Equal(t, before, inv.State())
		})
	}
	t.Run("credit note parts in another currency, or none", func(t *testing.T) {
		t.Parallel()
		mixed := note("c", "r", 100, 100, 0, 0)
		mixed.Refund = usd(0)
		err := mixed.Validate()
		require.ErrorIs(t, err, invoice.ErrCreditNoteParts)
		require.ErrorIs(t, err, money.ErrCurrencyMismatch)
		unset := note("c", "r", 100, 100, 0, 0)
		unset.ToAccountCredit = money.Money{}
		require.ErrorIs(t, unset.Validate(), invoice.ErrCreditNoteParts, "a part of nothing is money.Zero, not the zero Money")
	})
}

func TestTax(t *testing.T) {
	t.Parallel()
	tax, err := invoice.Tax(cny(1225), 600)
	require.NoError(t, err)
	require.Equal(t, cny(74), tax, "73.5 rounds to the even 74")
	tax, err = invoice.Tax(usd(1275), 600)
	require.NoError(t, err)
	require.Equal(t, usd(76), tax, "76.5 rounds to the even 76, in the net's currency")
	for _, bad := range []struct {
		net  money.Money
		rate invoice.BasisPoints
	}{{cny(-1), 600}, {cny(100), -1}, {cny(100), 10001}} {
		_, err := invoice.Tax(bad.net, bad.rate)
		require.ErrorIs(t, err, invoice.ErrInvalid, "%s at %d", bad.net, bad.rate)
	}
}
