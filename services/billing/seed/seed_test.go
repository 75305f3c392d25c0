package seed_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/billing/internal/domain/money"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
	"github.com/clinicops/clinicops/services/billing/seed"
)

// phases is each seeded program's course as scheduling's seeded protocol
// plans it (phase name and number of cycles, in order).
var phases = map[string][][2]any{
	"nk-autologous":   {{"initial", 3}, {"consolidation", 2}, {"maintenance", 1}},
	"nk-allogeneic":   {{"treatment", 4}},
	"msc":             {{"treatment", 3}},
	"hsct-autologous": {{"transplant", 1}},
}

// TestSeededReferenceData: every seeded price list and policy is valid,
// each program has both, and each price list schedules the course
// scheduling plans for it, invoicing exactly the course price.
func TestSeededReferenceData(t *testing.T) {
	t.Parallel()
	d, err := seed.Reference()
	require.NoError(t, err)
	policies := map[string]bool{}
	for _, p := range d.CancellationPolicies {
		_, err := p.ToDomain()
		require.NoError(t, err, p.Program)
		policies[p.Program] = true
	}
	require.Len(t, d.PriceLists, len(phases))
	planned := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range d.PriceLists {
		pl, err := p.ToDomain()
		require.NoError(t, err, p.Program)
		require.True(t, policies[p.Program], "%s has a cancellation policy", p.Program)
		var cycles []policy.Cycle
		for _, ph := range phases[p.Program] {
			for range ph[1].(int) {
				n := len(cycles) + 1
				cycles = append(cycles, policy.Cycle{Number: n, Phase: ph[0].(string), TargetDate: planned.AddDate(0, n, 14)})
			}
		}
		invoices, err := policy.Schedule(pl, cycles, planned, policy.ScheduleOptions{DepositDueDays: 7, InstalmentLeadDays: 14})
		require.NoError(t, err, p.Program)
		total := money.Zero(pl.Currency)
		for _, in := range invoices {
			total, err = total.Add(in.Amount)
			require.NoError(t, err)
		}
		require.Equal(t, pl.CoursePrice, total, "%s invoices its course price", p.Program)
		require.Equal(t, "deposit", string(invoices[0].Kind), "%s: the deposit comes first", p.Program)
	}
}

// TestPriceListToDomainMoney: the JSON's minor units become Money in the
// list's currency; a currency money does not know is refused.
func TestPriceListToDomainMoney(t *testing.T) {
	t.Parallel()
	p := seed.PriceListJSON{Program: "x", ProtocolVersion: "v1", ValidFrom: "2026-01-01", Currency: "HKD",
		CoursePrice: 300_000, Deposit: 100_000, LabFee: 0, PerInfusion: 50_000,
		Instalments: map[string]seed.InstalmentJSON{"a": {Amount: 100_000, Count: 2}}}
	pl, err := p.ToDomain()
	require.NoError(t, err)
	require.Equal(t, money.HKD, pl.Currency)
	for _, m := range []money.Money{pl.CoursePrice, pl.Deposit, pl.LabFee, pl.PerInfusion, pl.Instalments["a"].Amount} {
		require.Equal(t, money.HKD, m.Currency())
	}
	require.Equal(t, int64(300_000), pl.CoursePrice.Amount())
	require.Equal(t, int64(100_000), pl.Instalments["a"].Amount.Amount())
	for _, bad := range []string{"hkd", "", "XXX"} {
		p.Currency = bad
		_, err := p.ToDomain()
		require.ErrorIs(t, err, policy.ErrInvalid, bad)
	}
}
