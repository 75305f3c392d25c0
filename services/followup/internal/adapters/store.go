package adapters

import (
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/services/followup/internal/app"
)

// Store is followup's database with what its transactions write besides
// rows: the outbox and durable jobs.
type Store struct {
	DB     *sqlx.DB
	Outbox *messaging.Outbox
	// Jobs inserts reminder jobs in the transaction; set once the job
	// client exists.
	Jobs *jobs.Client
	// Now is the process clock (default the system's).
	Now func() time.Time
}

// Tx returns the repositories bound to tx, an event handler's transaction.
func (s *Store) Tx(tx *sqlx.Tx) app.Repositories { return txRepositories{tx: tx, s: s} }

func (r txRepositories) Visits() app.VisitWriter { return visitsTx(r) }

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now()
}

// uuidArray passes ids as a Postgres uuid[] parameter.
func uuidArray(ids []uuid.UUID) any {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return pq.Array(s)
}
