package adapters_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/scheduling/internal/adapters"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/appointment"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/migrations"
)

var shanghai = func() *time.Location { l, _ := time.LoadLocation("Asia/Shanghai"); return l }()

// bundle is a scheduling store on a fresh database with the demo
// reference data, a fake clock and the use cases.
type bundle struct {
	db    *sqlx.DB
	store *adapters.Store
	app   *app.Scheduling
	clock *clock.Fake
}

// setup starts at Tuesday 2026-12-01 09:00 in Shanghai.
func setup(t testing.TB) bundle {
	t.Helper()
	ctx := context.Background()
	db, _ := testharness.DB(t, messaging.Migrations, migrations.Source)
	require.NoError(t, jobs.Migrate(ctx, db, testharness.Logger()))
	fake := clock.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, shanghai))
	s := &app.Scheduling{Clock: fake, Config: app.Config{Horizon: 8 * 7 * 24 * time.Hour, Grace: 30 * time.Minute,
		Facility: "G1234", Location: shanghai}}
	store := &adapters.Store{DB: db, Outbox: messaging.NewOutbox("scheduling", fake.Now), Config: s.Config}
	workers := river.NewWorkers()
	river.AddWorker(workers, &adapters.MissedCheckWorker{Store: store, App: s})
	jc, err := jobs.New(jobs.Config{DB: db, Log: testharness.Logger(), Clock: fake, Workers: workers})
	require.NoError(t, err)
	store.Jobs = jc
	require.NoError(t, adapters.Seed(ctx, db, fake.Now()))
	return bundle{db: db, store: store, app: s, clock: fake}
}

func (b bundle) patient(t *testing.T, birth time.Time) uuid.UUID {
	t.Helper()
	id := uuid.New()
	save(t, b.db, patientrefOf(id, birth))
	return id
}

func (b bundle) request(t *testing.T, program, version string) (uuid.UUID, uuid.UUID) {
	t.Helper()
	patient := b.patient(t, time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC))
	id := uuid.New()
	require.NoError(t, b.store.Do(context.Background(), func(r app.Repositories) error {
		return b.app.PlanCourse(context.Background(), r, course.Request{ID: id, PatientID: patient, Program: program,
			ProtocolVersion: version, IntakeVersion: 1})
	}))
	return id, patient
}

func (b bundle) appointments(t *testing.T, courseID uuid.UUID) []*appointment.Appointment {
	t.Helper()
	var out []*appointment.Appointment
	require.NoError(t, b.store.Do(context.Background(), func(r app.Repositories) (err error) {
		out, err = r.Appointments().OfCourse(context.Background(), courseID)
		return err
	}))
	return out
}

func (b bundle) course(t *testing.T, id uuid.UUID) *course.Course {
	t.Helper()
	var c *course.Course
	require.NoError(t, b.store.Do(context.Background(), func(r app.Repositories) (err error) {
		c, err = r.Courses().Get(context.Background(), id)
		return err
	}))
	return c
}

func byKind(as []*appointment.Appointment) map[string]*appointment.Appointment {
	m := map[string]*appointment.Appointment{}
	for _, a := range as {
		m[a.Details().Kind] = a
	}
	return m
}

