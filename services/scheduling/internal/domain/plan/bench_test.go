package plan_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/plan"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// busyYear is a clinic with 6 chairs, 3 draw stations and 6 culture slots,
// each about 70 % booked for a year from start: chairs and stations during
// opening hours (bookings of their usual length plus the buffer), culture
// slots day and night (14-day cultures). Deterministic.
func busyYear(tb testing.TB, cal calendar.Calendar, start time.Time, buffer time.Duration) ([]plan.Resource, plan.Occupancy) {
	tb.Helper()
	rnd := rand.New(rand.NewPCG(7, 7))
	rs := resources(map[protocol.ResourceKind]int{protocol.InfusionChair: 6, protocol.DrawStation: 3, protocol.CultureSlot: 6})
	occ := plan.Occupancy{Resources: map[uuid.UUID][]plan.Interval{}}
	end := start.AddDate(1, 0, 0)
	for _, res := range rs {
		var list []plan.Interval
		switch res.Kind {
		case protocol.CultureSlot:
			at := start.Add(-time.Duration(rnd.IntN(14*24)) * time.Hour)
			for at.Before(end) {
				b := plan.Interval{Start: at, End: at.Add(14*24*time.Hour + buffer)}
				list = append(list, b)
				// Idle mostly 0-2 days (no new culture fits), sometimes
				// 15-27 days: mean 6 days, so ~70 % busy.
				idle := time.Duration(rnd.IntN(2*24)) * time.Hour
				if rnd.IntN(4) == 0 {
					idle = time.Duration(15*24+rnd.IntN(12*24)) * time.Hour
				}
				at = b.End.Add(idle)
			}
		default:
			lengths := []time.Duration{5 * time.Hour, 5 * time.Hour, 6 * time.Hour, 2 * time.Hour} // infusions + observation, other chair work
			if res.Kind == protocol.DrawStation {
				lengths = []time.Duration{30 * time.Minute}
			}
			for span := range cal.Spans(start, end) {
				at := span[0]
				for {
					// Idle a random while, then book.
					length := lengths[rnd.IntN(len(lengths))]
					at = at.Add(time.Duration(rnd.IntN(int(length/6/plan.Grid)+3)) * plan.Grid)
					b := plan.Interval{Start: at, End: at.Add(length + buffer)}
					if b.End.After(span[1]) {
						break
					}
					list = append(list, b)
					at = b.End
				}
			}
		}
		occ.Resources[res.ID] = list
	}
	// The patient's own other appointments: one a week.
	for at := start; at.Before(end); at = at.AddDate(0, 0, 7) {
		occ.Patient = append(occ.Patient, plan.Interval{Start: at.Add(26 * time.Hour), End: at.Add(27 * time.Hour)})
	}
	return rs, occ
}

// book adds a chain's blocked ranges and patient times to occ, keeping
// each list sorted (copies only the lists it touches).
func book(occ plan.Occupancy, p protocol.Protocol, slots []plan.Slot) plan.Occupancy {
	out := plan.Occupancy{Resources: make(map[uuid.UUID][]plan.Interval, len(occ.Resources)), Patient: occ.Patient}
	for id, l := range occ.Resources {
		out.Resources[id] = l
	}
	insert := func(l []plan.Interval, iv plan.Interval) []plan.Interval {
		i, _ := slices.BinarySearchFunc(l, iv.Start, func(x plan.Interval, t time.Time) int { return x.Start.Compare(t) })
		return slices.Insert(slices.Clip(l), i, iv)
	}
	for _, sl := range slots {
		if sl.Resource == uuid.Nil {
			continue
		}
		out.Resources[sl.Resource] = insert(out.Resources[sl.Resource], plan.Interval{Start: sl.Start, End: sl.End.Add(p.Buffer)})
		if sl.Kind.PatientPresent() {
			out.Patient = insert(out.Patient, plan.Interval{Start: sl.Start, End: sl.End})
		}
	}
	return out
}

