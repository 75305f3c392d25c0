package product_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
)

var birth = time.Date(1971, 3, 8, 0, 0, 0, 0, time.UTC)

// scanFor is the scan of a correct bedside check of p for tt: p's label
// scanned, the patient identified, the right appointment, now.
func scanFor(p *product.Product, tt tie) product.Scan {
	return product.Scan{
		ProductID: p.DIN().Label(), PatientID: tt.patientID, AppointmentPatientID: tt.patientID,
		BirthDate: birth, RecordedBirthDate: birth, CourseID: tt.courseID, Cycle: tt.cycle, Now: now,
	}
}

func requireRefused(t *testing.T, err error, want product.Reason) {
	t.Helper()
	var ir *product.IdentityRefused
	require.True(t, errors.As(err, &ir), "want *IdentityRefused(%s), got %v", want, err)
	require.Equal(t, want, ir.Reason)
}

// donorDose is a dose of a registered lot, allocated to tt when tt is not
// the zero tie.
func donorDose(t *testing.T, tt tie) *product.Product {
	t.Helper()
	_, products, err := product.RegisterLot(uuid.New(), lotInput(t), doses(t, 1), now.Add(-time.Hour))
	require.NoError(t, err)
	p := products[0]
	if tt.patientID != uuid.Nil {
		require.NoError(t, p.Allocate(tt.patientID, tt.courseID, tt.cycle, now.Add(-time.Hour)))
	}
	return p
}

// TestCheckInfusion is the chain-of-identity refusal matrix: every reason,
// the passing cases, and that identity is checked before status.
func TestCheckInfusion(t *testing.T) {
	t.Parallel()
	released := func(t *testing.T, tt tie) *product.Product { return stored(t, product.StatusReleased, tt) }
	inStatus := func(s product.Status) func(*testing.T, tie) *product.Product {
		return func(t *testing.T, tt tie) *product.Product { return stored(t, s, tt) }
	}
	tests := []struct {
		name    string
		product func(*testing.T, tie) *product.Product
		scan    func(*product.Scan, *product.Product)
		want    product.Reason // empty: passes
	}{
		{"passes", released, func(*product.Scan, *product.Product) {}, ""},
		{"passes with the 13 characters, no check character", released,
			func(s *product.Scan, p *product.Product) { s.ProductID = p.DIN().String() }, ""},
		{"passes typed in lower case", released, func(s *product.Scan, p *product.Product) {
			s.ProductID = "g1234 26 001001 " + string(p.DIN().Check())
		}, ""},
		{"passes with the birth date at another time of day", released,
			func(s *product.Scan, _ *product.Product) { s.BirthDate = time.Date(1971, 3, 8, 23, 0, 0, 0, berlin) }, ""},
		{"passes a moment before expiry", released,
			func(s *product.Scan, p *product.Product) { s.Now = p.ExpiresAt().Add(-time.Nanosecond) }, ""},

		{"malformed id", released, func(s *product.Scan, _ *product.Product) { s.ProductID = "G1234-26-001001" },
			product.ReasonMalformedID},
		{"empty id", released, func(s *product.Scan, _ *product.Product) { s.ProductID = "" }, product.ReasonMalformedID},
		{"bad check character", released, func(s *product.Scan, p *product.Product) {
			s.ProductID = p.DIN().String() + string(otherCheck(p.DIN().Check()))
		}, product.ReasonBadCheckCharacter},
		{"two digits swapped: the check character catches it", released, func(s *product.Scan, p *product.Product) {
			s.ProductID = "G1234 26 010001 " + string(p.DIN().Check())
		}, product.ReasonBadCheckCharacter},
		{"a letter O typed for a zero", released, func(s *product.Scan, p *product.Product) {
			s.ProductID = "G1234 26 0010O1 " + string(p.DIN().Check())
		}, product.ReasonMalformedID},
		{"another product's DIN", released, func(s *product.Scan, _ *product.Product) {
			s.ProductID = mustDIN(26, 999).Label()
		}, product.ReasonUnknownProduct},

		{"wrong patient", released, func(s *product.Scan, _ *product.Product) { s.PatientID = uuid.New() },
			product.ReasonWrongPatient},
		{"the appointment is another patient's", released,
			func(s *product.Scan, _ *product.Product) { s.AppointmentPatientID = uuid.New() }, product.ReasonWrongPatient},
		{"wrong birth date", released,
			func(s *product.Scan, _ *product.Product) { s.BirthDate = birth.AddDate(0, 0, 1) }, product.ReasonWrongBirthDate},
		{"no recorded birth date", released, func(s *product.Scan, _ *product.Product) {
			s.BirthDate, s.RecordedBirthDate = time.Time{}, time.Time{}
		}, product.ReasonWrongBirthDate},
		{"wrong course", released, func(s *product.Scan, _ *product.Product) { s.CourseID = uuid.New() },
			product.ReasonWrongCourse},
		{"wrong cycle", released, func(s *product.Scan, _ *product.Product) { s.Cycle = 3 }, product.ReasonWrongCycle},

		{"not released: collected", inStatus(product.StatusCollected), func(*product.Scan, *product.Product) {},
			product.ReasonNotReleased},
		{"not released: culturing", inStatus(product.StatusCulturing), func(*product.Scan, *product.Product) {},
			product.ReasonNotReleased},
		{"not released: failed", inStatus(product.StatusFailed), func(*product.Scan, *product.Product) {},
			product.ReasonNotReleased},
		{"already infused", inStatus(product.StatusInfused), func(*product.Scan, *product.Product) {},
			product.ReasonAlreadyInfused},
		{"expired, exactly at expiry", released, func(s *product.Scan, p *product.Product) { s.Now = p.ExpiresAt() },
			product.ReasonExpired},
		{"expired, a day later", released,
			func(s *product.Scan, p *product.Product) { s.Now = p.ExpiresAt().Add(24 * time.Hour) }, product.ReasonExpired},

		{"identity before status: wrong patient, not released", inStatus(product.StatusCulturing),
			func(s *product.Scan, _ *product.Product) { s.PatientID = uuid.New() }, product.ReasonWrongPatient},
		{"identity before expiry: wrong cycle, expired", released, func(s *product.Scan, p *product.Product) {
			s.Cycle = 1
			s.Now = p.ExpiresAt()
		}, product.ReasonWrongCycle},

		{"donor dose allocated to this patient", func(t *testing.T, tt tie) *product.Product { return donorDose(t, tt) },
			func(*product.Scan, *product.Product) {}, ""},
		{"donor dose allocated to another patient", func(t *testing.T, _ tie) *product.Product { return donorDose(t, newTie()) },
			func(*product.Scan, *product.Product) {}, product.ReasonWrongPatient},
		{"donor dose not allocated", func(t *testing.T, _ tie) *product.Product { return donorDose(t, tie{}) },
			func(*product.Scan, *product.Product) {}, product.ReasonWrongPatient},
		{"donor dose not allocated, scanned with empty ids", func(t *testing.T, _ tie) *product.Product {
			return donorDose(t, tie{})
		}, func(s *product.Scan, _ *product.Product) {
			s.PatientID, s.AppointmentPatientID, s.CourseID, s.Cycle = uuid.Nil, uuid.Nil, uuid.Nil, 0
		}, product.ReasonWrongPatient},
		{"donor dose allocated to another cycle", func(t *testing.T, tt tie) *product.Product {
			tt.cycle = 1
			return donorDose(t, tt)
		}, func(*product.Scan, *product.Product) {}, product.ReasonWrongCycle},
		{"donor dose past the lot's expiry", func(t *testing.T, tt tie) *product.Product { return donorDose(t, tt) },
			func(s *product.Scan, p *product.Product) { s.Now = p.ExpiresAt() }, product.ReasonExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tt := newTie()
			p := tc.product(t, tt)
			s := scanFor(p, tt)
			tc.scan(&s, p)
			before := *p
			err := p.CheckInfusion(s)
			require.Equal(t, before, *p, "the check changes nothing")
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			requireRefused(t, err, tc.want)
			require.Equal(t, "infusion refused: "+string(tc.want), err.Error())
		})
	}
}

