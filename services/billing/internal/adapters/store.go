package adapters

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/billing/internal/app"
)

// Store is billing's database: it binds the repositories to a
// transaction, for an event handler (Tx) or a request or job (Do).
type Store struct {
	DB     *sqlx.DB
	Outbox *messaging.Outbox
	// Jobs inserts durable jobs in the transaction; set once the job
	// client exists.
	Jobs *jobs.Client
}

var _ app.UnitOfWork = (*Store)(nil)

// Tx returns the repositories bound to tx, an event handler's transaction.
func (s *Store) Tx(tx *sqlx.Tx) app.Repositories { return txRepositories{tx: tx, s: s} }

// Do runs fn in one transaction and commits when it returns nil.
func (s *Store) Do(ctx context.Context, fn func(app.Repositories) error) error {
	return pgdb.InTx(ctx, s.DB, nil, func(tx *sqlx.Tx) error { return fn(s.Tx(tx)) })
}
