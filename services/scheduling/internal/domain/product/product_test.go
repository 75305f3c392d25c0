package product_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

var (
	now       = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	viability = 72 * time.Hour
	criteria  = protocol.ReleaseCriteria{MinViabilityPct: 90, MinPurityPct: 90, MaxEndotoxinEUPerML: 5}
)

func din(t *testing.T, seq int) product.DIN {
	t.Helper()
	d, err := product.NewDIN("G1234", 26, seq)
	require.NoError(t, err)
	return d
}

func goodQC() product.QC {
	return product.QC{ViabilityPct: 94.5, PurityPct: 92, EndotoxinEUPerML: 1.2,
		Sterility: product.Negative, Mycoplasma: product.Negative}
}

// tie is the patient, course and cycle of the test products.
type tie struct {
	patientID, courseID uuid.UUID
	cycle               int
}

func newTie() tie { return tie{patientID: uuid.New(), courseID: uuid.New(), cycle: 2} }

// stored is a product loaded from the database in a status, as a
// repository would rebuild it: autologous, tied to tie, released products
// expiring viability after their release an hour ago.
func stored(t *testing.T, status product.Status, tt tie) *product.Product {
	t.Helper()
	s := product.Stored{
		ID: uuid.New(), DIN: din(t, 1001), Source: protocol.Autologous,
		PatientID: tt.patientID, CourseID: tt.courseID, Cycle: tt.cycle,
		Status: status, CollectedAt: now.Add(-15 * 24 * time.Hour), Version: 1, UpdatedAt: now.Add(-time.Hour),
	}
	if status != product.StatusCollected {
		s.CultureStartedAt = now.Add(-14 * 24 * time.Hour)
		s.Version = 2
	}
	switch status {
	case product.StatusReleased, product.StatusInfused:
		s.ReleasedAt = now.Add(-time.Hour)
		s.ExpiresAt = s.ReleasedAt.Add(viability)
		s.QC = goodQC()
		s.Version = 3
	case product.StatusFailed:
		s.FailedAt = now.Add(-time.Hour)
		s.FailReason = "qc_failed"
		s.Version = 3
	}
	if status == product.StatusInfused {
		s.InfusedAt = now.Add(-time.Minute)
		s.AppointmentID = uuid.New()
		s.DoseCells = 100_000_000
		s.Version = 4
	}
	return product.UnmarshalProductFromDatabase(s)
}

func requireFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	var ve *validation.Error
	require.True(t, errors.As(err, &ve), "want a validation error, got %v", err)
	got := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		got[i] = f.Field
	}
	require.Equal(t, fields, got)
}

func TestCollect(t *testing.T) {
	t.Parallel()
	tt := newTie()
	id, d := uuid.New(), din(t, 7)
	p, err := product.Collect(id, d, tt.patientID, tt.courseID, tt.cycle, now)
	require.NoError(t, err)
	require.Equal(t, id, p.ID())
	require.Equal(t, d, p.DIN())
	require.Equal(t, protocol.Autologous, p.Source())
	require.Equal(t, tt.patientID, p.PatientID())
	require.Equal(t, tt.courseID, p.CourseID())
	require.Equal(t, 2, p.Cycle())
	require.True(t, p.Allocated())
	require.Equal(t, product.StatusCollected, p.Status())
	require.Equal(t, now, p.CollectedAt())
	require.True(t, p.ExpiresAt().IsZero())
	require.False(t, p.Expired(now.Add(1000*time.Hour)))
	require.Equal(t, int64(1), p.Version())

	_, err = product.Collect(uuid.Nil, product.DIN{}, uuid.Nil, uuid.Nil, 0, time.Time{})
	requireFields(t, err, "id", "din", "patient_id", "course_id", "cycle", "collected_at")
}

