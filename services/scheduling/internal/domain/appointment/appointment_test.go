package appointment_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/appointment"
)

var (
	shanghai = mustZone("Asia/Shanghai")
	berlin   = mustZone("Europe/Berlin")
)

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func booked(t *testing.T, start time.Time) *appointment.Appointment {
	t.Helper()
	a, err := appointment.Book(appointment.Details{ID: uuid.New(), PatientID: uuid.New(), ResourceID: uuid.New(),
		Kind: "infusion", PatientPresent: true, Start: start, End: start.Add(5 * time.Hour)}, start.Add(-48*time.Hour))
	require.NoError(t, err)
	return a
}

// Check-in happens on the appointment's day in the clinic's zone: 07:30 in
// Shanghai is 23:30 UTC the day before, and must count as the same day.
func TestCheckInOnItsDayInTheClinicsZone(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 2, 7, 30, 0, 0, shanghai)
	tests := []struct {
		name string
		now  time.Time
		loc  *time.Location
		want error
	}{
		{"same local day, the previous UTC day", time.Date(2026, 12, 2, 0, 5, 0, 0, shanghai), shanghai, nil},
		{"the evening before", time.Date(2026, 12, 1, 23, 55, 0, 0, shanghai), shanghai, appointment.ErrNotToday},
		{"weeks before", start.AddDate(0, 0, -21), shanghai, appointment.ErrNotToday},
		{"after it ended", start.Add(5 * time.Hour), shanghai, appointment.ErrNotToday},
		{"during", start.Add(time.Hour), shanghai, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := booked(t, start)
			err := a.CheckIn(tc.now, tc.loc)
			if tc.want == nil {
				require.NoError(t, err)
				require.Equal(t, appointment.CheckedIn, a.Status())
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, appointment.Booked, a.Status())
		})
	}
}

// On Berlin's spring-forward day (23 hours long) an appointment at 08:00
// local is checked in on that day, not the next or the previous.
func TestCheckInAcrossDST(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 29, 8, 0, 0, 0, berlin)
	a := booked(t, start)
	require.ErrorIs(t, a.CheckIn(time.Date(2026, 3, 28, 23, 30, 0, 0, berlin), berlin), appointment.ErrNotToday)
	require.NoError(t, a.CheckIn(time.Date(2026, 3, 29, 0, 30, 0, 0, berlin), berlin))
}

func TestLifecycleAndEvents(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 2, 9, 0, 0, 0, shanghai)
	a := booked(t, start)
	require.IsType(t, appointment.BookedEvent{}, a.TakeEvents()[0])
	require.Empty(t, a.TakeEvents(), "taken once")

	require.NoError(t, a.Reschedule(appointment.Move{Start: start.Add(time.Hour), End: start.Add(6 * time.Hour)}, start.Add(-time.Hour)))
	ev := a.TakeEvents()
	require.Len(t, ev, 1)
	moved := ev[0].(appointment.RescheduledEvent)
	require.Equal(t, start, moved.PreviousStart)
	require.EqualValues(t, 2, moved.Appointment.Version)

	// The missed-visit job of the old time finds it moved: nothing.
	changed, err := a.Miss(start, 30*time.Minute, start.Add(time.Hour))
	require.NoError(t, err)
	require.False(t, changed)
	// Not yet past the grace period of the new time: nothing.
	changed, err = a.Miss(start.Add(time.Hour), 30*time.Minute, start.Add(80*time.Minute))
	require.NoError(t, err)
	require.False(t, changed)
	changed, err = a.Miss(start.Add(time.Hour), 30*time.Minute, start.Add(90*time.Minute))
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, appointment.Missed, a.Status())
	missed := a.TakeEvents()[0].(appointment.MissedEvent)
	require.False(t, missed.NoShow)
	require.EqualValues(t, 3, missed.Appointment.Version)
	// Missed is final for the job: a second run changes nothing.
	changed, err = a.Miss(start.Add(time.Hour), 30*time.Minute, start.Add(2*time.Hour))
	require.NoError(t, err)
	require.False(t, changed)
}

func TestCompleteNeedsCheckInAndACheckedInVisitIsNeverMissed(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 2, 9, 0, 0, 0, shanghai)
	a := booked(t, start)
	var state *appointment.StateError
	require.ErrorAs(t, a.Complete(appointment.Completion{}, start.Add(time.Hour)), &state)
	require.NoError(t, a.CheckIn(start.Add(-10*time.Minute), shanghai))
	changed, err := a.Miss(start, 30*time.Minute, start.Add(time.Hour))
	require.NoError(t, err)
	require.False(t, changed, "checked in: never missed")
	require.ErrorIs(t, a.Complete(appointment.Completion{}, start.Add(-time.Minute)), appointment.ErrNotStarted)
	require.NoError(t, a.Complete(appointment.Completion{ProductID: "G123426000001X", DoseCells: 1e8}, start.Add(time.Hour)))
	require.Equal(t, "G123426000001X", a.Details().ProductID)
	require.True(t, errors.Is(a.Cancel("late", start.Add(2*time.Hour)), appointment.ErrState), "a completed visit stays on record")
}

func TestSuspendAndRebook(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 2, 9, 0, 0, 0, shanghai)
	a := booked(t, start)
	a.TakeEvents()
	require.NoError(t, a.Suspend("course_on_hold", start.Add(-24*time.Hour)))
	require.False(t, a.Status().Holds(), "a suspended infusion frees its chair")
	ev := a.TakeEvents()[0].(appointment.CancelledEvent)
	require.True(t, ev.Suspended)
	require.NoError(t, a.Rebook(appointment.Move{Start: start, End: start.Add(5 * time.Hour)}, start.Add(-time.Hour)))
	require.Equal(t, appointment.Booked, a.Status())
	require.IsType(t, appointment.RescheduledEvent{}, a.TakeEvents()[0])
	require.NoError(t, a.Cancel("patient_request", start.Add(-time.Hour)))
	require.NoError(t, a.Cancel("again", start.Add(-time.Hour)), "cancelling twice changes nothing")
	require.Len(t, a.TakeEvents(), 1)
}
