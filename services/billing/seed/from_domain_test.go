package seed_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/billing/seed"
)

// TestFromDomainRoundTrips: every seeded list and policy comes back from
// the domain as it was stored, so what the admin API stores reads back the
// same.
func TestFromDomainRoundTrips(t *testing.T) {
	t.Parallel()
	d, err := seed.Reference()
	require.NoError(t, err)
	for _, p := range d.PriceLists {
		pl, err := p.ToDomain()
		require.NoError(t, err)
		require.Equal(t, p, seed.FromPriceList(pl))
	}
	for _, p := range d.CancellationPolicies {
		cp, err := p.ToDomain()
		require.NoError(t, err)
		require.Equal(t, p, seed.FromPolicy(cp))
	}
}
