package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
	"github.com/clinicops/clinicops/services/billing/seed"
)

// ReferenceAdmin stores the clinic's price lists and cancellation policies
// for the admin API. The callers validate (app.PriceLists, the domain's
// Validate); the database's keys are the last word on duplicates.
type ReferenceAdmin struct {
	DB *sqlx.DB
}

var _ app.ReferenceAdmin = ReferenceAdmin{}

// lockClassPriceLists is the first key of the two-key advisory lock an
// edit of one program and version's price lists takes (the second is a
// hash of program and version). Two-key locks never meet the platform's
// one-key ones (pgdb/locks.go).
const lockClassPriceLists = 7246160

const (
	lockPriceLists   = `SELECT pg_advisory_xact_lock($1::int, hashtext($2::text || '/' || $3::text))`
	selectPriceLists = `SELECT definition, updated_at FROM price_lists
		WHERE ($1 = '' OR program = $1) AND ($2 = '' OR protocol_version = $2)
		ORDER BY program, protocol_version, valid_from`
	selectPriceListFrom = `SELECT definition, updated_at FROM price_lists
		WHERE program = $1 AND protocol_version = $2 AND valid_from = $3`
	insertPriceList = `INSERT INTO price_lists (program, protocol_version, valid_from, definition, updated_at)
		VALUES ($1, $2, $3, $4, $5)`
	// closePriceList writes the list's end and nothing else: its prices
	// are never rewritten in place.
	closePriceList = `UPDATE price_lists SET definition = jsonb_set(definition, '{valid_to}', to_jsonb($4::text)), updated_at = $5
		WHERE program = $1 AND protocol_version = $2 AND valid_from = $3`
	selectPolicies   = `SELECT definition, updated_at FROM cancellation_policies ORDER BY program`
	selectPolicyRow  = `SELECT definition, updated_at FROM cancellation_policies WHERE program = $1`
	lockPolicy       = `SELECT 1 FROM cancellation_policies WHERE program = $1 FOR UPDATE`
	programPriceList = `SELECT EXISTS (SELECT 1 FROM price_lists WHERE program = $1)`
	upsertPolicy     = `INSERT INTO cancellation_policies (program, definition, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (program) DO UPDATE SET definition = EXCLUDED.definition, updated_at = EXCLUDED.updated_at`
)

type definitionRow struct {
	Definition []byte    `db:"definition"`
	UpdatedAt  time.Time `db:"updated_at"`
}

func toStoredPriceList(r definitionRow) (app.StoredPriceList, error) {
	var pj seed.PriceListJSON
	if err := json.Unmarshal(r.Definition, &pj); err != nil {
		return app.StoredPriceList{}, fmt.Errorf("price list definition: %w", err)
	}
	pl, err := pj.ToDomain()
	if err != nil {
		return app.StoredPriceList{}, fmt.Errorf("stored price list %s/%s: %w", pj.Program, pj.ProtocolVersion, err)
	}
	return app.StoredPriceList{PriceList: pl, UpdatedAt: r.UpdatedAt.UTC()}, nil
}

func toStoredPolicy(r definitionRow) (app.StoredPolicy, error) {
	var pj seed.CancellationPolicyJSON
	if err := json.Unmarshal(r.Definition, &pj); err != nil {
		return app.StoredPolicy{}, fmt.Errorf("policy definition: %w", err)
	}
	p, err := pj.ToDomain()
	if err != nil {
		return app.StoredPolicy{}, fmt.Errorf("stored policy %s: %w", pj.Program, err)
	}
	return app.StoredPolicy{CancellationPolicy: p, UpdatedAt: r.UpdatedAt.UTC()}, nil
}

