package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/seed"
)

// Queries is scheduling's read side: plain SQL on the pool, no locks and
// no aggregates, so that reading the calendar never waits on a booking.
type Queries struct {
	DB *sqlx.DB
	// Location is the clinic's zone (the calendar's).
	Location *time.Location
}

var _ app.Queries = Queries{}

const (
	queryCourse = `SELECT id, patient_id, program, protocol_version, status, held_from, reason, detail,
		preferred_start, funded_at, version, created_at, updated_at FROM courses WHERE id = $1`
	queryCycles            = `SELECT cycle, phase, target_date, status FROM cycles WHERE course_id = $1 ORDER BY cycle`
	appointmentViewColumns = `id, course_id, cycle, step, session, patient_id, program, kind, resource_id, resource_kind,
		patient_present, start_at, end_at, blocked_until, status, product_id, dose_cells, reason, checked_in_at,
		completed_at, version, created_at, updated_at`
	queryCourseAppointments = `SELECT ` + appointmentViewColumns + ` FROM appointments WHERE course_id = $1
		ORDER BY start_at, id`
	productViewColumns  = `id, din, source, lot_id, patient_id, course_id, cycle, status, state, version, updated_at`
	queryCourseProducts = `SELECT ` + productViewColumns + ` FROM products WHERE course_id = $1
		ORDER BY cycle, updated_at DESC, din DESC`
	// A DIN is looked up as stored with or without its check character.
	queryProduct   = `SELECT ` + productViewColumns + ` FROM products WHERE din = $1 OR din = $2`
	queryProtocols = `SELECT p.definition, p.updated_at,
		EXISTS (SELECT 1 FROM courses c WHERE c.program = p.program AND c.protocol_version = p.version) AS in_use
		FROM protocols p WHERE $1 = '' OR p.program = $1 ORDER BY p.program, p.version`
	queryProtocol = `SELECT p.definition, p.updated_at,
		EXISTS (SELECT 1 FROM courses c WHERE c.program = p.program AND c.protocol_version = p.version) AS in_use
		FROM protocols p WHERE p.program = $1 AND p.version = $2`
	queryResources = `SELECT id, kind, name, active, updated_at FROM resources ORDER BY kind, name`
	queryResource  = `SELECT id, kind, name, active, updated_at FROM resources WHERE id = $1`
)

// appointmentViewRow is the row the repositories read (one shape for
// both sides).
type appointmentViewRow = appointmentRow

