package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/services/billing/internal/domain/policy"
	"github.com/clinicops/clinicops/services/billing/seed"
)

// ErrNoPriceList: no price list of the program's protocol version applies
// on the date.
var ErrNoPriceList = errors.New("no price list applies")

// ErrNoPolicy: the program has no cancellation policy.
var ErrNoPolicy = errors.New("no cancellation policy")

const (
	selectPriceList = `SELECT definition FROM price_lists WHERE program = $1 AND protocol_version = $2
		AND valid_from <= $3 ORDER BY valid_from DESC LIMIT 1`
	selectPolicy         = `SELECT definition FROM cancellation_policies WHERE program = $1`
	insertPriceListIfNew = `INSERT INTO price_lists (program, protocol_version, valid_from, definition, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`
	insertPolicyIfNew    = `INSERT INTO cancellation_policies (program, definition, updated_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`
)

// Reference reads the clinic's price lists and cancellation policies.
type Reference struct{ Q sqlx.QueryerContext }

// PriceList returns the program's price list for the protocol version that
// applies on date (midnight UTC of the clinic's date).
func (r Reference) PriceList(ctx context.Context, program, version string, date time.Time) (policy.PriceList, error) {
	var def []byte
	if err := sqlx.GetContext(ctx, r.Q, &def, selectPriceList, program, version, date); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return policy.PriceList{}, fmt.Errorf("%s %s on %s: %w", program, version, date.Format(time.DateOnly), ErrNoPriceList)
		}
		return policy.PriceList{}, fmt.Errorf("price list %s %s: %w", program, version, err)
	}
	var pj seed.PriceListJSON
	if err := json.Unmarshal(def, &pj); err != nil {
		return policy.PriceList{}, fmt.Errorf("price list %s %s: %w", program, version, err)
	}
	pl, err := pj.ToDomain()
	if err != nil {
		return policy.PriceList{}, err
	}
	if !pl.ValidOn(date) {
		return policy.PriceList{}, fmt.Errorf("%s %s on %s: %w", program, version, date.Format(time.DateOnly), ErrNoPriceList)
	}
	return pl, nil
}

// Policy returns the program's cancellation policy.
func (r Reference) Policy(ctx context.Context, program string) (policy.CancellationPolicy, error) {
	var def []byte
	if err := sqlx.GetContext(ctx, r.Q, &def, selectPolicy, program); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return policy.CancellationPolicy{}, fmt.Errorf("%s: %w", program, ErrNoPolicy)
		}
		return policy.CancellationPolicy{}, fmt.Errorf("policy %s: %w", program, err)
	}
	var pj seed.CancellationPolicyJSON
	if err := json.Unmarshal(def, &pj); err != nil {
		return policy.CancellationPolicy{}, fmt.Errorf("policy %s: %w", program, err)
	}
	return pj.ToDomain()
}

// Seed stores the demo price lists and policies the clinic does not have
// yet; it never overwrites the clinic's own edits, so it can run at every
// start.
func Seed(ctx context.Context, db *sqlx.DB, now time.Time) error {
	data, err := seed.Reference()
	if err != nil {
		return err
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, p := range data.PriceLists {
		if _, err := p.ToDomain(); err != nil {
			return err
		}
		def, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertPriceListIfNew, p.Program, p.ProtocolVersion, p.ValidFrom, def, now); err != nil {
			return fmt.Errorf("seed price list %s: %w", p.Program, err)
		}
	}
	for _, p := range data.CancellationPolicies {
		if _, err := p.ToDomain(); err != nil {
			return err
		}
		def, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertPolicyIfNew, p.Program, def, now); err != nil {
			return fmt.Errorf("seed policy %s: %w", p.Program, err)
		}
	}
	return tx.Commit()
}
