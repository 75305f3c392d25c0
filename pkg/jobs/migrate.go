package jobs

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/clinicops/clinicops/pkg/pgdb"
)

// migrateLock serialises River migrators of one database: rivermigrate takes
// no lock of its own, and replicas of a service start together. Its key is
// pgdb's list of the platform's lock keys.
const migrateLock = pgdb.LockJobsMigrations

// Migrate applies River's migrations (river_job, river_leader, river_queue,
// ...) to db, in the database's search_path schema. It is idempotent; every
// service that uses jobs calls it at start, before New.
func Migrate(ctx context.Context, db *sqlx.DB, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	migrator, err := rivermigrate.New(riverdatabasesql.New(db.DB), &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	// A session lock on a connection of its own: River applies its migrations
	// in several transactions through the pool, which a transaction-scoped lock
	// would not cover.
	conn, err := db.Connx(ctx)
	if err != nil {
		return fmt.Errorf("river migrations: connect: %w", err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("river migrations: lock: %w", err)
	}
	defer func() {
		// Unlock even if ctx is done; closing the connection would release it
		// too, but the pool may keep the connection open.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock)
	}()
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	for _, v := range res.Versions {
		log.Info("river migration applied", "version", v.Version, "name", v.Name)
	}
	return nil
}