// TestTransitions tries every change from every status of an autologous
// product: the allowed ones succeed and change the status, the others are
// ErrWrongStatus (or ErrNotDonorDose for Allocate) and change nothing.
func TestTransitions(t *testing.T) {
	t.Parallel()
	later := now.Add(time.Minute)
	ops := map[string]func(*product.Product) error{
		"start culture": func(p *product.Product) error { return p.StartCulture(later) },
		"release":       func(p *product.Product) error { return p.Release(goodQC(), criteria, viability, later) },
		"release uncultured": func(p *product.Product) error {
			return p.ReleaseUncultured(goodQC(), criteria, viability, later)
		},
		"fail":     func(p *product.Product) error { return p.Fail("culture_did_not_grow", later) },
		"allocate": func(p *product.Product) error { return p.Allocate(uuid.New(), uuid.New(), 1, later) },
	}
	// allowed[op][from] is the status reached; absent means refused.
	allowed := map[string]map[product.Status]product.Status{
		"start culture":      {product.StatusCollected: product.StatusCulturing},
		"release":            {product.StatusCulturing: product.StatusReleased},
		"release uncultured": {product.StatusCollected: product.StatusReleased},
		"fail":               {product.StatusCollected: product.StatusFailed, product.StatusCulturing: product.StatusFailed},
		"allocate":           {},
	}
	statuses := []product.Status{product.StatusCollected, product.StatusCulturing, product.StatusReleased,
		product.StatusFailed, product.StatusInfused}
	for name, op := range ops {
		for _, from := range statuses {
			t.Run(name+" from "+string(from), func(t *testing.T) {
				t.Parallel()
				p := stored(t, from, newTie())
				before := *p
				err := op(p)
				to, ok := allowed[name][from]
				if !ok {
					if name == "allocate" {
						require.ErrorIs(t, err, product.ErrNotDonorDose)
					} else {
						require.ErrorIs(t, err, product.ErrWrongStatus)
					}
					require.Equal(t, before, *p, "a refused change changes nothing")
					return
				}
				require.NoError(t, err)
				require.Equal(t, to, p.Status())
				require.Equal(t, before.Version()+1, p.Version())
				require.Equal(t, later, p.UpdatedAt())
			})
		}
	}
}

func TestReleaseSetsExpiryAndQC(t *testing.T) {
	t.Parallel()
	p := stored(t, product.StatusCulturing, newTie())
	require.NoError(t, p.Release(goodQC(), criteria, viability, now))
	require.Equal(t, now, p.ReleasedAt())
	require.Equal(t, now.Add(viability), p.ExpiresAt())
	require.Equal(t, goodQC(), p.QC())
	require.False(t, p.Expired(now.Add(viability-time.Nanosecond)))
	require.True(t, p.Expired(now.Add(viability)))

	q := stored(t, product.StatusCulturing, newTie())
	require.Error(t, q.Release(goodQC(), criteria, 0, now), "a viability window must be positive")
	require.Equal(t, product.StatusCulturing, q.Status())
}

// TestReleaseCriteria: each criterion missed alone, all together, and
// values exactly at the limits (which pass).
func TestReleaseCriteria(t *testing.T) {
	t.Parallel()
	with := func(f func(*product.QC)) product.QC { q := goodQC(); f(&q); return q }
	tests := []struct {
		name   string
		qc     product.QC
		missed []string
	}{
		{"all met", goodQC(), nil},
		{"exactly at every limit", with(func(q *product.QC) {
			q.ViabilityPct, q.PurityPct, q.EndotoxinEUPerML = 90, 90, 5
		}), nil},
		{"viability just below", with(func(q *product.QC) { q.ViabilityPct = 89.99 }), []string{"viability_pct"}},
		{"purity just below", with(func(q *product.QC) { q.PurityPct = 89.9 }), []string{"purity_pct"}},
		{"endotoxin just above", with(func(q *product.QC) { q.EndotoxinEUPerML = 5.01 }), []string{"endotoxin_eu_per_ml"}},
		{"sterility positive", with(func(q *product.QC) { q.Sterility = product.Positive }), []string{"sterility"}},
		{"mycoplasma positive", with(func(q *product.QC) { q.Mycoplasma = product.Positive }), []string{"mycoplasma"}},
		{"all missed", product.QC{ViabilityPct: 50, PurityPct: 10, EndotoxinEUPerML: 40,
			Sterility: product.Positive, Mycoplasma: product.Positive},
			[]string{"viability_pct", "purity_pct", "endotoxin_eu_per_ml", "sterility", "mycoplasma"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.missed, tc.qc.Meets(criteria))
			p := stored(t, product.StatusCulturing, newTie())
			err := p.Release(tc.qc, criteria, viability, now)
			if tc.missed == nil {
				require.NoError(t, err)
				require.Equal(t, product.StatusReleased, p.Status())
				return
			}
			var rr *product.ReleaseRefused
			require.True(t, errors.As(err, &rr), "want *ReleaseRefused, got %v", err)
			require.Equal(t, tc.missed, rr.Missed)
			require.Equal(t, product.StatusCulturing, p.Status())
			require.Equal(t, int64(2), p.Version())
			require.Empty(t, p.Events())
		})
	}
}

