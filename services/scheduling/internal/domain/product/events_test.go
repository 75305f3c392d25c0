package product_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
)

// TestEvents checks that every change records exactly the events it causes,
// with the version growing by one per change from 1 at creation, and none
// when it is refused.
func TestEvents(t *testing.T) {
	t.Parallel()
	tt := newTie()
	id, d := uuid.New(), din(t, 77)
	appointmentID := uuid.New()
	t1, t2, t3 := now.Add(time.Hour), now.Add(14*24*time.Hour), now.Add(15*24*time.Hour)
	released := t2.Add(viability)
	collect := func(t *testing.T) *product.Product {
		p, err := product.Collect(id, d, tt.patientID, tt.courseID, tt.cycle, now)
		require.NoError(t, err)
		return p
	}
	collected := product.Collected{ProductID: id, DIN: d, PatientID: tt.patientID, CourseID: tt.courseID,
		Cycle: 2, Version: 1, At: now}
	cultureStarted := product.CultureStarted{ProductID: id, DIN: d, PatientID: tt.patientID, CourseID: tt.courseID,
		Cycle: 2, Version: 2, At: t1}
	releasedEvent := product.Released{ProductID: id, DIN: d, PatientID: tt.patientID, CourseID: tt.courseID,
		Cycle: 2, Version: 3, At: t2, ExpiresAt: released, QC: goodQC()}

	lotID, lotIn, ds := uuid.New(), lotInput(t), doses(t, 2)
	register := func(t *testing.T) (*product.Lot, []*product.Product) {
		lot, products, err := product.RegisterLot(lotID, lotIn, ds, now)
		require.NoError(t, err)
		return lot, products
	}

	tests := []struct {
		name   string
		change func(*testing.T) *product.Product
		want   []product.Event
	}{
		{"collect", collect, []product.Event{collected}},
		{"loaded from the database", func(t *testing.T) *product.Product {
			return stored(t, product.StatusReleased, tt)
		}, nil},
		{"start the culture", func(t *testing.T) *product.Product {
			p := collect(t)
			require.NoError(t, p.StartCulture(t1))
			return p
		}, []product.Event{collected, cultureStarted}},
		{"release", func(t *testing.T) *product.Product {
			p := collect(t)
			require.NoError(t, p.StartCulture(t1))
			require.NoError(t, p.Release(goodQC(), criteria, viability, t2))
			return p
		}, []product.Event{collected, cultureStarted, releasedEvent}},
		{"release without culture", func(t *testing.T) *product.Product {
			p := collect(t)
			require.NoError(t, p.ReleaseUncultured(goodQC(), criteria, viability, t2))
			return p
		}, []product.Event{collected, func() product.Event { r := releasedEvent; r.Version = 2; return r }()}},
		{"release refused, then fail", func(t *testing.T) *product.Product {
			p := collect(t)
			require.NoError(t, p.StartCulture(t1))
			bad := goodQC()
			bad.Sterility = product.Positive
			require.Error(t, p.Release(bad, criteria, viability, t2))
			require.NoError(t, p.Fail("sterility_positive", t2))
			return p
		}, []product.Event{collected, cultureStarted, product.Failed{ProductID: id, DIN: d, PatientID: tt.patientID,
			CourseID: tt.courseID, Cycle: 2, Version: 3, At: t2, Reason: "sterility_positive"}}},
		{"infuse", func(t *testing.T) *product.Product {
			p := collect(t)
			require.NoError(t, p.StartCulture(t1))
			require.NoError(t, p.Release(goodQC(), criteria, viability, t2))
			require.NoError(t, p.Infuse(appointmentID, 120_000_000, scanFor(p, tt), t3))
			return p
		}, []product.Event{collected, cultureStarted, releasedEvent, product.Infused{ProductID: id, DIN: d,
			PatientID: tt.patientID, CourseID: tt.courseID, Cycle: 2, AppointmentID: appointmentID,
			DoseCells: 120_000_000, Version: 4, At: t3}}},
		{"infusion refused", func(t *testing.T) *product.Product {
			p := collect(t)
			require.NoError(t, p.StartCulture(t1))
			require.NoError(t, p.Release(goodQC(), criteria, viability, t2))
			require.Error(t, p.Infuse(appointmentID, 120_000_000, scanFor(p, tt), released))
			return p
		}, []product.Event{collected, cultureStarted, releasedEvent}},
		{"refused changes", func(t *testing.T) *product.Product {
			p := stored(t, product.StatusInfused, tt)
			require.Error(t, p.StartCulture(t1))
			require.Error(t, p.Release(goodQC(), criteria, viability, t1))
			require.Error(t, p.Fail("late", t1))
			require.Error(t, p.Allocate(tt.patientID, tt.courseID, 1, t1))
			return p
		}, nil},
		{"register a lot: the doses record nothing", func(t *testing.T) *product.Product {
			_, products := register(t)
			return products[1]
		}, nil},
		{"allocate a dose, infuse it", func(t *testing.T) *product.Product {
			_, products := register(t)
			p := products[1]
			require.NoError(t, p.Allocate(tt.patientID, tt.courseID, tt.cycle, t1))
			require.NoError(t, p.Infuse(appointmentID, 2_000_000_000, scanFor(p, tt), t3))
			return p
		}, []product.Event{
			product.Allocated{ProductID: ds[1].ProductID, DIN: ds[1].DIN, LotID: lotID, PatientID: tt.patientID,
				CourseID: tt.courseID, Cycle: 2, Version: 2, At: t1, ExpiresAt: lotIn.ExpiresAt},
			product.Infused{ProductID: ds[1].ProductID, DIN: ds[1].DIN, LotID: lotID, PatientID: tt.patientID,
				CourseID: tt.courseID, Cycle: 2, AppointmentID: appointmentID, DoseCells: 2_000_000_000,
				Version: 3, At: t3},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.change(t).Events())
		})
	}

	t.Run("lot registered", func(t *testing.T) {
		t.Parallel()
		lot, _ := register(t)
		require.Equal(t, []product.Event{product.LotRegistered{LotID: lotID, DIN: lotIn.DIN, DonorID: lotIn.DonorID,
			Doses: ds, CollectedAt: lotIn.CollectedAt, InfectionTestsOn: lotIn.InfectionTestsOn,
			ExpiresAt: lotIn.ExpiresAt, Version: 1, At: now}}, lot.Events())
		loaded := product.UnmarshalLotFromDatabase(lotID, lotIn, 2, now, 1)
		require.Empty(t, loaded.Events())
		require.Equal(t, lot.DIN(), loaded.DIN())
		require.Equal(t, lot.InfectionTestsOn(), loaded.InfectionTestsOn())
	})
}
