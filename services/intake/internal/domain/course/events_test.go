package course_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/intake/internal/domain/course"
)

// TestEvents checks that every command records exactly the events it
// causes, and none when it fails.
func TestEvents(t *testing.T) {
	t.Parallel()
	id, patientID, consentID, screeningID := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	later := now.Add(time.Hour)
	stored := func(status course.Status) *course.Course {
		return course.UnmarshalCourseFromDatabase(id, patientID, input(), "2026-03", consentID, screeningID,
			status, time.Time{}, "", 1, now, now)
	}
	sloppy := input()
	sloppy.Notes = "  mornings only  "
	sloppy.Indication.Code = "m0579"
	requested := course.Requested{CourseID: id, Version: 1, At: now, Input: input(), ProtocolVersion: "2026-03"}
	tests := []struct {
		name    string
		command func(*testing.T) *course.Course
		want    []course.Event
	}{
		{"request", func(t *testing.T) *course.Course {
			f := newFixture()
			f.patientID = patientID
			f.consent(t, "msc")
			f.screening(t, msc(), false, now)
			c, err := course.Request(id, patientID, sloppy, f.consents, f.screenings, msc(), 0, now, today)
			require.NoError(t, err)
			return c
		}, []course.Event{func() course.Event { r := requested; r.PatientID = patientID; return r }()}},
		{"loaded from the database", func(*testing.T) *course.Course { return stored(course.StatusRequested) }, nil},
		{"cancel", func(t *testing.T) *course.Course {
			c := stored(course.StatusRequested)
			require.NoError(t, c.Cancel(" unwell ", later))
			return c
		}, []course.Event{course.CancellationRequested{CourseID: id, PatientID: patientID, Version: 2, At: later, Reason: "unwell"}}},
		{"cancel twice", func(t *testing.T) *course.Course {
			c := stored(course.StatusRequested)
			require.NoError(t, c.Cancel("unwell", later))
			require.ErrorIs(t, c.Cancel("again", later), course.ErrAlreadyCancelled)
			return c
		}, []course.Event{course.CancellationRequested{CourseID: id, PatientID: patientID, Version: 2, At: later, Reason: "unwell"}}},
		{"cancel a cancelled course", func(t *testing.T) *course.Course {
			c := stored(course.StatusCancelled)
			require.ErrorIs(t, c.Cancel("again", later), course.ErrAlreadyCancelled)
			return c
		}, nil},
		{"cancel without a reason", func(t *testing.T) *course.Course {
			c := stored(course.StatusRequested)
			require.Error(t, c.Cancel("", later))
			return c
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.command(t).Events())
		})
	}
}
