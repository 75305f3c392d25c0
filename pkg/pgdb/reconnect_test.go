package pgdb_test

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// TestPoolOutlivesARestartOfPostgres: after PostgreSQL is restarted, or
// crashes and recovers, every connection the pool held is dead; the next
// transactions and queries still succeed, each on a new connection, without
// a failed request per dead connection. lib/pq reports the dead connection
// as driver.ErrBadConn (its FATAL "terminating connection" or an EOF) and
// database/sql then retries on another one; this holds that in place
// across upgrades of either.
func TestPoolOutlivesARestartOfPostgres(t *testing.T) {
	pg := testharness.NewCluster(t)
	ctx := context.Background()
	db, err := pgdb.Open(ctx, pg.DSN("postgres"), pgdb.PoolConfig{MaxOpenConns: 8})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	fill := func() { // 8 transactions open at once hold 8 connections, idle afterwards
		var txs []*sqlx.Tx
		for range 8 {
			tx, err := db.BeginTxx(ctx, nil)
			require.NoError(t, err)
			txs = append(txs, tx)
		}
		for _, tx := range txs {
			require.NoError(t, tx.Rollback())
		}
		require.Equal(t, 8, db.Stats().Idle, "the pool holds 8 idle connections")
	}
	for _, crash := range []bool{false, true} {
		fill()
		if crash {
			require.NoError(t, pg.Kill())
		}
		require.NoError(t, pg.Restart(ctx))
		for i := range 10 {
			require.NoError(t, pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
				_, err := tx.ExecContext(ctx, `SELECT 1`)
				return err
			}), "transaction %d after the restart (crash: %v)", i, crash)
		}
		fill()
		if crash {
			require.NoError(t, pg.Kill())
		}
		require.NoError(t, pg.Restart(ctx))
		for i := range 10 {
			var n int
			require.NoError(t, db.GetContext(ctx, &n, `SELECT 1`), "query %d after the restart (crash: %v)", i, crash)
		}
	}
}
