package policy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/billing/internal/domain/invoice"
	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
)

// fen is v CNY minor units.
func fen(v int64) money.Money {
	m, err := money.New(v, money.CNY)
	if err != nil {
		panic(err)
	}
	return m
}

// must is m, for amounts in currencies other than CNY.
func must(m money.Money, err error) money.Money {
	if err != nil {
		panic(err)
	}
	return m
}

// yuan is y CNY.
func yuan(y int64) money.Money { return fen(y * 100) }

// sum adds CNY amounts.
func sum(t *testing.T, ms ...money.Money) money.Money {
	t.Helper()
	s, err := money.Sum(money.CNY, ms...)
	require.NoError(t, err)
	return s
}

// orNothing makes each amount left unset (the zero Money) nothing in CNY,
// so the tables list only what matters.
func orNothing(ms ...*money.Money) {
	for _, m := range ms {
		if *m == (money.Money{}) {
			*m = fen(0)
		}
	}
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// nk is the worked example: a course of 30,000.00 CNY, 10,000.00 deposit,
// 4 instalments of 5,000.00 in the initial phase, lab fee 3,000.00,
// 2,000.00 per infusion.
func nk() policy.PriceList {
	return policy.PriceList{
		Program: "nk_autologous_autoimmune", ProtocolVersion: "v3", Currency: money.CNY,
		ValidFrom: day(2026, 1, 1), ValidTo: day(2026, 12, 31),
		CoursePrice: yuan(30_000), Deposit: yuan(10_000),
		Instalments: map[string]policy.Instalment{"initial": {Amount: yuan(5_000), Count: 4}},
		LabFee:      yuan(3_000), PerInfusion: yuan(2_000),
	}
}

func nkPolicy() policy.CancellationPolicy {
	return policy.CancellationPolicy{
		Program:                    "nk_autologous_autoimmune",
		BeforeCulture:              policy.StageRule{RefundShare: 10000},
		CultureStarted:             policy.StageRule{ForfeitLabFee: true, RefundShare: 10000},
		InfusionsGiven:             policy.StageRule{ForfeitLabFee: true, KeepInfusions: true, RefundShare: 5000, RestTo: policy.ToAccountCredit},
		KeepLabFeeOnProductFailure: true,
	}
}

func TestPriceListValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, nk().Validate())
	tests := []struct {
		name string
		mod  func(*policy.PriceList)
	}{
		{"no program", func(p *policy.PriceList) { p.Program = "" }},
		{"no protocol version", func(p *policy.PriceList) { p.ProtocolVersion = " " }},
		// A code money does not read is no currency at all.
		{"bad currency", func(p *policy.PriceList) { p.Currency, _ = money.ParseCurrency("yuan") }},
		{"no currency", func(p *policy.PriceList) { p.Currency = money.Currency{} }},
		{"the list in another currency than its amounts", func(p *policy.PriceList) { p.Currency = money.USD }},
		{"a deposit in another currency", func(p *policy.PriceList) { p.Deposit = must(money.New(1_000_000, money.USD)) }},
		{"an instalment in another currency", func(p *policy.PriceList) {
			p.Instalments["initial"] = policy.Instalment{Amount: must(money.New(500_000, money.HKD)), Count: 4}
		}},
		{"a lab fee of no currency", func(p *policy.PriceList) { p.LabFee = money.Money{} }},
		{"no valid from", func(p *policy.PriceList) { p.ValidFrom = time.Time{} }},
		{"valid to before from", func(p *policy.PriceList) { p.ValidTo = day(2025, 12, 31) }},
		{"zero course price", func(p *policy.PriceList) { p.CoursePrice = fen(0); p.Deposit = fen(0); p.Instalments = nil }},
		{"negative deposit", func(p *policy.PriceList) { p.Deposit = fen(-1) }},
		{"negative lab fee", func(p *policy.PriceList) { p.LabFee = fen(-1) }},
		{"negative per infusion", func(p *policy.PriceList) { p.PerInfusion = fen(-1) }},
		{"tax above 100 %", func(p *policy.PriceList) { p.TaxRate = 10001 }},
		{"deposit above course", func(p *policy.PriceList) { p.Deposit = yuan(30_001); p.Instalments = nil }},
		{"instalments short", func(p *policy.PriceList) { p.Instalments["initial"] = policy.Instalment{Amount: yuan(5_000), Count: 3} }},
		{"instalments over", func(p *policy.PriceList) {
			p.Instalments["maintenance"] = policy.Instalment{Amount: fen(1), Count: 1}
		}},
		{"zero count", func(p *policy.PriceList) { p.Instalments["initial"] = policy.Instalment{Amount: yuan(5_000)} }},
		{"negative instalment", func(p *policy.PriceList) {
			p.Instalments = map[string]policy.Instalment{"a": {Amount: yuan(25_000), Count: 1}, "b": {Amount: yuan(-5_000), Count: 1}}
		}},
		{"overflowing instalments", func(p *policy.PriceList) {
			p.Instalments["initial"] = policy.Instalment{Amount: fen(1 << 62), Count: 4}
		}},
		{"one cycle above the course", func(p *policy.PriceList) { p.LabFee = yuan(29_000) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pl := nk()
			tc.mod(&pl)
			require.ErrorIs(t, pl.Validate(), policy.ErrInvalid)
		})
	}
	t.Run("no instalments: the rest is one course invoice", func(t *testing.T) {
		t.Parallel()
		pl := nk()
		pl.Instalments = nil
		require.NoError(t, pl.Validate())
	})
}

