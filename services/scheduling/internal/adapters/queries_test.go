package adapters_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/adapters"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/seed"
)

// The plan as the API reads it: a course planned and carried to release
// through the use cases, read back with plain SQL.
func TestQueriesCoursePlanAndProduct(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	q := adapters.Queries{DB: b.db, Location: shanghai}

	courseID, patient, din := b.releasedProduct(t)
	plan, err := q.Course(ctx, courseID)
	require.NoError(t, err)
	require.Equal(t, "released", plan.Status)
	require.Equal(t, patient, plan.PatientID)
	require.Equal(t, "NK-AUTO-2026.1", plan.ProtocolVersion)
	require.Len(t, plan.Cycles, 6, "3 initial + 2 consolidation + 1 maintenance")
	first := plan.Cycles[0]
	require.Equal(t, "booked", first.Status)
	var kinds []string
	for _, a := range first.Appointments {
		kinds = append(kinds, a.Kind)
		require.Equal(t, 1, a.Cycle)
	}
	require.Equal(t, []string{"draw", "culture", "infusion"}, kinds, "in start order")
	require.Len(t, first.Products, 1)
	p := first.Products[0]
	require.Equal(t, din, p.DIN)
	require.Equal(t, "released", p.Status)
	require.NotNil(t, p.QC)
	require.InDelta(t, 95, p.QC.ViabilityPct, 0.001)
	require.Equal(t, "negative", p.QC.Sterility)
	require.False(t, p.ReleasedAt.IsZero())
	require.False(t, p.ExpiresAt.IsZero())
	require.Empty(t, plan.Cycles[1].Appointments, "later cycles are dates until their turn")

	// The product by its DIN, as stored or as scanned with its check character.
	d, err := product.ParseDIN(din)
	require.NoError(t, err)
	for _, id := range []string{din, d.String() + string(d.Check()), d.Label()} {
		got, err := q.Product(ctx, id)
		require.NoError(t, err, id)
		require.Equal(t, p.ID, got.ID)
		require.Equal(t, courseID, got.CourseID)
	}
	_, err = q.Product(ctx, "G123426999999")
	require.ErrorIs(t, err, product.ErrNotFound)
	_, err = q.Course(ctx, uuid.New())
	require.Error(t, err)
}

// The appointment list: overlap with [From, To), filters and a keyset
// cursor that visits every appointment once.
func TestQueriesAppointmentsFilterAndPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	q := adapters.Queries{DB: b.db, Location: shanghai}
	c1, p1 := b.request(t, "nk-autologous", "NK-AUTO-2026.1")
	c2, _ := b.request(t, "nk-autologous", "NK-AUTO-2026.1")

	all, next, err := q.Appointments(ctx, app.AppointmentFilter{Limit: 100})
	require.NoError(t, err)
	require.Nil(t, next)
	require.Len(t, all, 6, "two chains of draw, culture, infusion")

	mine, _, err := q.Appointments(ctx, app.AppointmentFilter{Limit: 100, PatientID: p1})
	require.NoError(t, err)
	require.Len(t, mine, 3)
	for _, a := range mine {
		require.Equal(t, c1, a.CourseID)
	}
	other, _, err := q.Appointments(ctx, app.AppointmentFilter{Limit: 100, CourseID: c2, Status: "booked"})
	require.NoError(t, err)
	require.Len(t, other, 3)

	// A culture spans 14 days: a day in the middle of it lists it.
	var culture app.AppointmentView
	for _, a := range mine {
		if a.Kind == "culture" {
			culture = a
		}
	}
	mid := culture.Start.Add(7 * 24 * time.Hour)
	day, _, err := q.Appointments(ctx, app.AppointmentFilter{Limit: 100, PatientID: p1, From: mid, To: mid.Add(time.Hour)})
	require.NoError(t, err)
	require.Len(t, day, 1)
	require.Equal(t, culture.ID, day[0].ID)
	onResource, _, err := q.Appointments(ctx, app.AppointmentFilter{Limit: 100, ResourceID: culture.ResourceID})
	require.NoError(t, err)
	require.Contains(t, ids(onResource), culture.ID)

	// Pages of two: every appointment once, in (start, id) order.
	var seen []uuid.UUID
	f := app.AppointmentFilter{Limit: 2}
	for range 10 {
		page, next, err := q.Appointments(ctx, f)
		require.NoError(t, err)
		seen = append(seen, ids(page)...)
		if next == nil {
			break
		}
		f.After = next
	}
	require.Equal(t, ids(all), seen)
}

