package course_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

var t0 = time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)

func requested(t *testing.T) *course.Course {
	t.Helper()
	c, err := course.New(course.Request{ID: uuid.New(), PatientID: uuid.New(), Program: "nk-autologous",
		ProtocolVersion: "NK-AUTO-2026.1", IntakeVersion: 1}, t0)
	require.NoError(t, err)
	return c
}

func cycles(n int) []course.Cycle {
	out := make([]course.Cycle, n)
	for i := range out {
		out[i] = course.Cycle{Number: i + 1, Phase: "initial", TargetDate: t0.AddDate(0, i, 14), Status: course.CyclePlanned}
	}
	out[0].Status = course.CycleBooked
	return out
}

func planned(t *testing.T, n int) *course.Course {
	t.Helper()
	c := requested(t)
	require.NoError(t, c.Plan(protocol.Protocol{Program: "nk-autologous", Version: "NK-AUTO-2026.1", DoseCells: 1e8}, cycles(n), t0))
	c.TakeEvents()
	return c
}

func TestPlanAndUnplan(t *testing.T) {
	t.Parallel()
	c := requested(t)
	require.EqualValues(t, 0, c.Version(), "requested is not a change anyone hears of")
	require.NoError(t, c.Unplan("no_slot_within_horizon", "no chair", t0))
	require.NoError(t, c.Unplan("no_slot_within_horizon", "no chair", t0), "the same reason again")
	ev := c.TakeEvents()
	require.Len(t, ev, 1)
	require.Equal(t, "no_slot_within_horizon", ev[0].(course.UnplannedEvent).Reason)
	require.NoError(t, c.Plan(protocol.Protocol{DoseCells: 1e8}, cycles(3), t0))
	p := c.TakeEvents()[0].(course.PlannedEvent)
	require.False(t, p.Replanned)
	require.Len(t, p.Cycles, 3)
	require.EqualValues(t, 2, p.Course.Version)
	var state *course.StateError
	require.ErrorAs(t, c.Plan(protocol.Protocol{}, cycles(3), t0), &state, "planned once")
}

func TestProgressThroughTheCycleToCompletion(t *testing.T) {
	t.Parallel()
	c := planned(t, 2)
	for _, s := range []course.Status{course.Collecting, course.Culturing, course.Released} {
		require.NoError(t, c.Progress(s, t0))
		require.Equal(t, s, c.Status())
	}
	require.NoError(t, c.Infused(1, t0))
	require.Equal(t, course.Infusing, c.Status())
	require.Empty(t, c.TakeEvents(), "progress is announced by appointment and product events")
	require.NoError(t, c.Infused(2, t0))
	require.Equal(t, course.Completed, c.Status())
	done := c.TakeEvents()[0].(course.CompletedEvent)
	require.Equal(t, 2, done.Infusions)
	var state *course.StateError
	require.ErrorAs(t, c.Cancel("late", false, 2, t0), &state, "a completed course stays completed")
}

func TestHoldRemembersWhereItWasEvenWhenTheLabMovesOn(t *testing.T) {
	t.Parallel()
	c := planned(t, 3)
	require.NoError(t, c.Progress(course.Culturing, t0))
	require.NoError(t, c.Hold("adverse_event", t0))
	require.NoError(t, c.Hold("adverse_event", t0), "holding a held course changes nothing")
	held := c.TakeEvents()
	require.Len(t, held, 1)
	require.Equal(t, course.Culturing, held[0].(course.HeldEvent).PreviousStatus)
	require.NoError(t, c.Progress(course.Released, t0), "QC releases while the course is held")
	require.Equal(t, course.OnHold, c.Status())
	require.NoError(t, c.Resume(t0))
	require.Equal(t, course.Released, c.Status(), "back where the course now is")
	require.Equal(t, course.Released, c.TakeEvents()[0].(course.ResumedEvent).Status)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	c := planned(t, 3)
	require.NoError(t, c.Infused(1, t0))
	require.NoError(t, c.Cancel("consent_withdrawn", true, 1, t0))
	ev := c.TakeEvents()[0].(course.CancelledEvent)
	require.Equal(t, course.Infusing, ev.PreviousStatus)
	require.True(t, ev.CultureStarted)
	require.Equal(t, 1, ev.InfusionsGiven)
	got := c.Cycles()
	require.Equal(t, course.CycleCompleted, got[0].Status, "the past stays on record")
	require.Equal(t, course.CycleCancelled, got[1].Status)
	require.ErrorIs(t, c.Cancel("again", true, 1, t0), course.ErrAlreadyCancelled)
}
