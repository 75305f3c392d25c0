package plan_test

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/plan"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// The four protocols the lead seeds, built here as test data.

func nkAutologous() protocol.Protocol {
	return protocol.Protocol{
		Program: "nk_autologous", Version: "1", Name: "NK autologous", Source: protocol.Autologous,
		Steps: []protocol.Step{
			{Kind: protocol.Draw, Duration: 30 * time.Minute, Resource: protocol.DrawStation, Sessions: 1, OpeningHours: true},
			{Kind: protocol.Culture, Duration: 14 * 24 * time.Hour, Resource: protocol.CultureSlot, Sessions: 1},
			{Kind: protocol.Release, Sessions: 1},
			{Kind: protocol.Infusion, Duration: time.Hour, Resource: protocol.InfusionChair, Sessions: 1, OpeningHours: true},
		},
		Phases:      []protocol.Phase{{Name: "initial", Cycles: 3, Every: protocol.Interval{Months: 1}}, {Name: "consolidation", Cycles: 2, Every: protocol.Interval{Months: 3}}, {Name: "maintenance", Cycles: 1, Every: protocol.Interval{Months: 6}}},
		Viability:   72 * time.Hour,
		DoseCells:   100_000_000,
		Observation: 4 * time.Hour,
		Buffer:      15 * time.Minute,
		Release:     protocol.ReleaseCriteria{MinViabilityPct: 90, MinPurityPct: 90, MaxEndotoxinEUPerML: 5},
	}
}

func donorProtocol(program string) protocol.Protocol {
	return protocol.Protocol{
		Program: program, Version: "1", Name: program, Source: protocol.Donor,
		Steps: []protocol.Step{
			{Kind: protocol.Allocation, Sessions: 1},
			{Kind: protocol.Infusion, Duration: time.Hour, Resource: protocol.InfusionChair, Sessions: 1, OpeningHours: true},
		},
		Phases:      []protocol.Phase{{Name: "course", Cycles: 4, Every: protocol.Interval{Days: 56}}},
		Viability:   6 * time.Hour,
		DoseCells:   1_000_000_000,
		Observation: 4 * time.Hour,
		Buffer:      15 * time.Minute,
	}
}

func hsctAutologous() protocol.Protocol {
	return protocol.Protocol{
		Program: "hsct_autologous", Version: "1", Name: "Autologous HSCT", Source: protocol.Autologous,
		Steps: []protocol.Step{
			{Kind: protocol.Mobilisation, Duration: 30 * time.Minute, Resource: protocol.InfusionChair, Sessions: 1, Gap: 4 * 24 * time.Hour, OpeningHours: true},
			{Kind: protocol.Apheresis, Duration: 4 * time.Hour, Resource: protocol.ApheresisMachine, Sessions: 2, SessionEvery: 24 * time.Hour, OpeningHours: true},
			{Kind: protocol.Release, Sessions: 1},
			{Kind: protocol.Conditioning, Duration: 3 * time.Hour, Resource: protocol.InfusionChair, Sessions: 1, Gap: 24 * time.Hour, OpeningHours: true},
			{Kind: protocol.Reinfusion, Duration: 2 * time.Hour, Resource: protocol.InfusionChair, Sessions: 1, OpeningHours: true},
			{Kind: protocol.EngraftmentCheck, Duration: 30 * time.Minute, Resource: protocol.DrawStation, Sessions: 3, SessionEvery: 72 * time.Hour, OpeningHours: true},
		},
		Phases:      []protocol.Phase{{Name: "transplant", Cycles: 1}},
		Viability:   72 * time.Hour,
		DoseCells:   5_000_000_000,
		Observation: 4 * time.Hour,
		Buffer:      30 * time.Minute,
	}
}

// clinic is open 08:00-18:00 Monday to Saturday in loc.
func clinic(loc *time.Location, closures ...calendar.Closure) calendar.Calendar {
	c := calendar.Calendar{Location: loc, Closures: closures}
	for wd := time.Monday; wd <= time.Saturday; wd++ {
		c.Hours = append(c.Hours, calendar.Hours{Weekday: wd, Open: 8 * 60, Close: 18 * 60})
	}
	return c
}