func TestPriceListValidOn(t *testing.T) {
	t.Parallel()
	pl := nk()
	require.False(t, pl.ValidOn(day(2025, 12, 31)))
	require.True(t, pl.ValidOn(day(2026, 1, 1)), "from included")
	require.True(t, pl.ValidOn(day(2026, 12, 31)), "to included")
	require.False(t, pl.ValidOn(day(2027, 1, 1)))
	pl.ValidTo = time.Time{}
	require.True(t, pl.ValidOn(day(2099, 1, 1)), "open-ended")
}

func cycles() []policy.Cycle {
	// Out of order on purpose: the schedule follows cycle numbers.
	return []policy.Cycle{
		{Number: 3, Phase: "initial", TargetDate: day(2026, 5, 20)},
		{Number: 1, Phase: "initial", TargetDate: day(2026, 3, 20)},
		{Number: 2, Phase: "initial", TargetDate: day(2026, 4, 20)},
		{Number: 4, Phase: "initial", TargetDate: day(2026, 6, 20)},
		{Number: 5, Phase: "maintenance", TargetDate: day(2026, 12, 20)},
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	opt := policy.ScheduleOptions{DepositDueDays: 7, InstalmentLeadDays: 14}
	planned := time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC)
	got, err := policy.Schedule(nk(), cycles(), planned, opt)
	require.NoError(t, err)

	want := []struct {
		kind  invoice.Kind
		cycle int
		due   time.Time
	}{
		{invoice.Deposit, 0, day(2026, 3, 9)},
		// Cycle 1's 14 days before (6 March) is before the deposit: moved to it.
		{invoice.Instalment, 1, day(2026, 3, 9)},
		{invoice.Instalment, 2, day(2026, 4, 6)},
		{invoice.Instalment, 3, day(2026, 5, 6)},
		{invoice.Instalment, 4, day(2026, 6, 6)},
	}
	require.Len(t, got, len(want))
	total := fen(0)
	for i, w := range want {
		require.Equal(t, w.kind, got[i].Kind, i)
		require.Equal(t, w.cycle, got[i].Cycle, i)
		require.Equal(t, w.due, got[i].DueDate, i)
		total = sum(t, total, got[i].Amount)
	}
	require.Equal(t, yuan(10_000), got[0].Amount)
	require.Equal(t, yuan(5_000), got[1].Amount)
	require.Equal(t, nk().CoursePrice, total, "the schedule invoices the course price exactly")

	t.Run("deterministic", func(t *testing.T) {
		t.Parallel()
		for range 20 {
			again, err := policy.Schedule(nk(), cycles(), planned, opt)
			require.NoError(t, err)
			require.Equal(t, got, again)
		}
	})
	t.Run("the input is not reordered", func(t *testing.T) {
		t.Parallel()
		cs := cycles()
		_, err := policy.Schedule(nk(), cs, planned, opt)
		require.NoError(t, err)
		require.Equal(t, cycles(), cs)
	})
	t.Run("without instalments: deposit and one course invoice", func(t *testing.T) {
		t.Parallel()
		pl := nk()
		pl.Instalments = nil
		got, err := policy.Schedule(pl, cycles(), planned, policy.ScheduleOptions{DepositDueDays: 3, InstalmentLeadDays: 7})
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, invoice.Deposit, got[0].Kind)
		require.Equal(t, day(2026, 3, 5), got[0].DueDate)
		require.Equal(t, invoice.Course, got[1].Kind)
		require.Equal(t, yuan(20_000), got[1].Amount)
		require.Equal(t, day(2026, 3, 13), got[1].DueDate)
	})
	t.Run("no deposit: no deposit invoice", func(t *testing.T) {
		t.Parallel()
		pl := nk()
		pl.Deposit = fen(0)
		pl.Instalments = map[string]policy.Instalment{"initial": {Amount: yuan(7_500), Count: 4}}
		got, err := policy.Schedule(pl, cycles(), planned, opt)
		require.NoError(t, err)
		require.Len(t, got, 4)
		require.Equal(t, invoice.Instalment, got[0].Kind)
	})
	t.Run("a phase with fewer cycles than instalments is refused", func(t *testing.T) {
		t.Parallel()
		_, err := policy.Schedule(nk(), cycles()[:3], planned, opt)
		require.ErrorIs(t, err, policy.ErrPlanMismatch)
		_, err = policy.Schedule(nk(), nil, planned, opt)
		require.ErrorIs(t, err, policy.ErrPlanMismatch)
	})
	t.Run("bad input refused", func(t *testing.T) {
		t.Parallel()
		dup := append(cycles(), policy.Cycle{Number: 2, Phase: "initial", TargetDate: day(2026, 4, 21)})
		_, err := policy.Schedule(nk(), dup, planned, opt)
		require.ErrorIs(t, err, policy.ErrInvalid)
		_, err = policy.Schedule(nk(), []policy.Cycle{{Number: 1, Phase: "initial"}}, planned, opt)
		require.ErrorIs(t, err, policy.ErrInvalid)
		_, err = policy.Schedule(nk(), cycles(), planned, policy.ScheduleOptions{DepositDueDays: -1})
		require.ErrorIs(t, err, policy.ErrInvalid)
		bad := nk()
		bad.Deposit = yuan(9_000)
		_, err = policy.Schedule(bad, cycles(), planned, opt)
		require.ErrorIs(t, err, policy.ErrInvalid)
	})
}

