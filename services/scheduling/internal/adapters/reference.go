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

	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/plan"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
	"github.com/clinicops/clinicops/services/scheduling/seed"
)

// reference reads the clinic's data inside a transaction (app.Reference).
type reference struct {
	q   sqlx.QueryerContext
	loc *time.Location
}

var _ app.Reference = reference{}

const (
	selectProtocol  = `SELECT definition FROM protocols WHERE program = $1 AND version = $2`
	selectResources = `SELECT id, kind FROM resources WHERE active ORDER BY kind, name`
	selectResource  = `SELECT id, kind FROM resources WHERE id = $1 AND active`
	// selectCalendar reads the hours and the closures in one round trip.
	selectCalendar = `SELECT 'h' AS what, weekday, opens_at, closes_at, NULL::date AS day, '' AS reason FROM opening_hours
		UNION ALL SELECT 'c', 0, 0, 0, day, reason FROM closures ORDER BY 1, 2, 3, 5`
	insertProtocolIfNew = `INSERT INTO protocols (program, version, definition, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (program, version) DO NOTHING`
	insertResourceIfNew = `INSERT INTO resources (id, kind, name, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO NOTHING`
	insertHoursIfNone = `INSERT INTO opening_hours (weekday, opens_at, closes_at)
		SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM opening_hours WHERE weekday = $1)`
	insertClosureIfNew = `INSERT INTO closures (day, reason) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING`
)

type resourceRow struct {
	ID   uuid.UUID `db:"id"`
	Kind string    `db:"kind"`
}

// Protocol returns a program's protocol version.
func (r reference) Protocol(ctx context.Context, program, version string) (protocol.Protocol, error) {
	var def []byte
	if err := sqlx.GetContext(ctx, r.q, &def, selectProtocol, program, version); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return protocol.Protocol{}, app.ErrNoProtocol
		}
		return protocol.Protocol{}, fmt.Errorf("protocol %s %s: %w", program, version, err)
	}
	var pj seed.ProtocolJSON
	if err := json.Unmarshal(def, &pj); err != nil {
		return protocol.Protocol{}, fmt.Errorf("protocol %s %s: %w", program, version, err)
	}
	return pj.ToDomain()
}

// Calendar is the clinic's opening hours and closures in its zone.
func (r reference) Calendar(ctx context.Context) (calendar.Calendar, error) {
	cal := calendar.Calendar{Location: r.loc}
	var rows []struct {
		What    string       `db:"what"`
		Weekday int          `db:"weekday"`
		Opens   int          `db:"opens_at"`
		Closes  int          `db:"closes_at"`
		Day     sql.NullTime `db:"day"`
		Reason  string       `db:"reason"`
	}
	if err := sqlx.SelectContext(ctx, r.q, &rows, selectCalendar); err != nil {
		return cal, fmt.Errorf("calendar: %w", err)
	}
	for _, row := range rows {
		if row.What == "h" {
			cal.Hours = append(cal.Hours, calendar.Hours{Weekday: time.Weekday(row.Weekday), Open: calendar.TimeOfDay(row.Opens), Close: calendar.TimeOfDay(row.Closes)})
			continue
		}
		cal.Closures = append(cal.Closures, calendar.Closure{Date: row.Day.Time.UTC(), Reason: row.Reason})
	}
	return cal, nil
}

// Resources returns the active resources.
func (r reference) Resources(ctx context.Context) ([]plan.Resource, error) {
	var rows []resourceRow
	if err := sqlx.SelectContext(ctx, r.q, &rows, selectResources); err != nil {
		return nil, fmt.Errorf("resources: %w", err)
	}
	out := make([]plan.Resource, len(rows))
	for i, row := range rows {
		out[i] = plan.Resource{ID: row.ID, Kind: protocol.ResourceKind(row.Kind)}
	}
	return out, nil
}

// Resource returns one active resource.
func (r reference) Resource(ctx context.Context, id uuid.UUID) (plan.Resource, error) {
	var row resourceRow
	if err := sqlx.GetContext(ctx, r.q, &row, selectResource, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return plan.Resource{}, app.ErrNoResource
		}
		return plan.Resource{}, fmt.Errorf("resource %s: %w", id, err)
	}
	return plan.Resource{ID: row.ID, Kind: protocol.ResourceKind(row.Kind)}, nil
}

// Seed stores the demo reference data the clinic does not have yet; it
// never overwrites the clinic's own edits, so it can run at every start.
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
	for _, p := range data.Protocols {
		if _, err := p.ToDomain(); err != nil {
			return fmt.Errorf("seed protocol %s %s: %w", p.Program, p.Version, err)
		}
		def, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertProtocolIfNew, p.Program, p.Version, def, now); err != nil {
			return fmt.Errorf("seed protocol %s: %w", p.Program, err)
		}
	}
	for _, res := range data.Resources {
		for i := 1; i <= max(res.Count, 1); i++ {
			name := fmt.Sprintf("%s %d", res.Name, i)
			// A name-derived id: the same demo resource has the same id
			// in every clinic database, which keeps demo scripts short.
			id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("clinicops:resource:"+name))
			if _, err := tx.ExecContext(ctx, insertResourceIfNew, id, res.Kind, name, now); err != nil {
				return fmt.Errorf("seed resource: %w", err)
			}
		}
	}
	for _, h := range data.Hours {
		wd, ok := seed.Weekdays[h.Weekday]
		open, err1 := calendar.ParseTimeOfDay(h.Opens)
		closes, err2 := calendar.ParseTimeOfDay(h.Closes)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("seed hours %v", h)
		}
		if _, err := tx.ExecContext(ctx, insertHoursIfNone, int(wd), int(open), int(closes)); err != nil {
			return fmt.Errorf("seed hours: %w", err)
		}
	}
	for _, c := range data.Closures {
		if _, err := tx.ExecContext(ctx, insertClosureIfNew, c.Date, c.Reason); err != nil {
			return fmt.Errorf("seed closure: %w", err)
		}
	}
	return tx.Commit()
}
