package adapters_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/internal/adapters"
	"github.com/clinicops/clinicops/services/billing/migrations"
)

// TestSeededPriceListsAndPolicies: the seed installs a price list and a
// policy per program, twice without harm, and a price list applies only
// from its date on.
func TestSeededPriceListsAndPolicies(t *testing.T) {
	t.Parallel()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	require.NoError(t, adapters.Seed(ctx, db, now))
	require.NoError(t, adapters.Seed(ctx, db, now), "seeding again changes nothing")
	ref := adapters.Reference{Q: db}
	for _, p := range [][2]string{{"nk-autologous", "NK-AUTO-2026.1"}, {"nk-allogeneic", "NK-ALLO-2026.1"}, {"msc", "MSC-2026.1"}, {"hsct-autologous", "HSCT-AUTO-2026.1"}} {
		pl, err := ref.PriceList(ctx, p[0], p[1], time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		require.NoError(t, err, p[0])
		require.Equal(t, p[0], pl.Program)
		_, err = ref.Policy(ctx, p[0])
		require.NoError(t, err, p[0])
	}
	_, err := ref.PriceList(ctx, "nk-autologous", "NK-AUTO-2026.1", time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC))
	require.ErrorIs(t, err, adapters.ErrNoPriceList, "not before its validity")
	_, err = ref.PriceList(ctx, "nk-autologous", "NK-AUTO-1999.1", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	require.ErrorIs(t, err, adapters.ErrNoPriceList)
	_, err = ref.Policy(ctx, "unknown")
	require.ErrorIs(t, err, adapters.ErrNoPolicy)
}
