package adapters_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/services/intake/internal/domain/consent"
	"github.com/clinicops/clinicops/services/intake/internal/domain/course"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
	"github.com/clinicops/clinicops/services/intake/internal/domain/screening"
)

var ra = program.Indication{System: program.SystemICD10, Code: "M05.79"}

func treatmentConsent(t *testing.T, patientID uuid.UUID) *consent.Consent {
	t.Helper()
	c, err := consent.New(uuid.Must(uuid.NewV7()), patientID, consent.Input{
		Kind: consent.KindTreatment, Program: "msc", FormVersion: "TC-3", SignedAt: now.Add(-time.Hour),
		SignedBy: consent.SignedByPatient, ProtocolID: "IRB-2025-117",
	}, now)
	require.NoError(t, err)
	return c
}

func (b bundle) screen(t *testing.T, patientID uuid.UUID, eligible bool) *screening.Screening {
	t.Helper()
	prog, err := b.programs.Get(context.Background(), "msc")
	require.NoError(t, err)
	s, err := screening.New(uuid.Must(uuid.NewV7()), patientID, prog, ra,
		map[string]bool{"active_infection": !eligible, "pregnant": false, "active_malignancy": false},
		time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC), now, now.Truncate(24*time.Hour))
	require.NoError(t, err)
	return s
}

func TestConsents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := b.addPatient(t, details("王", "小明", "+8613800138000"))
	c := treatmentConsent(t, p.ID())
	require.NoError(t, b.clinical.AddConsent(ctx, c))

	got, err := b.clinical.Consents(ctx, p.ID())
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, c.Input(), got[0].Input())
	require.Equal(t, c.Version(), got[0].Version())
	require.Empty(t, got[0].Events())

	rows := b.outbox(t)[1:] // after PatientRegistered
	require.Len(t, rows, 1)
	var rec intakev1.ConsentRecorded
	requireEvent(t, rows[0], c.ID(), &rec)
	require.EqualValues(t, 1, rec.GetVersion())
	require.Equal(t, p.ID().String(), rec.GetPatientId())
	require.Equal(t, "treatment", rec.GetKind())

	later := now.Add(time.Hour)
	w, err := b.clinical.UpdateConsent(ctx, p.ID(), c.ID(), func(c *consent.Consent) error { return c.Withdraw("moved", later) })
	require.NoError(t, err)
	require.EqualValues(t, 2, w.Version())
	got, err = b.clinical.Consents(ctx, p.ID())
	require.NoError(t, err)
	require.False(t, got[0].Active())
	require.Equal(t, later, got[0].WithdrawnAt())
	rows = b.outbox(t)[1:]
	require.Len(t, rows, 2)
	var wd intakev1.ConsentWithdrawn
	requireEvent(t, rows[1], c.ID(), &wd)
	require.EqualValues(t, 2, wd.GetVersion())
	require.Equal(t, "moved", wd.GetReason())

	// Failing or doing nothing writes nothing.
	_, err = b.clinical.UpdateConsent(ctx, p.ID(), c.ID(), func(c *consent.Consent) error { return c.Withdraw("again", later) })
	require.ErrorIs(t, err, consent.ErrAlreadyWithdrawn)
	_, err = b.clinical.UpdateConsent(ctx, p.ID(), c.ID(), func(*consent.Consent) error { return nil })
	require.NoError(t, err)
	require.Len(t, b.outbox(t), 3)
}

func TestConsentNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := b.addPatient(t, details("王", "小明", "+8613800138000"))
	other := b.addPatient(t, details("李", "雷", "+8613800138001"))
	c := treatmentConsent(t, p.ID())
	require.NoError(t, b.clinical.AddConsent(ctx, c))
	withdraw := func(c *consent.Consent) error { return c.Withdraw("moved", now) }

	_, err := b.clinical.UpdateConsent(ctx, other.ID(), c.ID(), withdraw)
	require.ErrorIs(t, err, consent.ErrNotFound, "another patient's consent")
	_, err = b.clinical.UpdateConsent(ctx, p.ID(), uuid.New(), withdraw)
	require.ErrorIs(t, err, consent.ErrNotFound)
	_, err = b.clinical.UpdateConsent(ctx, uuid.New(), c.ID(), withdraw)
	require.ErrorIs(t, err, patient.ErrNotFound)
	require.ErrorIs(t, b.clinical.AddConsent(ctx, treatmentConsent(t, uuid.New())), patient.ErrNotFound)
	require.Len(t, b.outbox(t), 3, "two registrations and one consent")
}

func TestScreenings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := b.addPatient(t, details("王", "小明", "+8613800138000"))
	for _, eligible := range []bool{true, false} {
		require.NoError(t, b.clinical.AddScreening(ctx, b.screen(t, p.ID(), eligible)))
	}
	got, err := b.clinical.Screenings(ctx, p.ID())
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.True(t, got[0].Eligible())
	require.False(t, got[1].Eligible())
	require.Equal(t, []string{screening.ReasonDisqualifyingAnswer}, []string{got[1].Result().Reasons[0].Code})
	require.EqualValues(t, 1, got[1].Version())
	require.Empty(t, got[1].Events())

	rows := b.outbox(t)[1:]
	require.Len(t, rows, 2)
	for i, s := range got {
		var ev intakev1.ScreeningCompleted
		requireEvent(t, rows[i], s.ID(), &ev)
		require.Equal(t, s.Version(), ev.GetVersion(), "the screening's version")
		require.Equal(t, s.Eligible(), ev.GetEligible())
		require.Equal(t, "msc", ev.GetProgram())
	}
	var ev intakev1.ScreeningCompleted
	requireEvent(t, rows[1], got[1].ID(), &ev)
	require.Equal(t, []string{screening.ReasonDisqualifyingAnswer}, ev.GetReasonCodes())

	require.ErrorIs(t, b.clinical.AddScreening(ctx, b.screen(t, uuid.New(), true)), patient.ErrNotFound)
	require.Len(t, b.outbox(t), 3)
}

