package adapters_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/internal/adapters"
	"github.com/clinicops/clinicops/services/billing/internal/domain/account"
	"github.com/clinicops/clinicops/services/billing/migrations"
)

func TestMain(m *testing.M) { testharness.Main(m) }

var t0 = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

func open(t *testing.T, db *sqlx.DB, a account.Account) {
	t.Helper()
	require.NoError(t, pgdb.InTx(context.Background(), db, nil, func(tx *sqlx.Tx) error {
		return (&adapters.Store{DB: db}).Tx(tx).Accounts().Open(context.Background(), a)
	}))
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	ctx := context.Background()
	id := uuid.New()
	first, err := account.Open(id, "CNY", 1, t0)
	require.NoError(t, err)
	open(t, db, first)
	got, err := adapters.Accounts{DB: db}.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, first, got)

	// A repeated PatientRegistered opens nothing new.
	again, err := account.Open(id, "USD", 2, t0.Add(time.Hour))
	require.NoError(t, err)
	open(t, db, again)
	got, err = adapters.Accounts{DB: db}.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, first, got)
}

func TestAccountsNotFoundAndRollback(t *testing.T) {
	t.Parallel()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	ctx := context.Background()
	_, err := adapters.Accounts{DB: db}.Get(ctx, uuid.New())
	require.ErrorIs(t, err, account.ErrNotFound)

	id := uuid.New()
	a, err := account.Open(id, "CNY", 1, t0)
	require.NoError(t, err)
	boom := errors.New("handler failed after opening")
	err = pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		if err := (&adapters.Store{DB: db}).Tx(tx).Accounts().Open(ctx, a); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = adapters.Accounts{DB: db}.Get(ctx, id)
	require.ErrorIs(t, err, account.ErrNotFound, "rolled back with the handler's transaction")
}