// The cancellation policy at each stage, with the worked numbers of the
// doc comment, and the parts adding up exactly.
func TestApplyCancellation(t *testing.T) {
	t.Parallel()
	feeRule := nkPolicy()
	feeRule.CultureStarted = policy.StageRule{ForfeitLabFee: true, RefundShare: 8000, RestTo: policy.ToForfeit}
	noLabFee := nkPolicy()
	noLabFee.CultureStarted = policy.StageRule{RefundShare: 10000}

	tests := []struct {
		name   string
		policy policy.CancellationPolicy
		facts  policy.Facts
		want   policy.Settlement
	}{
		{"before culture: all refunded, owed credited", nkPolicy(),
			policy.Facts{Paid: yuan(10_000), Owed: yuan(5_000)},
			policy.Settlement{Stage: policy.BeforeCulture, Refund: yuan(10_000), Credit: yuan(5_000)}},
		{"before culture, nothing paid", nkPolicy(),
			policy.Facts{Owed: yuan(10_000)},
			policy.Settlement{Stage: policy.BeforeCulture, Credit: yuan(10_000)}},
		{"culture started: lab fee forfeited", nkPolicy(),
			policy.Facts{CultureStarted: true, Paid: yuan(10_000), Owed: yuan(5_000)},
			policy.Settlement{Stage: policy.CultureStarted, Kept: yuan(3_000), Forfeit: yuan(3_000), Refund: yuan(7_000), Credit: yuan(5_000)}},
		{"culture started, policy keeps no lab fee", noLabFee,
			policy.Facts{CultureStarted: true, Paid: yuan(10_000), Owed: yuan(5_000)},
			policy.Settlement{Stage: policy.CultureStarted, Refund: yuan(10_000), Credit: yuan(5_000)}},
		{"culture started, less paid than the lab fee: the rest stays owed", nkPolicy(),
			policy.Facts{CultureStarted: true, Paid: yuan(1_000), Owed: yuan(9_000)},
			policy.Settlement{Stage: policy.CultureStarted, Kept: yuan(3_000), Forfeit: yuan(1_000), StillOwed: yuan(2_000), Credit: yuan(7_000)}},
		{"culture started, a 20 % cancellation fee forfeited", feeRule,
			policy.Facts{CultureStarted: true, Paid: yuan(10_000)},
			policy.Settlement{Stage: policy.CultureStarted, Kept: yuan(3_000), Forfeit: yuan(3_000 + 1_400), Refund: yuan(5_600)}},
		{"two infusions: kept, half refunded, half account credit", nkPolicy(),
			policy.Facts{CultureStarted: true, InfusionsGiven: 2, Paid: yuan(20_000), Owed: yuan(5_000)},
			policy.Settlement{Stage: policy.InfusionsGiven, Kept: yuan(7_000), Forfeit: yuan(7_000), Refund: yuan(6_500), ToAccountCredit: yuan(6_500), Credit: yuan(5_000)}},
		{"two infusions, underpaid", nkPolicy(),
			policy.Facts{CultureStarted: true, InfusionsGiven: 2, Paid: yuan(5_000), Owed: yuan(10_000)},
			policy.Settlement{Stage: policy.InfusionsGiven, Kept: yuan(7_000), Forfeit: yuan(5_000), StillOwed: yuan(2_000), Credit: yuan(8_000)}},
		{"consumption above paid and owed", nkPolicy(),
			policy.Facts{CultureStarted: true, InfusionsGiven: 4, Paid: yuan(5_000), Owed: yuan(1_000)},
			policy.Settlement{Stage: policy.InfusionsGiven, Kept: yuan(11_000), Forfeit: yuan(5_000), StillOwed: yuan(1_000)}},
		{"an odd fen: the refund rounds half to even, account credit takes the rest", nkPolicy(),
			// rest 13,000.01 → half is 6,500.005: refund 6,500.00, credit 6,500.01.
			policy.Facts{CultureStarted: true, InfusionsGiven: 2, Paid: fen(20_000_00 + 1)},
			policy.Settlement{Stage: policy.InfusionsGiven, Kept: yuan(7_000), Forfeit: yuan(7_000), Refund: yuan(6_500), ToAccountCredit: fen(6_500_00 + 1)}},
		{"three odd fen: 1.5 rounds to 2", nkPolicy(),
			policy.Facts{CultureStarted: true, InfusionsGiven: 2, Paid: fen(7_000_00 + 3)},
			policy.Settlement{Stage: policy.InfusionsGiven, Kept: yuan(7_000), Forfeit: yuan(7_000), Refund: fen(2), ToAccountCredit: fen(1)}},
		{"allogeneic: infusions given without a culture, no lab fee", nkPolicy(),
			policy.Facts{InfusionsGiven: 1, Paid: yuan(10_000)},
			policy.Settlement{Stage: policy.InfusionsGiven, Kept: yuan(2_000), Forfeit: yuan(2_000), Refund: yuan(4_000), ToAccountCredit: yuan(4_000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.facts.LabFee, tc.facts.PerInfusion = yuan(3_000), yuan(2_000)
			orNothing(&tc.facts.Paid, &tc.facts.Owed)
			w := &tc.want
			orNothing(&w.Kept, &w.Forfeit, &w.Refund, &w.ToAccountCredit, &w.Credit, &w.StillOwed)
			got, err := policy.Apply(tc.policy, tc.facts)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.facts.Paid, sum(t, got.Refund, got.ToAccountCredit, got.Forfeit), "paid money is split exactly")
			require.Equal(t, tc.facts.Owed, sum(t, got.Credit, got.StillOwed), "owed money is split exactly")
		})
	}
}