func TestPlanCourseBooksTheFirstChain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, _ := b.request(t, "nk-autologous", "NK-AUTO-2026.1")
	c := b.course(t, id)
	require.Equal(t, course.Planned, c.Status())
	require.Len(t, c.Cycles(), 6, "initial x3, consolidation x2, maintenance x1")
	require.Equal(t, course.CycleBooked, c.Cycles()[0].Status)
	require.Equal(t, course.CyclePlanned, c.Cycles()[1].Status)

	as := byKind(b.appointments(t, id))
	require.Len(t, as, 3)
	draw, culture, infusion := as["draw"].Details(), as["culture"].Details(), as["infusion"].Details()
	require.Equal(t, time.Date(2026, 12, 1, 9, 0, 0, 0, shanghai).UTC(), draw.Start, "the first free grid time")
	require.False(t, culture.Start.Before(draw.End), "the culture starts after the draw")
	require.Equal(t, 14*24*time.Hour, culture.End.Sub(culture.Start))
	require.False(t, infusion.Start.Before(culture.End), "the infusion waits for the culture")
	require.False(t, infusion.Start.Add(time.Hour).After(culture.End.Add(72*time.Hour)), "inside the viability window")
	require.Equal(t, 5*time.Hour, infusion.End.Sub(infusion.Start), "1 h infusion + 4 h observation")
	require.Equal(t, 4, countOutbox(t, b.db, "clinicops.scheduling.v1.AppointmentBooked")+countOutbox(t, b.db, "clinicops.scheduling.v1.CoursePlanned"))

	// A repeated CourseRequested changes nothing.
	require.NoError(t, b.store.Do(context.Background(), func(r app.Repositories) error {
		return b.app.PlanCourse(context.Background(), r, course.Request{ID: id, PatientID: c.PatientID(),
			Program: "nk-autologous", ProtocolVersion: "NK-AUTO-2026.1", IntakeVersion: 1})
	}))
	require.Len(t, b.appointments(t, id), 3)
	require.Equal(t, 1, countOutbox(t, b.db, "clinicops.scheduling.v1.CoursePlanned"))
}

func TestUnknownProtocolUnplansWithTheReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, _ := b.request(t, "nk-autologous", "NK-AUTO-1999.9")
	c := b.course(t, id)
	require.Equal(t, course.Unplanned, c.Status())
	reason, _ := c.Reason()
	require.Equal(t, "no_protocol", reason)
	require.Equal(t, 1, countOutbox(t, b.db, "clinicops.scheduling.v1.CourseUnplanned"))
}

func TestLastCultureSlotGoesToOneCourseTheOtherWaits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Leave one culture slot: deactivate seven of the eight.
	_, err := b.db.Exec(`UPDATE resources SET active = false WHERE kind = 'culture_slot' AND name <> 'Culture slot 1'`)
	require.NoError(t, err)
	var wg sync.WaitGroup
	ids := make([]uuid.UUID, 2)
	for i := range ids {
		wg.Add(1)
		go func() { defer wg.Done(); ids[i], _ = b.request(t, "nk-autologous", "NK-AUTO-2026.1") }()
	}
	wg.Wait()
	c0 := byKind(b.appointments(t, ids[0]))["culture"].Details()
	c1 := byKind(b.appointments(t, ids[1]))["culture"].Details()
	require.Equal(t, c0.ResourceID, c1.ResourceID)
	require.False(t, c0.Start.Before(c1.BlockedUntil) && c1.Start.Before(c0.BlockedUntil),
		"the two cultures never overlap on the one slot: one course got it, the other's chain starts after")
}

func TestSixtyFourClientsOneChairSlotExactlyOneWins(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var chair uuid.UUID
	require.NoError(t, b.db.Get(&chair, `SELECT id FROM resources WHERE name = 'Chair 1'`))
	start := time.Date(2026, 12, 2, 10, 0, 0, 0, shanghai)
	patients := make([]uuid.UUID, 64)
	for i := range patients {
		patients[i] = b.patient(t, time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	var won, conflicts atomic.Int32
	var wg sync.WaitGroup
	for _, p := range patients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.store.Do(context.Background(), func(r app.Repositories) error {
				_, err := b.app.Book(context.Background(), r, app.AdHoc{PatientID: p, Kind: "consultation", ResourceID: chair,
					Start: start, End: start.Add(time.Hour)})
				return err
			})
			var conflict *app.ConflictError
			switch {
			case err == nil:
				won.Add(1)
			case errors.As(err, &conflict):
				conflicts.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, won.Load())
	require.EqualValues(t, 63, conflicts.Load())
	var n int
	require.NoError(t, b.db.Get(&n, `SELECT count(*) FROM appointments WHERE resource_id = $1`, chair))
	require.Equal(t, 1, n)
}

func TestDoubleBookingIsRefusedNamingTheCollision(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var chair uuid.UUID
	require.NoError(t, b.db.Get(&chair, `SELECT id FROM resources WHERE name = 'Chair 2'`))
	p1, p2 := b.patient(t, time.Now()), b.patient(t, time.Now())
	start := time.Date(2026, 12, 2, 10, 0, 0, 0, shanghai)
	book := func(p uuid.UUID, s time.Time) (*appointment.Appointment, error) {
		var a *appointment.Appointment
		err := b.store.Do(context.Background(), func(r app.Repositories) (err error) {
			a, err = b.app.Book(context.Background(), r, app.AdHoc{PatientID: p, Kind: "consultation", ResourceID: chair, Start: s, End: s.Add(time.Hour)})
			return err
		})
		return a, err
	}
	first, err := book(p1, start)
	require.NoError(t, err)
	_, err = book(p2, start.Add(30*time.Minute))
	var conflict *app.ConflictError
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, "resource", conflict.What)
	require.Equal(t, first.ID(), conflict.With.ID)
	// The same patient elsewhere at the same time.
	var other uuid.UUID
	require.NoError(t, b.db.Get(&other, `SELECT id FROM resources WHERE name = 'Chair 3'`))
	err = b.store.Do(context.Background(), func(r app.Repositories) error {
		_, err := b.app.Book(context.Background(), r, app.AdHoc{PatientID: p1, Kind: "consultation", ResourceID: other, Start: start, End: start.Add(time.Hour)})
		return err
	})
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, "patient", conflict.What)
	// Back to back is fine.
	_, err = book(p2, start.Add(time.Hour))
	require.NoError(t, err)
}

