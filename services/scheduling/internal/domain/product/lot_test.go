package product_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// collectedOn is the donor lot's collection: 09:30 in Berlin, two days ago.
var collectedOn = time.Date(2026, 11, 19, 9, 30, 0, 0, berlin)

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

func lotInput(t *testing.T) product.LotInput {
	t.Helper()
	return product.LotInput{
		DIN: din(t, 5000), DonorID: "CBU-0042-7", CollectedAt: collectedOn,
		InfectionTestsOn: time.Date(2026, 11, 1, 0, 0, 0, 0, berlin),
		ExpiresAt:        collectedOn.AddDate(1, 0, 0),
	}
}

func doses(t *testing.T, n int) []product.Dose {
	t.Helper()
	d := make([]product.Dose, n)
	for i := range d {
		d[i] = product.Dose{ProductID: uuid.New(), DIN: din(t, 5001+i)}
	}
	return d
}

func TestRegisterLot(t *testing.T) {
	t.Parallel()
	id, in, ds := uuid.New(), lotInput(t), doses(t, 3)
	lot, products, err := product.RegisterLot(id, in, ds, now)
	require.NoError(t, err)
	require.Equal(t, id, lot.ID())
	require.Equal(t, in.DIN, lot.DIN())
	require.Equal(t, "CBU-0042-7", lot.DonorID())
	require.Equal(t, 3, lot.Doses())
	require.Equal(t, in.ExpiresAt, lot.ExpiresAt())
	require.Equal(t, now, lot.RegisteredAt())
	require.Equal(t, int64(1), lot.Version())
	require.Len(t, products, 3)
	for i, p := range products {
		require.Equal(t, ds[i].ProductID, p.ID())
		require.Equal(t, ds[i].DIN, p.DIN())
		require.Equal(t, protocol.Donor, p.Source())
		require.Equal(t, id, p.LotID())
		require.Equal(t, product.StatusReleased, p.Status())
		require.False(t, p.Allocated())
		require.Equal(t, now, p.ReleasedAt())
		require.Equal(t, in.ExpiresAt, p.ExpiresAt())
		require.Equal(t, int64(1), p.Version())
		require.Empty(t, p.Events(), "LotRegistered announces the doses")
	}
}

// TestInfectionTestWindow: the donor's infection tests must be on the day
// of collection or up to 30 calendar days before it, counted in the
// collection's zone.
func TestInfectionTestWindow(t *testing.T) {
	t.Parallel()
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, berlin) }
	tests := []struct {
		name  string
		tests time.Time
		ok    bool
	}{
		{"29 days before", day(2026, 10, 21), true},
		{"30 days before", day(2026, 10, 20), true},
		{"30 days before, late in the day", time.Date(2026, 10, 20, 23, 59, 0, 0, berlin), true},
		{"31 days before", day(2026, 10, 19), false},
		{"31 days before, late in the day", time.Date(2026, 10, 19, 23, 59, 0, 0, berlin), false},
		{"the day of collection, after it", time.Date(2026, 11, 19, 17, 0, 0, 0, berlin), true},
		{"the day after collection", day(2026, 11, 20), false},
		// 23:30 UTC on 19 October is 00:30 on 20 October in Berlin: 30 days.
		{"given in UTC, a Berlin date 30 days before", time.Date(2026, 10, 19, 23, 30, 0, 0, time.UTC), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := lotInput(t)
			in.InfectionTestsOn = tc.tests
			_, _, err := product.RegisterLot(uuid.New(), in, doses(t, 1), now)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			requireFields(t, err, "infection_tests_on")
		})
	}
}

func TestRegisterLotRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*product.LotInput, *[]product.Dose)
		fields []string
	}{
		{"no doses", func(_ *product.LotInput, d *[]product.Dose) { *d = nil }, []string{"doses"}},
		{"a dose without a DIN", func(_ *product.LotInput, d *[]product.Dose) { (*d)[1].DIN = product.DIN{} }, []string{"doses"}},
		{"a dose without an id", func(_ *product.LotInput, d *[]product.Dose) { (*d)[0].ProductID = uuid.Nil }, []string{"doses"}},
		{"two doses with one DIN", func(_ *product.LotInput, d *[]product.Dose) { (*d)[1].DIN = (*d)[0].DIN }, []string{"doses"}},
		{"two doses with one id", func(_ *product.LotInput, d *[]product.Dose) { (*d)[1].ProductID = (*d)[0].ProductID }, []string{"doses"}},
		{"a dose with the lot's DIN", func(in *product.LotInput, d *[]product.Dose) { (*d)[0].DIN = in.DIN }, []string{"doses"}},
		{"no donor id", func(in *product.LotInput, _ *[]product.Dose) { in.DonorID = " " }, []string{"donor_id"}},
		{"collected in the future", func(in *product.LotInput, _ *[]product.Dose) {
			in.CollectedAt = now.Add(time.Hour)
			in.InfectionTestsOn = now
		}, []string{"collected_at"}},
		{"expires before collection", func(in *product.LotInput, _ *[]product.Dose) { in.ExpiresAt = in.CollectedAt }, []string{"expires_at"}},
		{"expired", func(in *product.LotInput, _ *[]product.Dose) { in.ExpiresAt = now }, []string{"expires_at"}},
		{"nothing", func(in *product.LotInput, d *[]product.Dose) { *in = product.LotInput{}; *d = nil },
			[]string{"din", "donor_id", "doses", "collected_at", "infection_tests_on", "expires_at"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, ds := lotInput(t), doses(t, 2)
			tc.change(&in, &ds)
			lot, products, err := product.RegisterLot(uuid.New(), in, ds, now)
			requireFields(t, err, tc.fields...)
			require.Nil(t, lot)
			require.Nil(t, products)
		})
	}
}

func TestAllocate(t *testing.T) {
	t.Parallel()
	dose := func(t *testing.T) *product.Product {
		_, products, err := product.RegisterLot(uuid.New(), lotInput(t), doses(t, 1), now)
		require.NoError(t, err)
		return products[0]
	}
	tt := newTie()
	later := now.Add(time.Hour)

	p := dose(t)
	require.NoError(t, p.Allocate(tt.patientID, tt.courseID, tt.cycle, later))
	require.True(t, p.Allocated())
	require.Equal(t, tt.patientID, p.PatientID())
	require.Equal(t, tt.courseID, p.CourseID())
	require.Equal(t, tt.cycle, p.Cycle())
	require.Equal(t, later, p.AllocatedAt())
	require.Equal(t, int64(2), p.Version())
	require.ErrorIs(t, p.Allocate(tt.patientID, tt.courseID, tt.cycle, later), product.ErrAlreadyAllocated)
	require.ErrorIs(t, p.Allocate(uuid.New(), uuid.New(), 1, later), product.ErrAlreadyAllocated)
	require.Equal(t, int64(2), p.Version())

	expired := dose(t)
	require.ErrorIs(t, expired.Allocate(tt.patientID, tt.courseID, 1, expired.ExpiresAt()), product.ErrExpired)
	require.NoError(t, expired.Allocate(tt.patientID, tt.courseID, 1, expired.ExpiresAt().Add(-time.Nanosecond)))

	requireFields(t, dose(t).Allocate(uuid.Nil, uuid.Nil, 0, later), "patient_id", "course_id", "cycle")
	require.ErrorIs(t, stored(t, product.StatusReleased, tt).Allocate(tt.patientID, tt.courseID, 1, later),
		product.ErrNotDonorDose)
}