func toAppointmentView(r appointmentViewRow) app.AppointmentView {
	return app.AppointmentView{ID: r.ID, CourseID: r.CourseID.UUID, Cycle: int(r.Cycle.Int64), Step: int(r.Step.Int64),
		Session: int(r.Session.Int64), PatientID: r.PatientID, Program: r.Program, Kind: r.Kind, ResourceID: r.ResourceID,
		ResourceKind: r.ResourceKind, PatientPresent: r.PatientPresent, Start: r.StartAt.UTC(), End: r.EndAt.UTC(),
		BlockedUntil: r.BlockedUntil.UTC(), Status: r.Status, ProductID: r.ProductID.String, DoseCells: r.DoseCells.Int64,
		Reason: r.Reason.String, CheckedInAt: nullTime(r.CheckedInAt), CompletedAt: nullTime(r.CompletedAt),
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func nullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func toProductView(r productRow) (app.ProductView, error) {
	v := app.ProductView{ID: r.ID, DIN: r.DIN, Source: r.Source, LotID: r.LotID.UUID, PatientID: r.PatientID.UUID,
		CourseID: r.CourseID.UUID, Cycle: int(r.Cycle.Int64), Status: r.Status, Version: r.Version, UpdatedAt: r.UpdatedAt.UTC()}
	var s productStateJSON
	if len(r.State) > 0 {
		if err := json.Unmarshal(r.State, &s); err != nil {
			return v, fmt.Errorf("product %s state: %w", r.ID, err)
		}
	}
	v.CollectedAt, v.CultureStartedAt, v.ReleasedAt = deref(s.CollectedAt), deref(s.CultureStartedAt), deref(s.ReleasedAt)
	v.ExpiresAt, v.FailedAt, v.FailReason = deref(s.ExpiresAt), deref(s.FailedAt), s.FailReason
	v.AllocatedAt, v.InfusedAt, v.DoseCells = deref(s.AllocatedAt), deref(s.InfusedAt), s.DoseCells
	if s.AppointmentID != nil {
		v.AppointmentID = *s.AppointmentID
	}
	if q := s.QC; q != nil && (q.Sterility != "" || q.Mycoplasma != "") {
		v.QC = &app.QCView{ViabilityPct: q.ViabilityPct, PurityPct: q.PurityPct, EndotoxinEUPerML: q.EndotoxinEUPerML,
			Sterility: q.Sterility, Mycoplasma: q.Mycoplasma}
	}
	return v, nil
}

type courseViewRow struct {
	ID              uuid.UUID      `db:"id"`
	PatientID       uuid.UUID      `db:"patient_id"`
	Program         string         `db:"program"`
	ProtocolVersion string         `db:"protocol_version"`
	Status          string         `db:"status"`
	HeldFrom        sql.NullString `db:"held_from"`
	Reason          sql.NullString `db:"reason"`
	Detail          sql.NullString `db:"detail"`
	PreferredStart  sql.NullTime   `db:"preferred_start"`
	FundedAt        sql.NullTime   `db:"funded_at"`
	Version         int64          `db:"version"`
	CreatedAt       time.Time      `db:"created_at"`
	UpdatedAt       time.Time      `db:"updated_at"`
}

type cycleViewRow struct {
	Cycle      int       `db:"cycle"`
	Phase      string    `db:"phase"`
	TargetDate time.Time `db:"target_date"`
	Status     string    `db:"status"`
}

// Course reads the plan in one repeatable-read transaction, so that the
// course, its cycles, appointments and products are one moment's.
func (q Queries) Course(ctx context.Context, id uuid.UUID) (app.CoursePlan, error) {
	var plan app.CoursePlan
	err := q.readOnly(ctx, func(tx *sqlx.Tx) error {
		var c courseViewRow
		if err := tx.GetContext(ctx, &c, queryCourse, id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return course.ErrNotFound
			}
			return fmt.Errorf("read course %s: %w", id, err)
		}
		plan = app.CoursePlan{ID: c.ID, PatientID: c.PatientID, Program: c.Program, ProtocolVersion: c.ProtocolVersion,
			Status: c.Status, HeldFrom: c.HeldFrom.String, Reason: c.Reason.String, Detail: c.Detail.String,
			PreferredStart: nullTime(c.PreferredStart), FundedAt: nullTime(c.FundedAt), Version: c.Version, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
			Cycles: []app.CycleView{}}
		var cycles []cycleViewRow
		if err := tx.SelectContext(ctx, &cycles, queryCycles, id); err != nil {
			return fmt.Errorf("read course %s cycles: %w", id, err)
		}
		at := map[int]int{}
		for _, cy := range cycles {
			at[cy.Cycle] = len(plan.Cycles)
			plan.Cycles = append(plan.Cycles, app.CycleView{Number: cy.Cycle, Phase: cy.Phase, TargetDate: cy.TargetDate.UTC(),
				Status: cy.Status, Appointments: []app.AppointmentView{}, Products: []app.ProductView{}})
		}
		var appts []appointmentViewRow
		if err := tx.SelectContext(ctx, &appts, queryCourseAppointments, id); err != nil {
			return fmt.Errorf("read course %s appointments: %w", id, err)
		}
		for _, a := range appts {
			if i, ok := at[int(a.Cycle.Int64)]; ok {
				plan.Cycles[i].Appointments = append(plan.Cycles[i].Appointments, toAppointmentView(a))
			} else {
				plan.Other = append(plan.Other, toAppointmentView(a))
			}
		}
		var products []productRow
		if err := tx.SelectContext(ctx, &products, queryCourseProducts, id); err != nil {
			return fmt.Errorf("read course %s products: %w", id, err)
		}
		for _, p := range products {
			v, err := toProductView(p)
			if err != nil {
				return err
			}
			if i, ok := at[v.Cycle]; ok {
				plan.Cycles[i].Products = append(plan.Cycles[i].Products, v)
			}
		}
		return nil
	})
	return plan, err
}

func (q Queries) readOnly(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return pgdb.InTx(ctx, q.DB, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, fn)
}

// Appointments lists the appointments f selects, ordered by start and id,
// at most f.Limit; the cursor is the last one's when there may be more.
func (q Queries) Appointments(ctx context.Context, f app.AppointmentFilter) ([]app.AppointmentView, *app.AppointmentCursor, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if !f.From.IsZero() {
		where = append(where, "end_at > "+arg(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "start_at < "+arg(f.To))
	}
	if f.ResourceID != uuid.Nil {
		where = append(where, "resource_id = "+arg(f.ResourceID))
	}
	if f.PatientID != uuid.Nil {
		where = append(where, "patient_id = "+arg(f.PatientID))
	}
	if f.CourseID != uuid.Nil {
		where = append(where, "course_id = "+arg(f.CourseID))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	}
	if f.After != nil {
		where = append(where, "(start_at, id) > ("+arg(f.After.Start)+", "+arg(f.After.ID)+")")
	}
	query := `SELECT ` + appointmentViewColumns + ` FROM appointments`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY start_at, id LIMIT " + arg(f.Limit+1)
	var rows []appointmentViewRow
	if err := q.DB.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, nil, fmt.Errorf("list appointments: %w", err)
	}
	var next *app.AppointmentCursor
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		last := rows[len(rows)-1]
		next = &app.AppointmentCursor{Start: last.StartAt.UTC(), ID: last.ID}
	}
	out := make([]app.AppointmentView, len(rows))
	for i, r := range rows {
		out[i] = toAppointmentView(r)
	}
	return out, next, nil
}