func countOutbox(t *testing.T, db *sqlx.DB, eventType string) int {
	t.Helper()
	var n int
	require.NoError(t, db.Get(&n, `SELECT count(*) FROM outbox WHERE subject = $1`, eventType))
	return n
}

// chain completes the first cycle's chain up to a released product.
func (b bundle) releasedProduct(t *testing.T) (courseID, patient uuid.UUID, din string) {
	t.Helper()
	ctx := context.Background()
	courseID, patient = b.request(t, "nk-autologous", "NK-AUTO-2026.1")
	as := byKind(b.appointments(t, courseID))
	draw := as["draw"]
	b.clock.Set(draw.Details().Start)
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		if _, err := b.app.CheckIn(ctx, r, draw.ID()); err != nil {
			return err
		}
		res, err := b.app.Complete(ctx, r, draw.ID(), nil)
		if err != nil {
			return err
		}
		din = res.Product.DIN().String()
		return nil
	}))
	d, err := product.ParseDIN(din)
	require.NoError(t, err)
	// The funding gate: no culture before billing reports the deposit paid.
	require.ErrorIs(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.StartCulture(ctx, r, d)
		return err
	}), course.ErrNotFunded)
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		if err := b.app.Fund(ctx, r, courseID); err != nil {
			return err
		}
		_, err := b.app.StartCulture(ctx, r, d)
		return err
	}))
	b.clock.Set(as["culture"].Details().End)
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.Release(ctx, r, d, product.QC{ViabilityPct: 95, PurityPct: 93, EndotoxinEUPerML: 1,
			Sterility: product.Negative, Mycoplasma: product.Negative})
		return err
	}))
	require.Equal(t, course.Released, b.course(t, courseID).Status())
	return courseID, patient, din
}

