package adapters_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/services/billing/internal/adapters"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// dearer is the seeded NK autologous list with every price 10 % up, valid
// from `from`.
func dearer(t *testing.T, b bundle, from time.Time) policy.PriceList {
	t.Helper()
	cur, err := adapters.ReferenceAdmin{DB: b.db}.PriceList(context.Background(), "nk-autologous", "NK-AUTO-2026.1", date(2026, 1, 1))
	require.NoError(t, err)
	pl := cur.PriceList
	up := func(fen int64) int64 { return fen * 11 / 10 }
	pl.ValidFrom, pl.ValidTo = from, time.Time{}
	pl.CoursePrice, pl.Deposit = cnyM(t, up(pl.CoursePrice.Amount())), cnyM(t, up(pl.Deposit.Amount()))
	pl.LabFee, pl.PerInfusion = cnyM(t, up(pl.LabFee.Amount())), cnyM(t, up(pl.PerInfusion.Amount()))
	ins := map[string]policy.Instalment{}
	for ph, in := range pl.Instalments {
		ins[ph] = policy.Instalment{Amount: cnyM(t, up(in.Amount.Amount())), Count: in.Count}
	}
	pl.Instalments = ins
	require.NoError(t, pl.Validate())
	return pl
}

func (b bundle) priceLists() app.PriceLists {
	return app.PriceLists{Store: adapters.ReferenceAdmin{DB: b.db}, Calendar: clock.Calendar{Clock: b.clock, Location: shanghai}}
}

func courseTotal(t *testing.T, b bundle, course uuid.UUID) int64 {
	t.Helper()
	var total int64
	require.NoError(t, b.db.Get(&total, `SELECT COALESCE(sum(total), 0) FROM invoices WHERE course_id = $1`, course))
	return total
}

// TestPriceListsAreEditedWithoutRewritingHistory: a new list overlapping
// the current one is refused (naming it); superseding it closes it the day
// before, writing nothing but its end; the list a course was invoiced with
// is never changed in place, the course keeps its prices and invoices,
// and a course planned once the new list applies is invoiced with it.
func TestPriceListsAreEditedWithoutRewritingHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	admin, lists := adapters.ReferenceAdmin{DB: b.db}, b.priceLists()
	before := b.plan(t, b.patient(t), 1, false)
	keptBefore := coursePrices(t, b, before)
	require.Equal(t, int64(5_200_000), courseTotal(t, b, before))
	var defBefore []byte
	require.NoError(t, b.db.Get(&defBefore, `SELECT definition - 'valid_to' FROM price_lists WHERE program = 'nk-autologous'`))

	next := dearer(t, b, date(2026, 12, 10))
	_, err := lists.Add(ctx, next, time.Time{})
	var oe *policy.OverlapError
	require.True(t, errors.As(err, &oe), "%v", err)
	require.Equal(t, date(2026, 1, 1), oe.Other.ValidFrom, "names the list it overlaps")
	_, err = lists.Add(ctx, next, date(2025, 1, 1))
	require.ErrorIs(t, err, app.ErrNothingToSupersede)
	today := dearer(t, b, date(2026, 12, 1))
	_, err = lists.Add(ctx, today, date(2026, 1, 1))
	require.ErrorIs(t, err, policy.ErrPast, "today's prices are history: the change starts tomorrow at the earliest")
	_, err = lists.Add(ctx, dearer(t, b, date(2025, 6, 1)), time.Time{})
	require.ErrorIs(t, err, policy.ErrPast)

	_, err = lists.Add(ctx, next, date(2026, 1, 1))
	require.NoError(t, err)
	all, err := admin.PriceLists(ctx, "nk-autologous", "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, date(2026, 12, 9), all[0].ValidTo, "the old list ends the day before")
	require.True(t, all[1].ValidTo.IsZero())
	var defAfter []byte
	require.NoError(t, b.db.Get(&defAfter, `SELECT definition - 'valid_to' FROM price_lists WHERE program = 'nk-autologous' AND valid_from = '2026-01-01'`))
	require.JSONEq(t, string(defBefore), string(defAfter), "closing writes the end and nothing else")

	_, err = lists.Close(ctx, "nk-autologous", "NK-AUTO-2026.1", date(2026, 1, 1), date(2026, 11, 30))
	require.ErrorIs(t, err, policy.ErrPast, "the list the course was invoiced with keeps the days it applied")
	_, err = lists.Close(ctx, "nk-autologous", "NK-AUTO-2026.1", date(2026, 1, 1), date(2026, 12, 31))
	require.ErrorIs(t, err, policy.ErrExtends)
	_, err = lists.Close(ctx, "nk-autologous", "NK-AUTO-2026.1", date(2026, 2, 1), date(2026, 12, 31))
	require.ErrorIs(t, err, app.ErrUnknownPriceList)

	require.Equal(t, keptBefore, coursePrices(t, b, before), "the course keeps the prices it was invoiced with")
	require.Equal(t, int64(5_200_000), courseTotal(t, b, before), "and its invoices")

	b.clock.Advance(9 * 24 * time.Hour) // 2026-12-10 in Shanghai
	after := b.plan(t, b.patient(t), 1, false)
	require.Equal(t, int64(5_720_000), courseTotal(t, b, after), "invoiced with the new list")
	require.Equal(t, next.CoursePrice, coursePrices(t, b, after).CoursePrice)
	require.Equal(t, keptBefore, coursePrices(t, b, before))
	require.Equal(t, int64(5_200_000), courseTotal(t, b, before))
}

func coursePrices(t *testing.T, b bundle, course uuid.UUID) policy.PriceList {
	t.Helper()
	var pl policy.PriceList
	require.NoError(t, b.store.Do(context.Background(), func(r app.Repositories) (err error) {
		pl, err = r.Courses().Prices(context.Background(), course)
		return err
	}))
	return pl
}

// TestConcurrentOverlappingListsOneWins: lists of a new program and
// version posted at once, all open-ended from different days, so no key
// collides: the lock lets exactly one in.
func TestConcurrentOverlappingListsOneWins(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lists := b.priceLists()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			pl := dearer(t, b, date(2026, 12, 2+i))
			pl.Program = "new-program"
			_, errs[i] = lists.Add(context.Background(), pl, time.Time{})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, policy.ErrOverlap)
	}
	require.Equal(t, 1, won)
	all, err := adapters.ReferenceAdmin{DB: b.db}.PriceLists(context.Background(), "new-program", "NK-AUTO-2026.1")
	require.NoError(t, err)
	require.Len(t, all, 1)
}

// TestCancellationPoliciesArePut: a policy is replaced whole, read back as
// put; a program without a price list gets none.
func TestCancellationPoliciesArePut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	admin := adapters.ReferenceAdmin{DB: b.db}
	all, err := admin.Policies(ctx)
	require.NoError(t, err)
	require.Len(t, all, 4)
	p := all[0].CancellationPolicy
	p.BeforeCulture = policy.StageRule{RefundShare: 7500, RestTo: policy.ToForfeit}
	created, err := admin.PutPolicy(ctx, p, b.clock.Now())
	require.NoError(t, err)
	require.False(t, created)
	got, err := admin.Policy(ctx, p.Program)
	require.NoError(t, err)
	require.Equal(t, p, got.CancellationPolicy)
	p.Program = "no-such-program"
	_, err = admin.PutPolicy(ctx, p, b.clock.Now())
	require.ErrorIs(t, err, app.ErrUnknownProgram)
	_, err = admin.Policy(ctx, "no-such-program")
	require.ErrorIs(t, err, app.ErrUnknownPolicy)
}