func priceLists(ctx context.Context, q sqlx.QueryerContext, program, version string) ([]app.StoredPriceList, error) {
	var rows []definitionRow
	if err := sqlx.SelectContext(ctx, q, &rows, selectPriceLists, program, version); err != nil {
		return nil, fmt.Errorf("price lists: %w", err)
	}
	out := make([]app.StoredPriceList, 0, len(rows))
	for _, r := range rows {
		s, err := toStoredPriceList(r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// PriceLists lists the stored price lists.
func (a ReferenceAdmin) PriceLists(ctx context.Context, program, version string) ([]app.StoredPriceList, error) {
	return priceLists(ctx, a.DB, program, version)
}

// PriceList is one stored price list, by its key.
func (a ReferenceAdmin) PriceList(ctx context.Context, program, version string, validFrom time.Time) (app.StoredPriceList, error) {
	var r definitionRow
	if err := a.DB.GetContext(ctx, &r, selectPriceListFrom, program, version, validFrom.Format(time.DateOnly)); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return app.StoredPriceList{}, fmt.Errorf("%s/%s from %s: %w", program, version, validFrom.Format(time.DateOnly), app.ErrUnknownPriceList)
		}
		return app.StoredPriceList{}, fmt.Errorf("price list %s/%s: %w", program, version, err)
	}
	return toStoredPriceList(r)
}

// EditPriceLists runs edit on the program and version's lists under their
// lock, stores its result and returns the lists as stored then. A request
// with an Idempotency-Key (idempotency.WrapTx) claims it first, before the
// lock, so that a concurrent retry waits on the key and then replays the
// first answer instead of editing again, and stores its answer last: one
// commit. Without a key both are no-ops.
func (a ReferenceAdmin) EditPriceLists(ctx context.Context, program, version string, now time.Time,
	edit func([]policy.PriceList) (app.PriceListEdit, error)) ([]app.StoredPriceList, error) {
	var after []app.StoredPriceList
	err := idempotency.InTx(ctx, a.DB, func(tx *sqlx.Tx) (any, error) {
		if _, err := tx.ExecContext(ctx, lockPriceLists, lockClassPriceLists, program, version); err != nil {
			return nil, fmt.Errorf("lock price lists %s/%s: %w", program, version, err)
		}
		stored, err := priceLists(ctx, tx, program, version)
		if err != nil {
			return nil, err
		}
		lists := make([]policy.PriceList, len(stored))
		for i, s := range stored {
			lists[i] = s.PriceList
		}
		e, err := edit(lists)
		if err != nil {
			return nil, err
		}
		for _, c := range e.Close {
			if c.Program != program || c.ProtocolVersion != version || c.ValidTo.IsZero() {
				return nil, fmt.Errorf("close %s/%s from %s under the lock of %s/%s: %w", c.Program, c.ProtocolVersion,
					c.ValidFrom.Format(time.DateOnly), program, version, policy.ErrInvalid)
			}
			res, err := tx.ExecContext(ctx, closePriceList, program, version, c.ValidFrom.Format(time.DateOnly),
				c.ValidTo.Format(time.DateOnly), now.UTC())
			if err != nil {
				return nil, fmt.Errorf("close price list %s/%s: %w", program, version, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, fmt.Errorf("close price list %s/%s: %w", program, version, err)
			}
			if n != 1 {
				return nil, fmt.Errorf("close price list %s/%s from %s: %w", program, version, c.ValidFrom.Format(time.DateOnly), app.ErrUnknownPriceList)
			}
		}
		if pl := e.Add; pl != nil {
			if pl.Program != program || pl.ProtocolVersion != version {
				return nil, fmt.Errorf("add %s/%s under the lock of %s/%s: %w", pl.Program, pl.ProtocolVersion, program, version, policy.ErrInvalid)
			}
			def, err := json.Marshal(seed.FromPriceList(*pl))
			if err != nil {
				return nil, fmt.Errorf("price list definition: %w", err)
			}
			if _, err := tx.ExecContext(ctx, insertPriceList, program, version, pl.ValidFrom.Format(time.DateOnly), def, now.UTC()); err != nil {
				if uniqueViolation(err) {
					// Only a list stored without the lock (the seed) gets here.
					return nil, fmt.Errorf("a list from %s exists: %w", pl.ValidFrom.Format(time.DateOnly), policy.ErrOverlap)
				}
				return nil, fmt.Errorf("add price list %s/%s: %w", program, version, err)
			}
		}
		// Read back in the transaction: the answer shows the lists as
		// stored (their update time to the database's precision).
		if after, err = priceLists(ctx, tx, program, version); err != nil {
			return nil, err
		}
		return after, nil
	})
	if err != nil {
		return nil, err
	}
	return after, nil
}

// Policies lists the stored cancellation policies.
func (a ReferenceAdmin) Policies(ctx context.Context) ([]app.StoredPolicy, error) {
	var rows []definitionRow
	if err := a.DB.SelectContext(ctx, &rows, selectPolicies); err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	out := make([]app.StoredPolicy, 0, len(rows))
	for _, r := range rows {
		p, err := toStoredPolicy(r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Policy is the program's stored cancellation policy.
func (a ReferenceAdmin) Policy(ctx context.Context, program string) (app.StoredPolicy, error) {
	var r definitionRow
	if err := a.DB.GetContext(ctx, &r, selectPolicyRow, program); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return app.StoredPolicy{}, fmt.Errorf("%s: %w", program, app.ErrUnknownPolicy)
		}
		return app.StoredPolicy{}, fmt.Errorf("policy %s: %w", program, err)
	}
	return toStoredPolicy(r)
}

// PutPolicy stores p as its program's policy, replacing the one before.
func (a ReferenceAdmin) PutPolicy(ctx context.Context, p policy.CancellationPolicy, now time.Time) (bool, error) {
	def, err := json.Marshal(seed.FromPolicy(p))
	if err != nil {
		return false, fmt.Errorf("policy definition: %w", err)
	}
	created := false
	err = pgdb.InTx(ctx, a.DB, nil, func(tx *sqlx.Tx) error {
		var one int
		switch err := tx.GetContext(ctx, &one, lockPolicy, p.Program); {
		case errors.Is(err, sql.ErrNoRows):
			created = true
		case err != nil:
			return fmt.Errorf("lock policy: %w", err)
		}
		var priced bool
		if err := tx.GetContext(ctx, &priced, programPriceList, p.Program); err != nil {
			return fmt.Errorf("program's price lists: %w", err)
		}
		if !priced {
			return fmt.Errorf("%s: %w", p.Program, app.ErrUnknownProgram)
		}
		if _, err := tx.ExecContext(ctx, upsertPolicy, p.Program, def, now.UTC()); err != nil {
			return fmt.Errorf("store policy %s: %w", p.Program, err)
		}
		return nil
	})
	return created, err
}

func uniqueViolation(err error) bool {
	return errors.Is(pgdb.MapError(err), pgdb.ErrUniqueViolation)
}