func TestInfusionOnlyWithTheRightProduct(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	courseID, patient, din := b.releasedProduct(t)
	_, otherPatient, otherDIN := b.releasedProduct(t)
	infusion := byKind(b.appointments(t, courseID))["infusion"]
	b.clock.Set(infusion.Details().Start)
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.CheckIn(ctx, r, infusion.ID())
		return err
	}))
	birth := time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)
	complete := func(in app.Infusion) app.Completed {
		var res app.Completed
		require.NoError(t, b.store.Do(ctx, func(r app.Repositories) (err error) {
			res, err = b.app.Complete(ctx, r, infusion.ID(), &in)
			return err
		}))
		return res
	}
	refusals := []struct {
		name string
		in   app.Infusion
		want product.Reason
	}{
		{"another patient's product", app.Infusion{ProductID: otherDIN, PatientID: patient, BirthDate: birth, DoseCells: 1e8}, product.ReasonWrongPatient},
		{"wrong patient at the bedside", app.Infusion{ProductID: din, PatientID: otherPatient, BirthDate: birth, DoseCells: 1e8}, product.ReasonWrongPatient},
		{"wrong birth date", app.Infusion{ProductID: din, PatientID: patient, BirthDate: birth.AddDate(0, 0, 1), DoseCells: 1e8}, product.ReasonWrongBirthDate},
		{"unknown id", app.Infusion{ProductID: "G123499999999", PatientID: patient, BirthDate: birth, DoseCells: 1e8}, product.ReasonUnknownProduct},
		{"bad check character", app.Infusion{ProductID: din[:13] + "0", PatientID: patient, BirthDate: birth, DoseCells: 1e8}, product.ReasonBadCheckCharacter},
	}
	for _, tc := range refusals {
		res := complete(tc.in)
		require.NotNil(t, res.Refused, tc.name)
		require.Equal(t, tc.want, res.Refused.Reason, tc.name)
	}
	require.Equal(t, len(refusals), countOutbox(t, b.db, "clinicops.scheduling.v1.InfusionBlocked"))
	var blocks int
	require.NoError(t, b.db.Get(&blocks, `SELECT count(*) FROM infusion_blocks WHERE appointment_id = $1`, infusion.ID()))
	require.Equal(t, len(refusals), blocks, "every refusal is on record")

	res := complete(app.Infusion{ProductID: din, PatientID: patient, BirthDate: birth, DoseCells: 1.2e8})
	require.Nil(t, res.Refused)
	require.Equal(t, appointment.Completed, res.Appointment.Status())
	c := b.course(t, courseID)
	require.Equal(t, course.Infusing, c.Status())
	require.Equal(t, course.CycleCompleted, c.Cycles()[0].Status)
	require.Equal(t, course.CycleBooked, c.Cycles()[1].Status, "the next cycle's chain is booked when its turn comes")
	require.Len(t, b.appointments(t, courseID), 6)
}

func TestFailedProductReplansTheCycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	courseID, _ := b.request(t, "nk-autologous", "NK-AUTO-2026.1")
	as := byKind(b.appointments(t, courseID))
	b.clock.Set(as["draw"].Details().Start)
	var din product.DIN
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		if _, err := b.app.CheckIn(ctx, r, as["draw"].ID()); err != nil {
			return err
		}
		res, err := b.app.Complete(ctx, r, as["draw"].ID(), nil)
		if err == nil {
			din = res.Product.DIN()
		}
		return err
	}))
	b.clock.Advance(24 * time.Hour)
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.Fail(ctx, r, din, "culture_contaminated")
		return err
	}))
	c := b.course(t, courseID)
	require.Equal(t, course.Planned, c.Status())
	all := b.appointments(t, courseID)
	var booked, cancelled int
	for _, a := range all {
		switch a.Status() {
		case appointment.Booked:
			booked++
		case appointment.Cancelled:
			cancelled++
			require.Equal(t, "product_failed", a.State().Reason)
		}
	}
	require.Equal(t, 3, booked, "a new draw, culture and infusion")
	require.Equal(t, 2, cancelled, "the old culture and infusion")
	require.Equal(t, 2, countOutbox(t, b.db, "clinicops.scheduling.v1.CoursePlanned"), "the plan and the re-plan")
	require.Equal(t, 1, countOutbox(t, b.db, "clinicops.scheduling.v1.ProductFailed"))
}

func TestHoldSuspendsInfusionsAndResumeRebooks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	courseID, _ := b.request(t, "nk-autologous", "NK-AUTO-2026.1")
	inf := byKind(b.appointments(t, courseID))["infusion"].Details()
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.Hold(ctx, r, courseID, "clinician")
		return err
	}))
	require.Equal(t, course.OnHold, b.course(t, courseID).Status())
	require.Equal(t, appointment.Suspended, byKind(b.appointments(t, courseID))["infusion"].Status())
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.Resume(ctx, r, courseID)
		return err
	}))
	require.Equal(t, course.Planned, b.course(t, courseID).Status())
	again := byKind(b.appointments(t, courseID))["infusion"]
	require.Equal(t, appointment.Booked, again.Status())
	require.Equal(t, inf.Start, again.Details().Start, "its old time was still free")
}