// TestReleaseBadValues: values that are not measurements are a validation
// error, not a refusal against the criteria.
func TestReleaseBadValues(t *testing.T) {
	t.Parallel()
	with := func(f func(*product.QC)) product.QC { q := goodQC(); f(&q); return q }
	tests := []struct {
		name   string
		qc     product.QC
		fields []string
	}{
		{"viability above 100", with(func(q *product.QC) { q.ViabilityPct = 100.1 }), []string{"viability_pct"}},
		{"viability negative", with(func(q *product.QC) { q.ViabilityPct = -1 }), []string{"viability_pct"}},
		{"viability NaN", with(func(q *product.QC) { q.ViabilityPct = math.NaN() }), []string{"viability_pct"}},
		{"purity above 100", with(func(q *product.QC) { q.PurityPct = 101 }), []string{"purity_pct"}},
		{"endotoxin negative", with(func(q *product.QC) { q.EndotoxinEUPerML = -0.1 }), []string{"endotoxin_eu_per_ml"}},
		{"endotoxin infinite", with(func(q *product.QC) { q.EndotoxinEUPerML = math.Inf(1) }), []string{"endotoxin_eu_per_ml"}},
		{"sterility missing", with(func(q *product.QC) { q.Sterility = "" }), []string{"sterility"}},
		{"mycoplasma capitalised", with(func(q *product.QC) { q.Mycoplasma = "Negative" }), []string{"mycoplasma"}},
		{"everything", product.QC{ViabilityPct: 200, PurityPct: -3, EndotoxinEUPerML: -1, Sterility: "neg", Mycoplasma: "?"},
			[]string{"viability_pct", "purity_pct", "endotoxin_eu_per_ml", "sterility", "mycoplasma"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := stored(t, product.StatusCulturing, newTie())
			err := p.Release(tc.qc, criteria, viability, now)
			requireFields(t, err, tc.fields...)
			var rr *product.ReleaseRefused
			require.False(t, errors.As(err, &rr))
			require.Equal(t, product.StatusCulturing, p.Status())
		})
	}
	// The limits themselves are measurements.
	require.NoError(t, product.QC{ViabilityPct: 0, PurityPct: 100, EndotoxinEUPerML: 0,
		Sterility: product.Positive, Mycoplasma: product.Negative}.Validate())
}

func TestFail(t *testing.T) {
	t.Parallel()
	p := stored(t, product.StatusCulturing, newTie())
	requireFields(t, p.Fail("  ", now), "reason")
	requireFields(t, p.Fail("qc\nfailed", now), "reason")
	requireFields(t, p.Fail(strings.Repeat("x", 201), now), "reason")
	require.Equal(t, product.StatusCulturing, p.Status())

	require.NoError(t, p.Fail(" sterility_positive ", now))
	require.Equal(t, product.StatusFailed, p.Status())
	require.Equal(t, "sterility_positive", p.FailReason())
	require.Equal(t, now, p.FailedAt())
	require.Equal(t, int64(3), p.Version())
}