// resources makes n resources of each kind with stable ids: the lowest id of
// a kind is "<kind letter>...1".
func resources(n map[protocol.ResourceKind]int) []plan.Resource {
	var out []plan.Resource
	kinds := []protocol.ResourceKind{protocol.InfusionChair, protocol.DrawStation, protocol.ApheresisMachine, protocol.CultureSlot}
	for k, kind := range kinds {
		for i := range n[kind] {
			out = append(out, plan.Resource{ID: uuid.MustParse(fmt.Sprintf("%08d-0000-4000-8000-%012d", k+1, i+1)), Kind: kind})
		}
	}
	return out
}

func standardResources() []plan.Resource {
	return resources(map[protocol.ResourceKind]int{protocol.InfusionChair: 6, protocol.DrawStation: 3, protocol.ApheresisMachine: 2, protocol.CultureSlot: 6})
}

func ofKind(rs []plan.Resource, kind protocol.ResourceKind) []uuid.UUID {
	var out []uuid.UUID
	for _, r := range rs {
		if r.Kind == kind {
			out = append(out, r.ID)
		}
	}
	return out
}

// checkChain asserts every rule a returned chain must satisfy, computed
// from the request alone (an oracle independent of the planner's search).
func checkChain(t require.TestingT, r plan.Request, slots []plan.Slot) {
	p := r.Protocol
	loc := r.Calendar.Location
	kindOf := map[uuid.UUID]protocol.ResourceKind{}
	for _, res := range r.Resources {
		kindOf[res.ID] = res.Kind
	}

	// Shape: every session of every step, in order.
	n := 0
	for i, st := range p.Steps {
		for s := range st.Sessions {
			require.Greater(t, len(slots), n, "missing step %d session %d", i, s)
			sl := slots[n]
			require.Equal(t, i, sl.Step)
			require.Equal(t, s, sl.Session)
			require.Equal(t, st.Kind, sl.Kind)
			n++
		}
	}
	require.Len(t, slots, n)

	// Horizon.
	require.False(t, slots[0].Start.Before(r.Earliest), "first step %s before earliest %s", slots[0].Start, r.Earliest)
	require.True(t, slots[0].Start.Before(r.Earliest.Add(r.Horizon)), "first step %s after the horizon", slots[0].Start)
	if p.Steps[0].Resource == "" {
		require.True(t, slots[0].Start.Equal(r.Earliest), "a leading milestone is the chain start")
	}

	// The product is released at the end of the last Release step before
	// the infusion, or else at the end of the step before the infusion.
	infusing := p.InfusionStep()
	releaseStep := infusing - 1
	for i := infusing - 1; i >= 0; i-- {
		if p.Steps[i].Kind == protocol.Release {
			releaseStep = i
			break
		}
	}
	var release time.Time
	for _, sl := range slots {
		if sl.Step == releaseStep {
			release = sl.End
		}
	}
	for k, sl := range slots {
		st := p.Steps[sl.Step]
		length := st.Duration
		if st.Kind.Infuses() {
			length += p.Observation
		}
		require.Equal(t, length, sl.End.Sub(sl.Start), "slot %d length (culture duration, observation)", k)
		require.Equal(t, time.UTC, sl.Start.Location(), "slot %d in UTC", k)

		// Order, gaps and sessions.
		if k > 0 {
			prev := slots[k-1]
			if prev.Step == sl.Step {
				require.False(t, sl.Start.Before(prev.Start.Add(st.SessionEvery)), "slot %d: sessions too close", k)
				require.False(t, sl.Start.Before(prev.End), "slot %d: sessions overlap", k)
			} else {
				lb := prev.End.Add(p.Steps[prev.Step].Gap)
				require.False(t, sl.Start.Before(lb), "slot %d (%s) starts %s before the previous step allows %s", k, sl.Kind, sl.Start, lb)
				// Milestones and cultures follow at once: the product goes straight on.
				if st.Resource == "" || !st.OpeningHours {
					require.True(t, sl.Start.Equal(lb), "slot %d (%s) waits", k, sl.Kind)
				}
			}
		}

		// Resources and buffers.
		if st.Resource == "" {
			require.Equal(t, uuid.Nil, sl.Resource, "slot %d: a milestone books nothing", k)
		} else {
			require.Equal(t, st.Resource, kindOf[sl.Resource], "slot %d: resource of the wrong kind", k)
			blocked := plan.Interval{Start: sl.Start, End: sl.End.Add(p.Buffer)}
			for _, b := range r.Occupancy.Resources[sl.Resource] {
				require.False(t, blocked.Overlaps(b), "slot %d (%s) %v overlaps a booking %v of %s", k, sl.Kind, blocked, b, sl.Resource)
			}
			for j, o := range slots {
				if j != k && o.Resource == sl.Resource {
					require.False(t, blocked.Overlaps(plan.Interval{Start: o.Start, End: o.End.Add(p.Buffer)}), "slots %d and %d overlap on %s", k, j, sl.Resource)
				}
			}
		}

		// The patient is in one place at a time.
		if st.Kind.PatientPresent() && st.Resource != "" {
			iv := plan.Interval{Start: sl.Start, End: sl.End}
			for _, b := range r.Occupancy.Patient {
				require.False(t, iv.Overlaps(b), "slot %d (%s) %v overlaps the patient's %v", k, sl.Kind, iv, b)
			}
			for j, o := range slots {
				if j != k && p.Steps[o.Step].Kind.PatientPresent() && o.Resource != uuid.Nil {
					require.False(t, iv.Overlaps(plan.Interval{Start: o.Start, End: o.End}), "slots %d and %d: the patient in two places", k, j)
				}
			}
		}

		// Opening hours, by Inside and by the wall clock.
		if st.OpeningHours {
			require.True(t, r.Calendar.Inside(sl.Start, sl.End), "slot %d (%s) %s-%s outside opening hours", k, sl.Kind, sl.Start.In(loc), sl.End.In(loc))
			require.True(t, insideByWallClock(r.Calendar, sl.Start, sl.End), "slot %d (%s) %s-%s outside opening hours by the clock", k, sl.Kind, sl.Start.In(loc), sl.End.In(loc))
		}

		// Viability.
		if sl.Step == infusing {
			infusionEnd := sl.Start.Add(st.Duration)
			if p.Source == protocol.Autologous && infusing > 0 {
				require.False(t, infusionEnd.After(release.Add(p.Viability)), "infusion ends %s, product released %s, viability %s", infusionEnd, release, p.Viability)
			}
			if p.Source == protocol.Donor && !r.ProductExpires.IsZero() {
				require.False(t, infusionEnd.After(r.ProductExpires), "infusion ends %s after the dose expires %s", infusionEnd, r.ProductExpires)
			}
		}
	}

	// Lab capacity: concurrent cultures (existing and this chain's) never
	// exceed the culture slots.
	cultures := ofKind(r.Resources, protocol.CultureSlot)
	type edge struct {
		at time.Time
		d  int
	}
	var edges []edge
	for _, id := range cultures {
		for _, b := range r.Occupancy.Resources[id] {
			edges = append(edges, edge{b.Start, 1}, edge{b.End, -1})
		}
	}
	for _, sl := range slots {
		if p.Steps[sl.Step].Resource == protocol.CultureSlot {
			edges = append(edges, edge{sl.Start, 1}, edge{sl.End.Add(p.Buffer), -1})
		}
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.d - b.d // ends before starts at the same instant
	})
	running := 0
	for _, e := range edges {
		running += e.d
		require.LessOrEqual(t, running, len(cultures), "lab capacity exceeded at %s", e.at)
	}
}

// insideByWallClock is Inside computed differently: the local clock
// readings of start and end lie in one span of start's local date.
func insideByWallClock(c calendar.Calendar, start, end time.Time) bool {
	ls, le := start.In(c.Location), end.In(c.Location)
	y, m, d := ls.Date()
	if c.Closed(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		return false
	}
	from := ls.Hour()*60 + ls.Minute()
	to := le.Hour()*60 + le.Minute()
	if ey, em, ed := le.Date(); ey != y || em != m || ed != d {
		if !(le.Hour() == 0 && le.Minute() == 0 && le.Second() == 0 && time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Equal(time.Date(ey, em, ed, 0, 0, 0, 0, time.UTC))) {
			return false
		}
		to = 24 * 60
	}
	for _, h := range c.Hours {
		// Not from < to: on the fall-back day 02:00 CEST to 02:00 CET is an hour.
		if h.Weekday == ls.Weekday() && from >= int(h.Open) && to <= int(h.Close) {
			return true
		}
	}
	return false
}