func TestCourses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := b.addPatient(t, details("王", "小明", "+8613800138000"))
	prog, err := b.programs.Get(ctx, "msc")
	require.NoError(t, err)
	in := course.Input{Program: "msc", Indication: ra, PreferredStart: now.AddDate(0, 0, 14)}
	request := func(cs []*consent.Consent, ss []*screening.Screening) (*course.Course, error) {
		return course.Request(uuid.Must(uuid.NewV7()), p.ID(), in, cs, ss, prog, 0, now, now.Truncate(24*time.Hour))
	}

	// Preconditions are decided on what is stored, under the lock.
	_, err = b.clinical.RequestCourse(ctx, p.ID(), request)
	var pe *course.PreconditionError
	require.ErrorAs(t, err, &pe)
	require.Len(t, b.outbox(t), 1, "a refused request writes nothing")

	c := treatmentConsent(t, p.ID())
	require.NoError(t, b.clinical.AddConsent(ctx, c))
	s := b.screen(t, p.ID(), true)
	require.NoError(t, b.clinical.AddScreening(ctx, s))
	cr, err := b.clinical.RequestCourse(ctx, p.ID(), request)
	require.NoError(t, err)
	require.Equal(t, c.ID(), cr.ConsentID())
	require.Equal(t, s.ID(), cr.ScreeningID())

	got, err := b.clinical.Courses(ctx, p.ID())
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, cr.Input(), got[0].Input())
	require.Equal(t, prog.ProtocolVersion, got[0].ProtocolVersion())
	require.Empty(t, got[0].Events())
	rows := b.outbox(t)
	require.Len(t, rows, 4)
	var req intakev1.CourseRequested
	requireEvent(t, rows[3], cr.ID(), &req)
	require.EqualValues(t, 1, req.GetVersion())
	require.Equal(t, p.ID().String(), req.GetPatientId())
	require.Equal(t, in.PreferredStart.Format(time.DateOnly), req.GetPreferredStart())

	later := now.Add(time.Hour)
	cancel := func(c *course.Course) error { return c.Cancel("unwell", later) }
	cc, err := b.clinical.UpdateCourse(ctx, cr.ID(), cancel)
	require.NoError(t, err)
	require.EqualValues(t, 2, cc.Version())
	rows = b.outbox(t)
	require.Len(t, rows, 5)
	var can intakev1.CourseCancellationRequested
	requireEvent(t, rows[4], cr.ID(), &can)
	require.EqualValues(t, 2, can.GetVersion())
	require.Equal(t, "unwell", can.GetReason())

	_, err = b.clinical.UpdateCourse(ctx, cr.ID(), cancel)
	require.ErrorIs(t, err, course.ErrAlreadyCancelled)
	_, err = b.clinical.UpdateCourse(ctx, cr.ID(), func(*course.Course) error { return nil })
	require.NoError(t, err)
	_, err = b.clinical.UpdateCourse(ctx, uuid.New(), cancel)
	require.ErrorIs(t, err, course.ErrNotFound)
	require.Len(t, b.outbox(t), 5, "nothing more written")
	got, err = b.clinical.Courses(ctx, p.ID())
	require.NoError(t, err)
	require.Equal(t, course.StatusCancelled, got[0].Status())
	require.EqualValues(t, 2, got[0].Version())
}

// TestCourseRequestHoldsThePatientLock: a withdrawal that arrives while a
// course request is deciding waits for it, so a course never relies on a
// consent withdrawn in between.
func TestCourseRequestHoldsThePatientLock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := b.addPatient(t, details("王", "小明", "+8613800138000"))
	c := treatmentConsent(t, p.ID())
	require.NoError(t, b.clinical.AddConsent(ctx, c))

	deciding, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var requestErr error
	var sawActive bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, requestErr = b.clinical.RequestCourse(ctx, p.ID(), func(cs []*consent.Consent, _ []*screening.Screening) (*course.Course, error) {
			sawActive = cs[0].Active()
			close(deciding)
			<-release
			return nil, errors.New("decided not to")
		})
	}()
	<-deciding
	withdrawn := make(chan error, 1)
	go func() {
		_, err := b.clinical.UpdateConsent(ctx, p.ID(), c.ID(), func(c *consent.Consent) error { return c.Withdraw("moved", now) })
		withdrawn <- err
	}()
	b.waitForLockWait(t)
	select {
	case err := <-withdrawn:
		t.Fatalf("the withdrawal did not wait for the course request: %v", err)
	default:
	}
	close(release)
	wg.Wait()
	require.EqualError(t, requestErr, "decided not to")
	require.True(t, sawActive)
	require.NoError(t, <-withdrawn)
}
