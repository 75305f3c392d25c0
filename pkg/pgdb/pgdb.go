// Package pgdb opens PostgreSQL pools, runs transactions without losing
// commit or rollback errors, applies embedded migrations and maps Postgres
// errors to sentinels that services turn into domain errors.
package pgdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// PoolConfig limits a connection pool.
type PoolConfig struct {
	// MaxOpenConns caps open connections (default 20).
	MaxOpenConns int
	// MaxIdleConns caps idle connections (default = MaxOpenConns).
	MaxIdleConns int
	// ConnMaxLifetime recycles connections (default 30 min).
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime closes idle connections (default 5 min).
	ConnMaxIdleTime time.Duration
}

// Open opens a pool with lib/pq and pings it until ctx expires.
func Open(ctx context.Context, dsn string, cfg PoolConfig) (*sqlx.DB, error) {
	if cfg.MaxOpenConns <= 0 {
		cfg.MaxOpenConns = 20
	}
	if cfg.MaxIdleConns <= 0 {
		cfg.MaxIdleConns = cfg.MaxOpenConns
	}
	if cfg.ConnMaxLifetime <= 0 {
		cfg.ConnMaxLifetime = 30 * time.Minute
	}
	if cfg.ConnMaxIdleTime <= 0 {
		cfg.ConnMaxIdleTime = 5 * time.Minute
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(cfg.MaxOpenConns)
	db.SetMaxIdleConns(cfg.MaxIdleConns)
	db.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	db.SetConnMaxIdleTime(cfg.ConnMaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("ping postgres: %w", err)
	}
	return db, nil
}

// InTx runs fn in a transaction. It commits when fn returns nil and rolls back
// otherwise. A failed commit or rollback is returned, never swallowed; a panic
// in fn rolls back and is re-raised. Functions registered with AfterCommit
// run after a successful commit, in order, before InTx returns.
func InTx(ctx context.Context, db *sqlx.DB, opts *sql.TxOptions, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin tx: %w", err)
	}
	hooks.begin(tx)
	defer func() {
		// Whatever happens, the tx's hooks are forgotten: run after a
		// commit, dropped after a rollback or a panic.
		after := hooks.end(tx)
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err == nil {
			for _, f := range after {
				f()
			}
		}
	}()
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// AfterCommit registers fn to run once tx has committed: it runs in the
// goroutine that called InTx, after the commit and before InTx returns, and
// never if the transaction rolls back or its commit fails. Work done there
// sees the transaction's rows (e.g. the outbox relay woken by
// messaging.Outbox.Publish); it must be quick and must not fail. It reports
// false, and registers nothing, when tx was not begun by InTx: the caller
// then needs another way (e.g. polling) to learn of the commit.
func AfterCommit(tx *sqlx.Tx, fn func()) bool {
	return hooks.add(tx, fn)
}

// hooks holds the AfterCommit functions of the transactions InTx has open,
// keyed by transaction. An entry exists exactly while InTx runs, so nothing
// leaks, whatever the outcome.
var hooks = txHooks{m: map[*sqlx.Tx][]func(){}}

type txHooks struct {
	mu sync.Mutex
	m  map[*sqlx.Tx][]func()
}

func (h *txHooks) begin(tx *sqlx.Tx) {
	h.mu.Lock()
	h.m[tx] = nil
	h.mu.Unlock()
}

func (h *txHooks) add(tx *sqlx.Tx, fn func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	fns, ok := h.m[tx]
	if !ok {
		return false
	}
	h.m[tx] = append(fns, fn)
	return true
}

func (h *txHooks) end(tx *sqlx.Tx) []func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	fns := h.m[tx]
	delete(h.m, tx)
	return fns
}

// Postgres error classes that services map to domain errors.
var (
	// ErrUniqueViolation is SQLSTATE 23505.
	ErrUniqueViolation = errors.New("unique violation")
	// ErrExclusionViolation is SQLSTATE 23P01 (e.g. an overlapping booking).
	ErrExclusionViolation = errors.New("exclusion violation")
	// ErrForeignKeyViolation is SQLSTATE 23503.
	ErrForeignKeyViolation = errors.New("foreign key violation")
	// ErrCheckViolation is SQLSTATE 23514.
	ErrCheckViolation = errors.New("check violation")
	// ErrSerialization is SQLSTATE 40001 or 40P01: the transaction may be retried.
	ErrSerialization = errors.New("serialization failure")
)

// ConstraintError is a mapped Postgres integrity error. It matches one of the
// sentinels above with errors.Is and names the violated constraint, so an
// adapter can tell "duplicate national id" from "duplicate idempotency key".
type ConstraintError struct {
	Kind       error
	Constraint string
	cause      error
}

func (e *ConstraintError) Error() string {
	return fmt.Sprintf("%v on %s", e.Kind, e.Constraint)
}

// Is lets errors.Is(err, pgdb.ErrUniqueViolation) match.
func (e *ConstraintError) Is(target error) bool { return target == e.Kind }

// Unwrap returns the driver error.
func (e *ConstraintError) Unwrap() error { return e.cause }

// MapError converts a lib/pq error into a *ConstraintError when it is one of
// the classes above; other errors are returned unchanged.
func MapError(err error) error {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return err
	}
	var kind error
	switch pqErr.Code {
	case "23505":
		kind = ErrUniqueViolation
	case "23P01":
		kind = ErrExclusionViolation
	case "23503":
		kind = ErrForeignKeyViolation
	case "23514":
		kind = ErrCheckViolation
	case "40001", "40P01":
		kind = ErrSerialization
	default:
		return err
	}
	return &ConstraintError{Kind: kind, Constraint: pqErr.Constraint, cause: err}
}
