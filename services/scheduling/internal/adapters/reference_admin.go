package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
	"github.com/clinicops/clinicops/services/scheduling/seed"
)

// ReferenceAdmin writes the clinic's reference data for the admin API. The
// callers validate (seed.ProtocolJSON.ToDomain, calendar.Validate); the
// database's keys and checks are the last word on duplicates.
type ReferenceAdmin struct {
	DB *sqlx.DB
}

var _ app.ReferenceAdmin = ReferenceAdmin{}

const (
	// lockProtocol takes the version's row, so that two PUTs of one new
	// version serialise on the insert's key and a PUT cannot interleave
	// with the check below.
	lockProtocol = `SELECT 1 FROM protocols WHERE program = $1 AND version = $2 FOR UPDATE`
	// protocolInUse: a course planned with the version keeps a copy, but
	// the version's meaning must not change under the course's feet.
	protocolInUse  = `SELECT EXISTS (SELECT 1 FROM courses WHERE program = $1 AND protocol_version = $2)`
	upsertProtocol = `INSERT INTO protocols (program, version, definition, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (program, version) DO UPDATE SET definition = EXCLUDED.definition, updated_at = EXCLUDED.updated_at`
	insertResource = `INSERT INTO resources (id, kind, name, active, updated_at) VALUES (:id, :kind, :name, :active, :updated_at)`
	patchResource  = `UPDATE resources SET name = COALESCE($2, name), active = COALESCE($3, active), updated_at = $4
		WHERE id = $1 RETURNING id, kind, name, active, updated_at`
	deleteHours   = `DELETE FROM opening_hours`
	insertHours   = `INSERT INTO opening_hours (weekday, opens_at, closes_at) VALUES ($1, $2, $3)`
	insertClosure = `INSERT INTO closures (day, reason) VALUES ($1, $2)`
	deleteClosure = `DELETE FROM closures WHERE day = $1`
)

// PutProtocol stores p unless a course was planned with its version.
func (a ReferenceAdmin) PutProtocol(ctx context.Context, p protocol.Protocol, now time.Time) (bool, error) {
	def, err := json.Marshal(seed.FromProtocol(p))
	if err != nil {
		return false, fmt.Errorf("protocol definition: %w", err)
	}
	created := false
	err = pgdb.InTx(ctx, a.DB, nil, func(tx *sqlx.Tx) error {
		var one int
		switch err := tx.GetContext(ctx, &one, lockProtocol, p.Program, p.Version); {
		case errors.Is(err, sql.ErrNoRows):
			created = true
		case err != nil:
			return fmt.Errorf("lock protocol: %w", err)
		}
		var inUse bool
		if err := tx.GetContext(ctx, &inUse, protocolInUse, p.Program, p.Version); err != nil {
			return fmt.Errorf("protocol in use: %w", err)
		}
		if inUse {
			return app.ErrProtocolInUse
		}
		if _, err := tx.ExecContext(ctx, upsertProtocol, p.Program, p.Version, def, now.UTC()); err != nil {
			return fmt.Errorf("store protocol: %w", err)
		}
		return nil
	})
	return created, err
}

// AddResource adds r. A request with an Idempotency-Key under
// idempotency.WrapTx claims its key first in the insert's transaction and
// stores its answer (rendered from r) last, so a concurrent retry waits,
// then replays it; idempotency.ErrKeyTaken is returned as it is.
func (a ReferenceAdmin) AddResource(ctx context.Context, r app.ResourceView) error {
	row := resourceViewRow{ID: r.ID, Kind: r.Kind, Name: r.Name, Active: r.Active, UpdatedAt: r.UpdatedAt.UTC()}
	return idempotency.InTx(ctx, a.DB, func(tx *sqlx.Tx) (any, error) {
		if _, err := tx.NamedExecContext(ctx, insertResource, row); err != nil {
			if uniqueViolation(err) {
				return nil, app.ErrResourceNameTaken
			}
			return nil, fmt.Errorf("add resource: %w", err)
		}
		return r, nil
	})
}

// PatchResource renames or (de)activates a resource.
func (a ReferenceAdmin) PatchResource(ctx context.Context, id uuid.UUID, name *string, active *bool, now time.Time) (app.ResourceView, error) {
	var row resourceViewRow
	if err := a.DB.GetContext(ctx, &row, patchResource, id, name, active, now.UTC()); err != nil {
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return app.ResourceView{}, app.ErrNoResource
		case uniqueViolation(err):
			return app.ResourceView{}, app.ErrResourceNameTaken
		}
		return app.ResourceView{}, fmt.Errorf("patch resource %s: %w", id, err)
	}
	return toResourceView(row), nil
}

// ReplaceHours replaces the weekly opening hours in one transaction.
func (a ReferenceAdmin) ReplaceHours(ctx context.Context, hours []calendar.Hours) error {
	return pgdb.InTx(ctx, a.DB, nil, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, deleteHours); err != nil {
			return fmt.Errorf("clear opening hours: %w", err)
		}
		for _, h := range hours {
			if _, err := tx.ExecContext(ctx, insertHours, int(h.Weekday), int(h.Open), int(h.Close)); err != nil {
				return fmt.Errorf("store opening hours: %w", err)
			}
		}
		return nil
	})
}

// AddClosure closes a day; a keyed request claims its key and stores its
// answer (rendered from c) in the insert's transaction, as AddResource does.
func (a ReferenceAdmin) AddClosure(ctx context.Context, c calendar.Closure) error {
	return idempotency.InTx(ctx, a.DB, func(tx *sqlx.Tx) (any, error) {
		if _, err := tx.ExecContext(ctx, insertClosure, c.Date.Format(time.DateOnly), c.Reason); err != nil {
			if uniqueViolation(err) {
				return nil, app.ErrClosureExists
			}
			return nil, fmt.Errorf("add closure: %w", err)
		}
		return c, nil
	})
}

// DeleteClosure reopens a day.
func (a ReferenceAdmin) DeleteClosure(ctx context.Context, day time.Time) error {
	res, err := a.DB.ExecContext(ctx, deleteClosure, day.Format(time.DateOnly))
	if err != nil {
		return fmt.Errorf("delete closure: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete closure: %w", err)
	}
	if n == 0 {
		return app.ErrNoClosure
	}
	return nil
}

func uniqueViolation(err error) bool {
	return errors.Is(pgdb.MapError(err), pgdb.ErrUniqueViolation)
}
