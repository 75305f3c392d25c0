package adapters_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
	"github.com/clinicops/clinicops/services/intake/seed"
)

func TestPrograms(t *testing.T) {
	t.Parallel()
	b := setup(t) // seeded with the demo programs
	ctx := context.Background()
	want, err := seed.Programs()
	require.NoError(t, err)

	list, err := b.programs.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, len(want))
	for i := 1; i < len(list); i++ {
		require.Less(t, list[i-1].Code, list[i].Code, "by code")
	}
	for _, w := range want {
		got, err := b.programs.Get(ctx, w.Code)
		require.NoError(t, err)
		require.Equal(t, w, got, "round trip")
	}

	_, err = b.programs.Get(ctx, "no-such-program")
	require.ErrorIs(t, err, program.ErrNotFound)

	// The clinic's edits survive a re-seed; an inactive program is gone.
	_, err = b.db.Exec(`UPDATE programs SET name = 'Our MSC' WHERE code = 'msc'`)
	require.NoError(t, err)
	_, err = b.db.Exec(`UPDATE programs SET active = false WHERE code = $1`, want[0].Code)
	require.NoError(t, err)
	require.NoError(t, b.programs.Seed(ctx, want))
	got, err := b.programs.Get(ctx, "msc")
	require.NoError(t, err)
	require.Equal(t, "Our MSC", got.Name)
	_, err = b.programs.Get(ctx, want[0].Code)
	require.ErrorIs(t, err, program.ErrNotFound)
	list, err = b.programs.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, len(want)-1)
}
