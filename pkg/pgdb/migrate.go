package pgdb

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// MigrationSource is a named set of numbered migrations in an embed.FS:
// files NNNN_description.up.sql directly under Dir. Several sources can share
// a database (the platform tables from pkg/messaging, then the service's own);
// each keeps its own version line.
type MigrationSource struct {
	// Name identifies the source in schema_migrations (e.g. "platform", "intake").
	Name string
	FS   fs.FS
	// Dir is the folder inside FS ("." for the root).
	Dir string
}

type migration struct {
	version int
	name    string
	sql     string
}

const (
	createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
		source     text        NOT NULL,
		version    integer     NOT NULL,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (source, version))`
	// migrationLock serialises migrators of one database (replicas starting together).
	migrationLock        = `SELECT pg_advisory_xact_lock(7246150)` // LockMigrations
	selectAppliedVersion = `SELECT COALESCE(max(version), 0) FROM schema_migrations WHERE source = $1`
	insertMigration      = `INSERT INTO schema_migrations (source, version, name) VALUES ($1, $2, $3)`
)

// Migrate applies, in order and each in its own transaction, every migration
// of every source that the database has not seen yet.
func Migrate(ctx context.Context, db *sqlx.DB, sources ...MigrationSource) error {
	if _, err := db.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, src := range sources {
		migs, err := readMigrations(src)
		if err != nil {
			return err
		}
		for _, m := range migs {
			err := InTx(ctx, db, nil, func(tx *sqlx.Tx) error {
				if _, err := tx.ExecContext(ctx, migrationLock); err != nil {
					return err
				}
				var applied int
				if err := tx.GetContext(ctx, &applied, selectAppliedVersion, src.Name); err != nil {
					return err
				}
				if m.version <= applied {
					return nil
				}
				if _, err := tx.ExecContext(ctx, m.sql); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, insertMigration, src.Name, m.version, m.name)
				return err
			})
			if err != nil {
				return fmt.Errorf("migration %s/%04d_%s: %w", src.Name, m.version, m.name, err)
			}
		}
	}
	return nil
}

func readMigrations(src MigrationSource) ([]migration, error) {
	dir := src.Dir
	if dir == "" {
		dir = "."
	}
	entries, err := fs.ReadDir(src.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations %s: %w", src.Name, err)
	}
	var migs []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".up.sql") {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ".up.sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must be NNNN_description.up.sql", src.Name, e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s: %s and %s share version %d", src.Name, prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(src.FS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s/%s: %w", src.Name, e.Name(), err)
		}
		migs = append(migs, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	return migs, nil
}