// planCourse plans all six cycles of the NK course: cycle 1 from earliest,
// each later one aimed so that its infusion lands on its CycleDates date,
// against the occupancy plus the cycles already planned.
func planCourse(tb testing.TB, r plan.Request) [][]plan.Slot {
	first, err := plan.Chain(r)
	if err != nil {
		tb.Fatal(err)
	}
	infusing := r.Protocol.InfusionStep()
	lead := first[infusing].Start.Sub(first[0].Start) // draw to infusion
	chains := [][]plan.Slot{first}
	occ := book(r.Occupancy, r.Protocol, first)
	for _, target := range plan.CycleDates(r.Protocol, first[infusing].Start, r.Calendar.Location)[1:] {
		next := r
		next.Occupancy = occ
		next.Earliest = target.Add(-lead).Add(-24 * time.Hour)
		slots, err := plan.Chain(next)
		if err != nil {
			tb.Fatal(err)
		}
		chains = append(chains, slots)
		occ = book(occ, r.Protocol, slots)
	}
	return chains
}

func benchRequest(tb testing.TB) plan.Request {
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(tb, err)
	cal := clinic(sh)
	p := nkAutologous()
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, sh)
	rs, occ := busyYear(tb, cal, start, p.Buffer)
	return plan.Request{Protocol: p, Calendar: cal, Resources: rs, Earliest: start.Add(30 * time.Hour), Horizon: 8 * 7 * 24 * time.Hour, Occupancy: occ}
}

// TestBusyYearCourse checks the benchmark's own setup: the year is about
// 70 % booked and all six cycles plan and keep every rule.
func TestBusyYearCourse(t *testing.T) {
	t.Parallel()
	r := benchRequest(t)
	var booked, open time.Duration
	for span := range r.Calendar.Spans(r.Earliest, r.Earliest.AddDate(1, 0, 0)) {
		open += span[1].Sub(span[0])
	}
	for _, kind := range []protocol.ResourceKind{protocol.InfusionChair, protocol.DrawStation} {
		booked = 0
		ids := ofKind(r.Resources, kind)
		for _, id := range ids {
			for _, b := range r.Occupancy.Resources[id] {
				if b.Start.Before(r.Earliest.AddDate(1, 0, 0)) && !b.Start.Before(r.Earliest) {
					booked += b.End.Sub(b.Start)
				}
			}
		}
		load := float64(booked) / float64(time.Duration(len(ids))*open)
		require.InDelta(t, 0.7, load, 0.1, "%s booked %.0f %% of opening hours", kind, 100*load)
	}
	booked = 0
	for _, id := range ofKind(r.Resources, protocol.CultureSlot) {
		for _, b := range r.Occupancy.Resources[id] {
			booked += b.End.Sub(b.Start)
		}
	}
	load := float64(booked) / float64(6*365*24*time.Hour)
	require.InDelta(t, 0.7, load, 0.1, "culture slots booked %.0f %%", 100*load)

	chains := planCourse(t, r)
	require.Len(t, chains, 6)
	occ := r.Occupancy
	for i, slots := range chains {
		next := r
		next.Occupancy = occ
		next.Earliest = slots[0].Start
		checkChain(t, next, slots)
		occ = book(occ, r.Protocol, slots)
		t.Logf("cycle %d: draw %s, infusion %s", i+1, slots[0].Start.In(r.Calendar.Location).Format(time.DateTime), slots[3].Start.In(r.Calendar.Location).Format(time.DateTime))
	}
}

// BenchmarkChain plans one NK chain against a year of ~70 % bookings.
func BenchmarkChain(b *testing.B) {
	r := benchRequest(b)
	for b.Loop() {
		if _, err := plan.Chain(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCourse plans a six-cycle course against the same year and
// reports the p99 of one course's planning time (the goal: under
// 50 ms).
func BenchmarkCourse(b *testing.B) {
	r := benchRequest(b)
	var took []time.Duration
	for b.Loop() {
		t0 := time.Now()
		planCourse(b, r)
		took = append(took, time.Since(t0))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(took[len(took)/2])/1e6, "p50-ms")
}
