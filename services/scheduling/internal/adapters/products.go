package adapters

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

type products txRepositories

var _ app.Products = products{}

type productRow struct {
	ID        uuid.UUID     `db:"id"`
	DIN       string        `db:"din"`
	Source    string        `db:"source"`
	LotID     uuid.NullUUID `db:"lot_id"`
	PatientID uuid.NullUUID `db:"patient_id"`
	CourseID  uuid.NullUUID `db:"course_id"`
	Cycle     sql.NullInt64 `db:"cycle"`
	Status    string        `db:"status"`
	State     []byte        `db:"state"`
	Version   int64         `db:"version"`
	UpdatedAt time.Time     `db:"updated_at"`
}

// productStateJSON is the part of a product kept as JSON (products.state):
// its times, QC values, failure and infusion.
type productStateJSON struct {
	CollectedAt      *time.Time `json:"collected_at,omitempty"`
	CultureStartedAt *time.Time `json:"culture_started_at,omitempty"`
	ReleasedAt       *time.Time `json:"released_at,omitempty"`
	ExpiresAt        *time.Time `json:"expires_at,omitempty"`
	FailedAt         *time.Time `json:"failed_at,omitempty"`
	FailReason       string     `json:"fail_reason,omitempty"`
	QC               *qcJSON    `json:"qc,omitempty"`
	AllocatedAt      *time.Time `json:"allocated_at,omitempty"`
	InfusedAt        *time.Time `json:"infused_at,omitempty"`
	AppointmentID    *uuid.UUID `json:"appointment_id,omitempty"`
	DoseCells        int64      `json:"dose_cells,omitempty"`
}

type qcJSON struct {
	ViabilityPct     float64 `json:"viability_pct"`
	PurityPct        float64 `json:"purity_pct"`
	EndotoxinEUPerML float64 `json:"endotoxin_eu_per_ml"`
	Sterility        string  `json:"sterility"`
	Mycoplasma       string  `json:"mycoplasma"`
}