func TestCancelCourseCancelsTheFuture(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	courseID, patient := b.request(t, "nk-autologous", "NK-AUTO-2026.1")
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		return b.app.CancelCoursesOf(ctx, r, patient, "nk-autologous", "consent_withdrawn")
	}))
	require.Equal(t, course.Cancelled, b.course(t, courseID).Status())
	for _, a := range b.appointments(t, courseID) {
		require.Equal(t, appointment.Cancelled, a.Status())
	}
	require.Equal(t, 3, countOutbox(t, b.db, "clinicops.scheduling.v1.AppointmentCancelled"))
	require.Equal(t, 1, countOutbox(t, b.db, "clinicops.scheduling.v1.CourseCancelled"))
	// Again: nothing more.
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.CancelCourse(ctx, r, courseID, "again")
		return err
	}))
	require.Equal(t, 1, countOutbox(t, b.db, "clinicops.scheduling.v1.CourseCancelled"))
}

// TestMissedVisitIsMarkedByTheDurableJob: the job inserted with the
// booking runs when the clock passes start+grace and marks the visit
// missed, once; a visit moved in the meantime is judged at its new time.
func TestMissedVisitIsMarkedByTheDurableJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.store.Jobs.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	var chair uuid.UUID
	require.NoError(t, b.db.Get(&chair, `SELECT id FROM resources WHERE name = 'Chair 4'`))
	p1, p2 := b.patient(t, time.Now()), b.patient(t, time.Now())
	start := time.Date(2026, 12, 2, 10, 0, 0, 0, shanghai)
	var missed, moved *appointment.Appointment
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) (err error) {
		if missed, err = b.app.Book(ctx, r, app.AdHoc{PatientID: p1, Kind: "consultation", ResourceID: chair, Start: start, End: start.Add(time.Hour)}); err != nil {
			return err
		}
		moved, err = b.app.Book(ctx, r, app.AdHoc{PatientID: p2, Kind: "consultation", ResourceID: chair, Start: start.Add(2 * time.Hour), End: start.Add(3 * time.Hour)})
		return err
	}))
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.Reschedule(ctx, r, moved.ID(), start.Add(26*time.Hour), app.This)
		return err
	}))
	status := func(id uuid.UUID) string {
		var s string
		require.NoError(t, b.db.Get(&s, `SELECT status FROM appointments WHERE id = $1`, id))
		return s
	}
	b.clock.Set(start.Add(3 * time.Hour)) // past both the first visit's and the moved one's old grace
	testharness.Eventually(t, 15*time.Second, func() bool { return status(missed.ID()) == "missed" }, "the job marks the visit missed")
	testharness.Eventually(t, 15*time.Second, func() bool {
		var due int
		require.NoError(t, b.db.Get(&due, `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded')
			AND scheduled_at <= $1`, b.clock.Now()))
		return due == 0
	}, "every due check ran, the moved visit's old one too")
	require.Equal(t, "booked", status(moved.ID()), "the old time's job found it moved")
	require.Equal(t, 1, countOutbox(t, b.db, "clinicops.scheduling.v1.AppointmentMissed"))
}