// Every split adds up, over a grid of facts and shares.
func TestApplyAlwaysAddsUp(t *testing.T) {
	t.Parallel()
	for _, share := range []policy.BasisPoints{0, 1, 3333, 5000, 6667, 9999, 10000} {
		for _, to := range []policy.Destination{policy.ToAccountCredit, policy.ToForfeit} {
			p := nkPolicy()
			p.InfusionsGiven.RefundShare, p.InfusionsGiven.RestTo = share, to
			p.CultureStarted.RefundShare, p.CultureStarted.RestTo = share, to
			for _, paid := range []money.Money{fen(0), fen(1), fen(2), fen(3), fen(99_999), yuan(3_000), fen(7_000_00 + 1), yuan(30_000)} {
				for _, owed := range []money.Money{fen(0), fen(1), yuan(2_000), yuan(20_000)} {
					for _, inf := range []int{0, 1, 3, 15} {
						for _, culture := range []bool{false, true} {
							f := policy.Facts{CultureStarted: culture, InfusionsGiven: inf, Paid: paid, Owed: owed, LabFee: yuan(3_000), PerInfusion: yuan(2_000)}
							s, err := policy.Apply(p, f)
							require.NoError(t, err)
							require.Equal(t, paid, sum(t, s.Refund, s.ToAccountCredit, s.Forfeit), "%+v", f)
							require.Equal(t, owed, sum(t, s.Credit, s.StillOwed), "%+v", f)
							for _, part := range []money.Money{s.Kept, s.Refund, s.ToAccountCredit, s.Forfeit, s.Credit, s.StillOwed} {
								require.False(t, part.IsNegative(), "%+v", f)
								require.Equal(t, money.CNY, part.Currency(), "%+v", f)
							}
						}
					}
				}
			}
		}
	}
}