func otherCheck(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

func mustDIN(year, seq int) product.DIN {
	d, err := product.NewDIN("G1234", year, seq)
	if err != nil {
		panic(err)
	}
	return d
}

func TestScannedDIN(t *testing.T) {
	t.Parallel()
	d := mustDIN(26, 42)
	got, err := product.ScannedDIN(d.Label())
	require.NoError(t, err)
	require.Equal(t, d, got)
	_, err = product.ScannedDIN("nonsense")
	requireRefused(t, err, product.ReasonMalformedID)
	_, err = product.ScannedDIN(d.String() + string(otherCheck(d.Check())))
	requireRefused(t, err, product.ReasonBadCheckCharacter)
}

func TestInfuse(t *testing.T) {
	t.Parallel()
	tt := newTie()
	appointmentID := uuid.New()
	later := now.Add(time.Hour)

	p := stored(t, product.StatusReleased, tt)
	s := scanFor(p, tt)
	s.Now = p.ExpiresAt().Add(time.Hour) // Infuse checks at its own now
	require.NoError(t, p.Infuse(appointmentID, 150_000_000, s, later))
	require.Equal(t, product.StatusInfused, p.Status())
	require.Equal(t, later, p.InfusedAt())
	require.Equal(t, appointmentID, p.AppointmentID())
	require.Equal(t, int64(150_000_000), p.DoseCells())
	require.Equal(t, int64(4), p.Version())

	err := p.Infuse(uuid.New(), 150_000_000, scanFor(p, tt), later)
	requireRefused(t, err, product.ReasonAlreadyInfused)
	require.Equal(t, appointmentID, p.AppointmentID())
	require.Equal(t, int64(4), p.Version())

	q := stored(t, product.StatusReleased, tt)
	requireFields(t, q.Infuse(uuid.Nil, 0, scanFor(q, tt), later), "appointment_id", "dose_cells")
	requireFields(t, q.Infuse(appointmentID, -5, scanFor(q, tt), later), "dose_cells")
	wrong := scanFor(q, tt)
	wrong.CourseID = uuid.New()
	requireRefused(t, q.Infuse(appointmentID, 1, wrong, later), product.ReasonWrongCourse)
	requireRefused(t, q.Infuse(appointmentID, 1, scanFor(q, tt), q.ExpiresAt()), product.ReasonExpired)
	require.Equal(t, product.StatusReleased, q.Status())
	require.Equal(t, int64(3), q.Version())
	require.Empty(t, q.Events())
}