func TestHSCTChainAndDonorDoseAllocation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	hsct, _ := b.request(t, "hsct-autologous", "HSCT-AUTO-2026.1")
	require.Equal(t, course.Planned, b.course(t, hsct).Status())
	kinds := map[string]int{}
	for _, a := range b.appointments(t, hsct) {
		kinds[a.Details().Kind]++
	}
	require.Equal(t, map[string]int{"mobilisation": 1, "apheresis": 2, "conditioning": 1, "reinfusion": 1, "engraftment_check": 3}, kinds)

	// A donor program with no released lot waits, with the reason.
	msc, _ := b.request(t, "msc", "MSC-2026.1")
	require.Equal(t, course.Unplanned, b.course(t, msc).Status())
	reason, _ := b.course(t, msc).Reason()
	require.Equal(t, "no_donor_dose", reason)

	// The lab registers a lot of two doses; two courses take one each.
	lotDIN, err := product.NewDIN("G1234", 26, 900001)
	require.NoError(t, err)
	now := b.clock.Now()
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, _, err := b.app.RegisterLot(ctx, r, app.Lot{Program: "msc", Doses: 2, Input: product.LotInput{DIN: lotDIN,
			DonorID: "donor-0042", CollectedAt: now.AddDate(0, 0, -10).In(shanghai), InfectionTestsOn: now.AddDate(0, 0, -20).In(shanghai),
			ExpiresAt: now.AddDate(0, 6, 0)}})
		return err
	}))
	first, _ := b.request(t, "msc", "MSC-2026.1")
	second, _ := b.request(t, "msc", "MSC-2026.1")
	third, _ := b.request(t, "msc", "MSC-2026.1")
	d1 := byKind(b.appointments(t, first))["infusion"].Details().ProductID
	d2 := byKind(b.appointments(t, second))["infusion"].Details().ProductID
	require.NotEmpty(t, d1)
	require.NotEqual(t, d1, d2, "one dose per infusion")
	require.Equal(t, course.Unplanned, b.course(t, third).Status(), "the lot is used up")
}

// TestRescheduleKeepsTheInfusionInsideItsWindow: an infusion moved before
// its culture ends, or past the product's viability, is refused with the
// reason; moving the draw with "following" moves the whole chain.
func TestRescheduleKeepsTheInfusionInsideItsWindow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	courseID, _ := b.request(t, "nk-autologous", "NK-AUTO-2026.1")
	as := byKind(b.appointments(t, courseID))
	draw, culture, infusion := as["draw"].Details(), as["culture"].Details(), as["infusion"].Details()
	move := func(id uuid.UUID, start time.Time, scope app.Scope) error {
		return b.store.Do(ctx, func(r app.Repositories) error {
			_, err := b.app.Reschedule(ctx, r, id, start, scope)
			return err
		})
	}
	var viability *app.ViabilityError
	early := time.Date(2026, 12, 14, 8, 0, 0, 0, shanghai)
	require.True(t, early.Before(culture.End))
	require.ErrorAs(t, move(infusion.ID, early, app.This), &viability)
	require.Contains(t, viability.Reason, "before the culture before it ends")
	late := culture.End.Add(72 * time.Hour).In(shanghai)
	late = time.Date(late.Year(), late.Month(), late.Day(), 9, 0, 0, 0, shanghai)
	require.ErrorAs(t, move(infusion.ID, late, app.This), &viability)
	require.Contains(t, viability.Reason, "viability")
	require.ErrorIs(t, move(infusion.ID, time.Date(2026, 12, 15, 20, 0, 0, 0, shanghai), app.This), app.ErrOutsideHours)
	require.ErrorAs(t, move(draw.ID, draw.Start.AddDate(0, 0, 20), app.This), &viability, "the draw after its own infusion")
	require.Contains(t, viability.Reason, "culture would start before the draw before it ends")
	unchanged := byKind(b.appointments(t, courseID))["infusion"].Details()
	require.Equal(t, infusion.Start, unchanged.Start, "a refused move changes nothing")

	// The whole chain a week later.
	require.NoError(t, move(draw.ID, draw.Start.AddDate(0, 0, 7), app.Following))
	moved := byKind(b.appointments(t, courseID))
	require.Equal(t, draw.Start.AddDate(0, 0, 7), moved["draw"].Details().Start)
	require.Equal(t, culture.Start.AddDate(0, 0, 7), moved["culture"].Details().Start)
	require.Equal(t, infusion.Start.AddDate(0, 0, 7), moved["infusion"].Details().Start)
	require.Equal(t, 3, countOutbox(t, b.db, "clinicops.scheduling.v1.AppointmentRescheduled"))
}

