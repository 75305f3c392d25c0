package adapters

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
)

// Store is scheduling's database: it binds the repositories to a
// transaction, for an event handler (Tx) or a request or job (Do).
type Store struct {
	DB     *sqlx.DB
	Outbox *messaging.Outbox
	// Jobs inserts durable jobs in the transaction; set once the job
	// client exists (the workers need the store first).
	Jobs *jobs.Client
	// Config is what the repositories need of the service's configuration.
	Config app.Config
}

var _ app.UnitOfWork = (*Store)(nil)

// Tx returns the repositories bound to tx, an event handler's transaction.
func (s *Store) Tx(tx *sqlx.Tx) app.Repositories { return txRepositories{s: s, tx: tx} }

// Do runs fn in one transaction and commits when it returns nil. A
// transaction Postgres aborted as a deadlock victim or a serialization
// failure is run again, from the start, a few times: fn reads everything
// it changes inside the transaction, so running it again is safe.
//
// A request with an Idempotency-Key under idempotency.WrapTx claims its key
// first in each attempt's transaction and stores its answer last (rendered
// by the handler's idempotency.RenderWith), so a keyed write is one commit:
// a concurrent retry with the same key waits on the key before doing any
// work, then replays the answer. The claim is in the attempt's
// transaction, so a rolled-back attempt releases it with everything else.
// A retry that finds the key answered gets idempotency.ErrKeyTaken,
// returned as it is (WrapTx replays the answer). Without a key both are
// no-ops.
func (s *Store) Do(ctx context.Context, fn func(app.Repositories) error) error {
	const attempts = 3
	for attempt := 1; ; attempt++ {
		err := idempotency.InTx(ctx, s.DB, func(tx *sqlx.Tx) (any, error) {
			return answered{}, fn(s.Tx(tx))
		})
		var conflict *app.ConflictError
		if errors.As(err, &conflict) && conflict.With.ID == uuid.Nil && conflict.Refused.ID != uuid.Nil {
			// Best effort: the refusal stands even when what it collides
			// with cannot be read.
			_ = nameCollision(ctx, s.DB, conflict)
		}
		if attempt == attempts || !errors.Is(pgdb.MapError(err), pgdb.ErrSerialization) {
			return err
		}
	}
}

// answered is what Do hands idempotency.AnswerTx: the handler's renderer
// reads the use case's result from its own closure, set by then.
type answered = struct{}

type txRepositories struct {
	s  *Store
	tx *sqlx.Tx
}

func (r txRepositories) Patients() app.PatientWriter    { return patientsTx{tx: r.tx} }
func (r txRepositories) Courses() app.Courses           { return courses(r) }
func (r txRepositories) Appointments() app.Appointments { return appointments(r) }
func (r txRepositories) Products() app.Products         { return products(r) }
func (r txRepositories) Reference() app.Reference {
	return reference{q: r.tx, loc: r.s.Config.Location}
}
func (r txRepositories) Jobs() app.Jobs               { return jobsTx(r) }
func (r txRepositories) Withdrawals() app.Withdrawals { return withdrawals(r) }

// savepoint runs fn inside a savepoint of tx, so that a statement the
// database refuses (an exclusion violation) rolls back fn's writes only
// and leaves the transaction usable: the caller can tell the client what
// collided, or try another slot.
func savepoint(ctx context.Context, tx *sqlx.Tx, fn func() error) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT booking"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(); err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT booking"); rerr != nil {
			return fmt.Errorf("%w (and rolling back to the savepoint: %v)", err, rerr)
		}
		return err
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT booking"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}