func TestApplyRefusesBadInput(t *testing.T) {
	t.Parallel()
	bad := nkPolicy()
	bad.InfusionsGiven.RefundShare = 10001
	_, err := policy.Apply(bad, policy.Facts{})
	require.ErrorIs(t, err, policy.ErrInvalid)
	noDest := nkPolicy()
	noDest.InfusionsGiven.RestTo = ""
	_, err = policy.Apply(noDest, policy.Facts{})
	require.ErrorIs(t, err, policy.ErrInvalid)
	facts := func(mod func(*policy.Facts)) policy.Facts {
		f := policy.Facts{Paid: fen(0), Owed: fen(0), LabFee: yuan(3_000), PerInfusion: yuan(2_000)}
		mod(&f)
		return f
	}
	_, err = policy.Apply(nkPolicy(), facts(func(f *policy.Facts) { f.Paid = fen(-1) }))
	require.ErrorIs(t, err, policy.ErrInvalid)
	_, err = policy.Apply(nkPolicy(), facts(func(f *policy.Facts) { f.InfusionsGiven = -1 }))
	require.ErrorIs(t, err, policy.ErrInvalid)
	_, err = policy.Apply(nkPolicy(), facts(func(f *policy.Facts) { f.Owed = must(money.New(100, money.USD)) }))
	require.ErrorIs(t, err, policy.ErrInvalid, "facts in two currencies")
	require.ErrorIs(t, err, money.ErrCurrencyMismatch)
	_, err = policy.Apply(nkPolicy(), facts(func(f *policy.Facts) { f.Paid = money.Money{} }))
	require.ErrorIs(t, err, policy.ErrInvalid, "paid of no currency")
	_, err = policy.Apply(nkPolicy(), facts(func(f *policy.Facts) { f.LabFee = money.Money{} }))
	require.ErrorIs(t, err, policy.ErrInvalid, "a lab fee of no currency")
	_, err = policy.Apply(nkPolicy(), facts(func(f *policy.Facts) { f.InfusionsGiven = 1 << 40; f.PerInfusion = fen(1 << 40) }))
	require.ErrorIs(t, err, policy.ErrOverflow, "infusions kept beyond int64")
	require.ErrorIs(t, err, money.ErrOverflow)
}

func TestFailedCycleCredit(t *testing.T) {
	t.Parallel()
	c2 := policy.Cycle{Number: 2, Phase: "initial", TargetDate: day(2026, 4, 20)}
	keeps := nkPolicy()
	credits := nkPolicy()
	credits.KeepLabFeeOnProductFailure = false
	tests := []struct {
		name           string
		policy         policy.CancellationPolicy
		cultureStarted bool
		want           policy.CycleCredit
	}{
		{"culture started, policy keeps the lab fee", keeps, true, policy.CycleCredit{Cycle: 2, Credit: yuan(2_000), KeptLabFee: yuan(3_000)}},
		{"culture started, policy credits the lab fee", credits, true, policy.CycleCredit{Cycle: 2, Credit: yuan(5_000)}},
		{"no culture: the lab fee is credited anyway", keeps, false, policy.CycleCredit{Cycle: 2, Credit: yuan(5_000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			orNothing(&tc.want.KeptLabFee)
			got, err := policy.FailedCycleCredit(nk(), c2, tc.cultureStarted, tc.policy)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, sum(t, nk().LabFee, nk().PerInfusion), sum(t, got.Credit, got.KeptLabFee))
		})
	}
	other := nkPolicy()
	other.Program = "msc"
	_, err := policy.FailedCycleCredit(nk(), c2, true, other)
	require.ErrorIs(t, err, policy.ErrInvalid, "another program's policy")
	_, err = policy.FailedCycleCredit(nk(), policy.Cycle{}, true, keeps)
	require.ErrorIs(t, err, policy.ErrInvalid)
}