const (
	productColumns = `id, din, source, lot_id, patient_id, course_id, cycle, status, state, version, updated_at`
	insertProduct  = `INSERT INTO products (` + productColumns + `) VALUES (:id, :din, :source, :lot_id, :patient_id,
		:course_id, :cycle, :status, :state, :version, :updated_at)`
	updateProduct = `UPDATE products SET patient_id = :patient_id, course_id = :course_id, cycle = :cycle,
		status = :status, state = :state, version = :version, updated_at = :updated_at WHERE id = :id`
	selectProductForUpdate = `SELECT ` + productColumns + ` FROM products WHERE din = $1 FOR UPDATE`
	selectCycleProducts    = `SELECT ` + productColumns + ` FROM products WHERE course_id = $1 AND cycle = $2
		ORDER BY id DESC`
	// selectAvailableDose takes the dose expiring first; SKIP LOCKED lets
	// two courses planned at once take two different doses.
	selectAvailableDose = `SELECT p.id, p.din, p.source, p.lot_id, p.patient_id, p.course_id, p.cycle, p.status,
		p.state, p.version, p.updated_at FROM products p JOIN lots l ON l.id = p.lot_id
		WHERE l.program = $1 AND p.patient_id IS NULL AND p.status = 'released' AND l.expires_at > $2
		ORDER BY l.expires_at, p.din LIMIT 1 FOR UPDATE OF p SKIP LOCKED`
	insertLot = `INSERT INTO lots (id, din, program, donor_id, doses, collected_at, infection_tested_at, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	nextDIN = `INSERT INTO din_sequences (facility, year, last) VALUES ($1, $2, 1)
		ON CONFLICT (facility, year) DO UPDATE SET last = din_sequences.last + 1 RETURNING last`
	selectCourseProgram = `SELECT program FROM courses WHERE id = $1`
)

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func nullUUID(id uuid.UUID) uuid.NullUUID { return uuid.NullUUID{UUID: id, Valid: id != uuid.Nil} }

func toDBProduct(p *product.Product) (productRow, error) {
	st := productStateJSON{CollectedAt: timePtr(p.CollectedAt()), CultureStartedAt: timePtr(p.CultureStartedAt()),
		ReleasedAt: timePtr(p.ReleasedAt()), ExpiresAt: timePtr(p.ExpiresAt()), FailedAt: timePtr(p.FailedAt()),
		FailReason: p.FailReason(), AllocatedAt: timePtr(p.AllocatedAt()), InfusedAt: timePtr(p.InfusedAt()),
		DoseCells: p.DoseCells()}
	if !p.ReleasedAt().IsZero() && p.Source() == protocol.Autologous {
		q := p.QC()
		st.QC = &qcJSON{q.ViabilityPct, q.PurityPct, q.EndotoxinEUPerML, string(q.Sterility), string(q.Mycoplasma)}
	}
	if id := p.AppointmentID(); id != uuid.Nil {
		st.AppointmentID = &id
	}
	b, err := json.Marshal(st)
	if err != nil {
		return productRow{}, err
	}
	row := productRow{ID: p.ID(), DIN: p.DIN().String(), Source: string(p.Source()), LotID: nullUUID(p.LotID()),
		PatientID: nullUUID(p.PatientID()), CourseID: nullUUID(p.CourseID()), Status: string(p.Status()),
		State: b, Version: p.Version(), UpdatedAt: p.UpdatedAt()}
	if p.Cycle() > 0 {
		row.Cycle = sql.NullInt64{Int64: int64(p.Cycle()), Valid: true}
	}
	return row, nil
}

func toDomainProduct(r productRow) (*product.Product, error) {
	din, err := product.ParseDIN(r.DIN)
	if err != nil {
		return nil, fmt.Errorf("product %s: %w", r.ID, err)
	}
	var st productStateJSON
	if err := json.Unmarshal(r.State, &st); err != nil {
		return nil, fmt.Errorf("product %s state: %w", r.ID, err)
	}
	s := product.Stored{ID: r.ID, DIN: din, Source: protocol.Source(r.Source), LotID: r.LotID.UUID,
		PatientID: r.PatientID.UUID, CourseID: r.CourseID.UUID, Cycle: int(r.Cycle.Int64), Status: product.Status(r.Status),
		CollectedAt: deref(st.CollectedAt), CultureStartedAt: deref(st.CultureStartedAt), ReleasedAt: deref(st.ReleasedAt),
		ExpiresAt: deref(st.ExpiresAt), FailedAt: deref(st.FailedAt), FailReason: st.FailReason,
		AllocatedAt: deref(st.AllocatedAt), InfusedAt: deref(st.InfusedAt), DoseCells: st.DoseCells,
		Version: r.Version, UpdatedAt: r.UpdatedAt.UTC()}
	if st.QC != nil {
		s.QC = product.QC{ViabilityPct: st.QC.ViabilityPct, PurityPct: st.QC.PurityPct, EndotoxinEUPerML: st.QC.EndotoxinEUPerML,
			Sterility: product.Result(st.QC.Sterility), Mycoplasma: product.Result(st.QC.Mycoplasma)}
	}
	if st.AppointmentID != nil {
		s.AppointmentID = *st.AppointmentID
	}
	return product.UnmarshalProductFromDatabase(s), nil
}

// Get returns the product locked for the transaction.
func (r products) Get(ctx context.Context, din product.DIN) (*product.Product, error) {
	var row productRow
	if err := r.tx.GetContext(ctx, &row, selectProductForUpdate, din.String()); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, product.ErrNotFound
		}
		return nil, fmt.Errorf("get product: %w", err)
	}
	return toDomainProduct(row)
}

// OfCycle returns the products of a course's cycle, newest first.
func (r products) OfCycle(ctx context.Context, courseID uuid.UUID, cycle int) ([]*product.Product, error) {
	var rows []productRow
	if err := r.tx.SelectContext(ctx, &rows, selectCycleProducts, courseID, cycle); err != nil {
		return nil, fmt.Errorf("products of course %s cycle %d: %w", courseID, cycle, err)
	}
	out := make([]*product.Product, 0, len(rows))
	for _, row := range rows {
		p, err := toDomainProduct(row)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Add stores new products and writes their events.
func (r products) Add(ctx context.Context, ps ...*product.Product) error {
	for _, p := range ps {
		if err := r.write(ctx, insertProduct, p); err != nil {
			return err
		}
	}
	return nil
}

// Save stores a changed product and writes its events.
func (r products) Save(ctx context.Context, p *product.Product) error {
	return r.write(ctx, updateProduct, p)
}

func (r products) write(ctx context.Context, query string, p *product.Product) error {
	row, err := toDBProduct(p)
	if err != nil {
		return err
	}
	if _, err := r.tx.NamedExecContext(ctx, query, row); err != nil {
		return fmt.Errorf("store product %s: %w", p.ID(), err)
	}
	events := p.TakeEvents()
	if len(events) == 0 {
		return nil
	}
	var program string
	if p.CourseID() != uuid.Nil {
		if err := r.tx.GetContext(ctx, &program, selectCourseProgram, p.CourseID()); err != nil {
			return fmt.Errorf("program of course %s: %w", p.CourseID(), err)
		}
	}
	return writeEvents(ctx, r.tx, r.s.Outbox, withProgram(events, program))
}

// AddLot stores a donor lot of a program.
func (r products) AddLot(ctx context.Context, l *product.Lot, program string) error {
	if _, err := r.tx.ExecContext(ctx, insertLot, l.ID(), l.DIN().String(), program, l.DonorID(), l.Doses(),
		l.CollectedAt(), l.InfectionTestsOn(), l.ExpiresAt(), l.RegisteredAt()); err != nil {
		if errors.Is(pgdb.MapError(err), pgdb.ErrUniqueViolation) {
			return app.ErrLotExists
		}
		return fmt.Errorf("store lot %s: %w", l.ID(), err)
	}
	return nil
}

// NextDIN takes the facility's next DIN of the year; the sequence row stays
// locked until the transaction ends, so two products never share one.
func (r products) NextDIN(ctx context.Context, facility string, year int) (product.DIN, error) {
	var seq int
	if err := r.tx.GetContext(ctx, &seq, nextDIN, facility, year); err != nil {
		return product.DIN{}, fmt.Errorf("next DIN: %w", err)
	}
	return product.NewDIN(facility, year, seq)
}

// AvailableDose locks one released, unallocated, unexpired donor dose.
func (r products) AvailableDose(ctx context.Context, program string, now time.Time) (*product.Product, error) {
	var row productRow
	if err := r.tx.GetContext(ctx, &row, selectAvailableDose, program, now); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, app.ErrNoDose
		}
		return nil, fmt.Errorf("available dose: %w", err)
	}
	return toDomainProduct(row)
}