func ids(as []app.AppointmentView) []uuid.UUID {
	out := make([]uuid.UUID, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// The admin writes: a protocol version is refused once a course uses it,
// names are unique, closures come and go once.
func TestReferenceAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	q := adapters.Queries{DB: b.db, Location: shanghai}
	admin := adapters.ReferenceAdmin{DB: b.db}
	now := b.clock.Now()

	data, err := seed.Reference()
	require.NoError(t, err)
	pj := data.Protocols[0]
	pj.Version = "NK-AUTO-2027.1"
	p, err := pj.ToDomain()
	require.NoError(t, err)
	created, err := admin.PutProtocol(ctx, p, now)
	require.NoError(t, err)
	require.True(t, created)
	p.DoseCells = 2e8
	created, err = admin.PutProtocol(ctx, p, now)
	require.NoError(t, err)
	require.False(t, created, "an unused version may be corrected")
	got, err := q.Protocol(ctx, "nk-autologous", "NK-AUTO-2027.1")
	require.NoError(t, err)
	require.EqualValues(t, 2e8, got.Protocol.DoseCells)
	require.False(t, got.InUse)

	courseID, _ := b.request(t, "nk-autologous", "NK-AUTO-2027.1")
	p.DoseCells = 3e8
	_, err = admin.PutProtocol(ctx, p, now)
	require.ErrorIs(t, err, app.ErrProtocolInUse)
	got, err = q.Protocol(ctx, "nk-autologous", "NK-AUTO-2027.1")
	require.NoError(t, err)
	require.EqualValues(t, 2e8, got.Protocol.DoseCells, "unchanged")
	require.True(t, got.InUse)
	plan, err := q.Course(ctx, courseID)
	require.NoError(t, err)
	require.Equal(t, "planned", plan.Status)
	list, err := q.Protocols(ctx, "nk-autologous")
	require.NoError(t, err)
	require.Len(t, list, 2)
	_, err = q.Protocol(ctx, "nk-autologous", "nope")
	require.ErrorIs(t, err, app.ErrNoProtocol)

	chair := app.ResourceView{ID: uuid.New(), Kind: "infusion_chair", Name: "Chair Z", Active: true, UpdatedAt: now}
	require.NoError(t, admin.AddResource(ctx, chair))
	dup := chair
	dup.ID = uuid.New()
	require.ErrorIs(t, admin.AddResource(ctx, dup), app.ErrResourceNameTaken)
	off := false
	name := "Chair Y"
	v, err := admin.PatchResource(ctx, chair.ID, &name, &off, now)
	require.NoError(t, err)
	require.Equal(t, "Chair Y", v.Name)
	require.False(t, v.Active)
	rv, err := q.Resource(ctx, chair.ID)
	require.NoError(t, err)
	require.Equal(t, v, rv)
	_, err = admin.PatchResource(ctx, uuid.New(), &name, nil, now)
	require.ErrorIs(t, err, app.ErrNoResource)
	rs, err := q.Resources(ctx)
	require.NoError(t, err)
	taken := rs[0].Name
	_, err = admin.PatchResource(ctx, chair.ID, &taken, nil, now)
	require.ErrorIs(t, err, app.ErrResourceNameTaken)

	hours := []calendar.Hours{{Weekday: time.Monday, Open: 8 * 60, Close: 12 * 60}, {Weekday: time.Monday, Open: 13 * 60, Close: 17 * 60}}
	require.NoError(t, admin.ReplaceHours(ctx, hours))
	cal, err := q.Calendar(ctx)
	require.NoError(t, err)
	require.Equal(t, hours, cal.Hours)

	day := time.Date(2027, 3, 3, 0, 0, 0, 0, time.UTC)
	require.NoError(t, admin.AddClosure(ctx, calendar.Closure{Date: day, Reason: "staff training"}))
	require.ErrorIs(t, admin.AddClosure(ctx, calendar.Closure{Date: day, Reason: "again"}), app.ErrClosureExists)
	cal, err = q.Calendar(ctx)
	require.NoError(t, err)
	require.Contains(t, cal.Closures, calendar.Closure{Date: day, Reason: "staff training"})
	require.NoError(t, admin.DeleteClosure(ctx, day))
	require.ErrorIs(t, admin.DeleteClosure(ctx, day), app.ErrNoClosure)
}