// Product reads the product with that DIN (13 characters, or 14 with the
// check character).
func (q Queries) Product(ctx context.Context, din string) (app.ProductView, error) {
	d, err := product.ParseDIN(din)
	if err != nil {
		return app.ProductView{}, product.ErrNotFound
	}
	var row productRow
	if err := q.DB.GetContext(ctx, &row, queryProduct, d.String(), d.String()+string(d.Check())); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return app.ProductView{}, product.ErrNotFound
		}
		return app.ProductView{}, fmt.Errorf("read product: %w", err)
	}
	return toProductView(row)
}

type protocolRow struct {
	Definition []byte    `db:"definition"`
	UpdatedAt  time.Time `db:"updated_at"`
	InUse      bool      `db:"in_use"`
}

func toProtocolView(r protocolRow) (app.ProtocolView, error) {
	var pj seed.ProtocolJSON
	if err := json.Unmarshal(r.Definition, &pj); err != nil {
		return app.ProtocolView{}, fmt.Errorf("protocol definition: %w", err)
	}
	p, err := pj.ToDomain()
	if err != nil {
		return app.ProtocolView{}, fmt.Errorf("protocol %s %s: %w", pj.Program, pj.Version, err)
	}
	return app.ProtocolView{Protocol: p, InUse: r.InUse, UpdatedAt: r.UpdatedAt.UTC()}, nil
}

// Protocols lists the protocol versions, of one program unless it is "".
func (q Queries) Protocols(ctx context.Context, program string) ([]app.ProtocolView, error) {
	var rows []protocolRow
	if err := q.DB.SelectContext(ctx, &rows, queryProtocols, program); err != nil {
		return nil, fmt.Errorf("list protocols: %w", err)
	}
	out := make([]app.ProtocolView, 0, len(rows))
	for _, r := range rows {
		v, err := toProtocolView(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Protocol reads one protocol version.
func (q Queries) Protocol(ctx context.Context, program, version string) (app.ProtocolView, error) {
	var r protocolRow
	if err := q.DB.GetContext(ctx, &r, queryProtocol, program, version); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return app.ProtocolView{}, app.ErrNoProtocol
		}
		return app.ProtocolView{}, fmt.Errorf("read protocol: %w", err)
	}
	return toProtocolView(r)
}

type resourceViewRow struct {
	ID        uuid.UUID `db:"id"`
	Kind      string    `db:"kind"`
	Name      string    `db:"name"`
	Active    bool      `db:"active"`
	UpdatedAt time.Time `db:"updated_at"`
}

func toResourceView(r resourceViewRow) app.ResourceView {
	return app.ResourceView{ID: r.ID, Kind: r.Kind, Name: r.Name, Active: r.Active, UpdatedAt: r.UpdatedAt.UTC()}
}

// Resources lists every resource by kind and name.
func (q Queries) Resources(ctx context.Context) ([]app.ResourceView, error) {
	var rows []resourceViewRow
	if err := q.DB.SelectContext(ctx, &rows, queryResources); err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	out := make([]app.ResourceView, len(rows))
	for i, r := range rows {
		out[i] = toResourceView(r)
	}
	return out, nil
}

// Resource reads one resource.
func (q Queries) Resource(ctx context.Context, id uuid.UUID) (app.ResourceView, error) {
	var r resourceViewRow
	if err := q.DB.GetContext(ctx, &r, queryResource, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return app.ResourceView{}, app.ErrNoResource
		}
		return app.ResourceView{}, fmt.Errorf("read resource %s: %w", id, err)
	}
	return toResourceView(r), nil
}

// Calendar reads the opening hours and closures (as the planner reads
// them, through the same reference reader).
func (q Queries) Calendar(ctx context.Context) (calendar.Calendar, error) {
	return reference{q: q.DB, loc: q.Location}.Calendar(ctx)
}
