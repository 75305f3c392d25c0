package pgdb_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/testharness"
)

func TestMain(m *testing.M) { testharness.Main(m) }

var things = pgdb.MigrationSource{Name: "app", FS: fstest.MapFS{
	"0001_things.up.sql": {Data: []byte(`CREATE TABLE things (id int PRIMARY KEY);`)},
}, Dir: "."}

// TestAfterCommit: hooks run after a commit, in order, and see the
// committed row from another connection; they never run after a rollback, a
// failed commit or a panic; a transaction InTx did not begin takes no hook;
// no entry outlives its InTx. Not parallel: it counts the process's open
// hook entries.
func TestAfterCommit(t *testing.T) {
	db, _ := testharness.DB(t, things)
	ctx := context.Background()
	countThings := func() int {
		var n int
		require.NoError(t, db.Get(&n, `SELECT count(*) FROM things`))
		return n
	}

	// Committed: both hooks run, in order, once the row is visible to others.
	var ran []int
	var seen []int
	err := pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO things VALUES (1)`)
		require.True(t, pgdb.AfterCommit(tx, func() { ran = append(ran, 1); seen = append(seen, countThings()) }))
		require.True(t, pgdb.AfterCommit(tx, func() { ran = append(ran, 2) }))
		require.Empty(t, ran, "nothing runs before the commit")
		return err
	})
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, ran)
	require.Equal(t, []int{1}, seen, "the hook sees the committed row from another connection")

	// Rolled back by an error: no hook.
	poked := 0
	errNo := errors.New("roll back on purpose")
	err = pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO things VALUES (2)`)
		require.NoError(t, err)
		require.True(t, pgdb.AfterCommit(tx, func() { poked++ }))
		return errNo
	})
	require.ErrorIs(t, err, errNo)

	// Commit fails (deferred constraint violated at COMMIT): no hook.
	_, err = db.Exec(`CREATE TABLE refs (id int PRIMARY KEY REFERENCES things DEFERRABLE INITIALLY DEFERRED)`)
	require.NoError(t, err)
	err = pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO refs VALUES (42)`) // no thing 42: fails at COMMIT
		require.True(t, pgdb.AfterCommit(tx, func() { poked++ }))
		return err
	})
	require.ErrorContains(t, err, "commit")

	// Panic: rolled back, no hook, the panic goes on.
	require.Panics(t, func() {
		_ = pgdb.InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
			require.True(t, pgdb.AfterCommit(tx, func() { poked++ }))
			panic("on purpose")
		})
	})
	require.Zero(t, poked, "no hook after a rollback, a failed commit or a panic")
	require.Equal(t, 1, countThings())

	// A transaction InTx did not begin takes no hook (and holds no entry).
	tx, err := db.Beginx()
	require.NoError(t, err)
	require.False(t, pgdb.AfterCommit(tx, func() { poked++ }))
	require.NoError(t, tx.Commit())
	require.Zero(t, poked)
	require.Zero(t, pgdb.OpenHooks(), "no entry outlives its InTx")
}