// TestHoldAroundTheInfusion: an infusion under way when the course is held
// is still recorded (the cells were given) and the next cycle waits for
// the resume; a culture under way cannot move.
func TestHoldAroundTheInfusion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	courseID, patient, din := b.releasedProduct(t)
	as := byKind(b.appointments(t, courseID))
	err := b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.Reschedule(ctx, r, as["culture"].ID(), as["culture"].Details().Start.Add(time.Hour), app.Following)
		return err
	})
	require.Error(t, err, "a culture that started, or whose time passed, does not move")

	inf := as["infusion"]
	b.clock.Set(inf.Details().Start)
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		if _, err := b.app.CheckIn(ctx, r, inf.ID()); err != nil {
			return err
		}
		_, err := b.app.Hold(ctx, r, courseID, "adverse_event")
		return err
	}))
	var res app.Completed
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) (err error) {
		res, err = b.app.Complete(ctx, r, inf.ID(), &app.Infusion{ProductID: din, PatientID: patient,
			BirthDate: time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC), DoseCells: 1e8})
		return err
	}))
	require.Nil(t, res.Refused)
	c := b.course(t, courseID)
	require.Equal(t, course.OnHold, c.Status(), "still held")
	require.Equal(t, course.CyclePlanned, c.Cycles()[1].Status, "the next cycle waits for the resume")
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.Resume(ctx, r, courseID)
		return err
	}))
	c = b.course(t, courseID)
	require.Equal(t, course.Infusing, c.Status())
	require.Equal(t, course.CycleBooked, c.Cycles()[1].Status, "booked on resume")
}

// TestResumePastTheWindowReplansTheCycle: a held course whose product
// expired meanwhile gets a new chain for the cycle on resume, never a
// silent gap.
func TestResumePastTheWindowReplansTheCycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	courseID, _ := b.request(t, "nk-autologous", "NK-AUTO-2026.1")
	draw := byKind(b.appointments(t, courseID))["draw"]
	b.clock.Set(draw.Details().Start)
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		if _, err := b.app.CheckIn(ctx, r, draw.ID()); err != nil {
			return err
		}
		if _, err := b.app.Complete(ctx, r, draw.ID(), nil); err != nil {
			return err
		}
		_, err := b.app.Hold(ctx, r, courseID, "clinician")
		return err
	}))
	require.Equal(t, appointment.Suspended, byKind(b.appointments(t, courseID))["infusion"].Status())
	b.clock.Advance(21 * 24 * time.Hour) // the culture ended a week ago: past the 72 h window
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.Resume(ctx, r, courseID)
		return err
	}))
	c := b.course(t, courseID)
	require.Equal(t, course.Planned, c.Status(), "re-planned: a new draw")
	booked := map[string]int{}
	for _, a := range b.appointments(t, courseID) {
		if a.Status() == appointment.Booked {
			booked[a.Details().Kind]++
			require.False(t, a.Details().Start.Before(b.clock.Now()), "%s at %s", a.Details().Kind, a.Details().Start)
		}
	}
	require.Equal(t, map[string]int{"draw": 1, "culture": 1, "infusion": 1}, booked)
	require.Equal(t, 2, countOutbox(t, b.db, "clinicops.scheduling.v1.CoursePlanned"))
}

// TestCancelledCourseReturnsItsDonorDose: a dose allocated to a course
// that is cancelled goes back to the inventory.
func TestCancelledCourseReturnsItsDonorDose(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	lotDIN, err := product.NewDIN("G1234", 26, 900101)
	require.NoError(t, err)
	now := b.clock.Now()
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, _, err := b.app.RegisterLot(ctx, r, app.Lot{Program: "msc", Doses: 1, Input: product.LotInput{DIN: lotDIN,
			DonorID: "donor-7", CollectedAt: now.AddDate(0, 0, -3).In(shanghai), InfectionTestsOn: now.AddDate(0, 0, -10).In(shanghai),
			ExpiresAt: now.AddDate(0, 3, 0)}})
		return err
	}))
	first, _ := b.request(t, "msc", "MSC-2026.1")
	dose := byKind(b.appointments(t, first))["infusion"].Details().ProductID
	require.NotEmpty(t, dose)
	require.NoError(t, b.store.Do(ctx, func(r app.Repositories) error {
		_, err := b.app.CancelCourse(ctx, r, first, "patient_request")
		return err
	}))
	second, _ := b.request(t, "msc", "MSC-2026.1")
	require.Equal(t, course.Planned, b.course(t, second).Status())
	require.Equal(t, dose, byKind(b.appointments(t, second))["infusion"].Details().ProductID, "the same dose, returned")
}
