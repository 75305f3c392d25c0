package pgdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Statements runs a hot path's statements prepared, in the caller's
// transaction.
//
// Why: lib/pq runs a statement with arguments as an unnamed prepare and then
// an execute, so PostgreSQL parses and plans it again on every call. On
// followup's sender (about ten statements a reminder) planning cost the
// database as much as executing (pg_stat_statements over 20,000 reminders).
// database/sql already keeps a statement prepared per pooled connection and
// reuses it inside a transaction on that connection (Tx.StmtContext); this
// type only holds the *sql.Stmt per query text, so it is a map, not a
// library.
//
// The statements are prepared by Prepare, at start, before the pool is busy:
// DB.Prepare takes a connection of its own, and doing that from inside a
// transaction could wait forever on a pool whose every connection is held by
// a transaction doing the same. Later connections prepare on first use,
// through the transaction's own connection. A query not given to Prepare
// runs unprepared.
type Statements struct {
	m map[string]*sqlx.Stmt
}

// Prepare prepares queries on db.
func Prepare(ctx context.Context, db *sqlx.DB, queries ...string) (*Statements, error) {
	s := &Statements{m: make(map[string]*sqlx.Stmt, len(queries))}
	for _, q := range queries {
		if _, ok := s.m[q]; ok {
			continue
		}
		st, err := db.PreparexContext(ctx, q)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("prepare %.60q: %w", q, err), s.Close())
		}
		s.m[q] = st
	}
	return s, nil
}

// Get runs query in tx and scans its one row into dest (sql.ErrNoRows when
// there is none).
func (s *Statements) Get(ctx context.Context, tx *sqlx.Tx, dest any, query string, args ...any) error {
	if st := s.in(ctx, tx, query); st != nil {
		return st.GetContext(ctx, dest, args...)
	}
	return tx.GetContext(ctx, dest, query, args...)
}

// Select runs query in tx and scans its rows into dest, a slice.
func (s *Statements) Select(ctx context.Context, tx *sqlx.Tx, dest any, query string, args ...any) error {
	if st := s.in(ctx, tx, query); st != nil {
		return st.SelectContext(ctx, dest, args...)
	}
	return tx.SelectContext(ctx, dest, query, args...)
}

// Exec runs query in tx.
func (s *Statements) Exec(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.in(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// in is query's statement bound to tx, nil when query was not prepared (or
// s is nil).
func (s *Statements) in(ctx context.Context, tx *sqlx.Tx, query string) *sqlx.Stmt {
	if s == nil {
		return nil
	}
	st, ok := s.m[query]
	if !ok {
		return nil
	}
	return tx.StmtxContext(ctx, st)
}

// Close releases the statements on every connection.
func (s *Statements) Close() error {
	var errs []error
	for _, st := range s.m {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}
