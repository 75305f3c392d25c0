package adapters_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/internal/adapters"
	"github.com/clinicops/clinicops/services/billing/migrations"
)

// TestInvoiceNumbersGaplessUnderConcurrency issues from 60 transactions at
// once, every third of which rolls back after taking its number: the
// committed numbers are exactly 1..40 of the year, none twice, none
// missing, and another year counts on its own.
func TestInvoiceNumbersGaplessUnderConcurrency(t *testing.T) {
	t.Parallel()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	ctx := context.Background()
	errRollback := errors.New("issue failed after numbering")
	var mu sync.Mutex
	var committed []string
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var number string
			err := pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
				var err error
				if number, err = adapters.NextInvoiceNumber(ctx, tx, 2026); err != nil {
					return err
				}
				if i%3 == 2 {
					return errRollback
				}
				return nil
			})
			if i%3 == 2 {
				require.ErrorIs(t, err, errRollback)
				return
			}
			require.NoError(t, err)
			mu.Lock()
			committed = append(committed, number)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Strings(committed)
	want := make([]string, 40)
	for i := range want {
		want[i] = adapters.FormatInvoiceNumber(2026, int64(i+1))
	}
	require.Equal(t, want, committed)

	require.NoError(t, pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		n, err := adapters.NextInvoiceNumber(ctx, tx, 2027)
		require.Equal(t, "INV-2027-000001", n)
		return err
	}))
}
