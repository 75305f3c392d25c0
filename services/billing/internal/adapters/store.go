package adapters

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/messaging"
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

// Do runs fn in one transaction and commits when it returns nil. A request
// with an Idempotency-Key under idempotency.WrapTx claims its key first in
// that transaction and stores its answer last (rendered by the handler's
// idempotency.RenderWith), so a keyed write is one commit and a concurrent
// retry waits on the key, then replays the answer; without a key both are
// no-ops.
func (s *Store) Do(ctx context.Context, fn func(app.Repositories) error) error {
	return idempotency.InTx(ctx, s.DB, func(tx *sqlx.Tx) (any, error) {
		return answered{}, fn(s.Tx(tx))
	})
}

// answered is what Do hands idempotency.AnswerTx: the handler's renderer
// reads the use case's result from its own closure.
type answered = struct{}
