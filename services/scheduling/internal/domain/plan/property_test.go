package plan_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/plan"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

func genZone(t *rapid.T) *time.Location {
	loc, err := time.LoadLocation(rapid.SampledFrom([]string{"Asia/Shanghai", "Europe/Berlin", "UTC"}).Draw(t, "zone"))
	if err != nil {
		t.Fatalf("zone: %v", err)
	}
	return loc
}

// minutes draws a duration in [lo, hi] minutes, in 5-minute steps (so
// steps are often off the planner's 15-minute grid).
func minutes(t *rapid.T, label string, lo, hi int) time.Duration {
	return time.Duration(rapid.IntRange(lo/5, hi/5).Draw(t, label)*5) * time.Minute
}

// genProtocol draws a protocol that Validate accepts: an autologous one
// (optional mobilisation, a draw or 1-3 apheresis sessions, an optional
// culture, release and conditioning) or a donor one (an optional
// allocation), then the infusion and optional checks after it.
func genProtocol(t *rapid.T) protocol.Protocol {
	p := protocol.Protocol{
		Program: "p", Version: "1",
		Source:      rapid.SampledFrom([]protocol.Source{protocol.Autologous, protocol.Donor}).Draw(t, "source"),
		Viability:   minutes(t, "viability", 24*60, 96*60),
		DoseCells:   1e8,
		Observation: minutes(t, "observation", 4*60, 6*60),
		Buffer:      minutes(t, "buffer", 0, 30),
		Phases:      []protocol.Phase{{Name: "p", Cycles: rapid.IntRange(1, 6).Draw(t, "cycles"), Every: protocol.Interval{Days: 28}}},
	}
	visit := func(kind protocol.StepKind, res protocol.ResourceKind, d time.Duration, sessions int, every, gap time.Duration) protocol.Step {
		return protocol.Step{Kind: kind, Duration: d, Resource: res, Sessions: sessions, SessionEvery: every, Gap: gap, OpeningHours: true}
	}
	if p.Source == protocol.Autologous {
		if rapid.Bool().Draw(t, "mobilisation") {
			p.Steps = append(p.Steps, visit(protocol.Mobilisation, protocol.InfusionChair, minutes(t, "mob", 15, 60), 1, 0, minutes(t, "mob gap", 0, 5*24*60)))
		}
		if rapid.Bool().Draw(t, "apheresis") {
			d := minutes(t, "aph", 60, 5*60)
			p.Steps = append(p.Steps, visit(protocol.Apheresis, protocol.ApheresisMachine, d, rapid.IntRange(1, 3).Draw(t, "aph sessions"), d+minutes(t, "aph every", 0, 48*60), minutes(t, "aph gap", 0, 120)))
		} else {
			p.Steps = append(p.Steps, visit(protocol.Draw, protocol.DrawStation, minutes(t, "draw", 15, 60), 1, 0, minutes(t, "draw gap", 0, 120)))
		}
		if rapid.Bool().Draw(t, "culture") {
			p.Steps = append(p.Steps, protocol.Step{Kind: protocol.Culture, Duration: minutes(t, "culture", 60, 21*24*60), Resource: protocol.CultureSlot, Sessions: 1, Gap: minutes(t, "culture gap", 0, 60)})
		}
		if rapid.Bool().Draw(t, "release") {
			p.Steps = append(p.Steps, protocol.Step{Kind: protocol.Release, Duration: minutes(t, "qc", 0, 120), Sessions: 1, Gap: minutes(t, "release gap", 0, 12*60)})
		}
		if rapid.Bool().Draw(t, "conditioning") {
			p.Steps = append(p.Steps, visit(protocol.Conditioning, protocol.InfusionChair, minutes(t, "cond", 60, 180), 1, 0, minutes(t, "cond gap", 0, 24*60)))
		}
	} else if rapid.Bool().Draw(t, "allocation") {
		p.Steps = append(p.Steps, protocol.Step{Kind: protocol.Allocation, Duration: minutes(t, "alloc", 0, 60), Sessions: 1, Gap: minutes(t, "alloc gap", 0, 24*60)})
	}
	kind := rapid.SampledFrom([]protocol.StepKind{protocol.Infusion, protocol.Reinfusion}).Draw(t, "infusion kind")
	p.Steps = append(p.Steps, visit(kind, protocol.InfusionChair, minutes(t, "infusion", 30, 180), 1, 0, minutes(t, "infusion gap", 0, 48*60)))
	if rapid.Bool().Draw(t, "checks") {
		d := minutes(t, "check", 15, 30)
		p.Steps = append(p.Steps, visit(protocol.EngraftmentCheck, protocol.DrawStation, d, rapid.IntRange(1, 3).Draw(t, "check sessions"), d+minutes(t, "check every", 0, 72*60), 0))
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("generator made an invalid protocol: %v", err)
	}
	return p
}

// genCalendar draws a zone, 0-2 spans per weekday (kept clear of 02:00-03:00,
// where Berlin's clock jumps, so that the wall-clock oracle is unambiguous)
// and closures in the planning window.
func genCalendar(t *rapid.T, from time.Time) calendar.Calendar {
	c := calendar.Calendar{Location: genZone(t)}
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		switch rapid.IntRange(0, 4).Draw(t, "spans") {
		case 0: // closed
		case 1: // two spans
			open := calendar.TimeOfDay(rapid.IntRange(4*4, 10*4).Draw(t, "open") * 15)
			c.Hours = append(c.Hours, calendar.Hours{Weekday: wd, Open: open, Close: open + 4*60},
				calendar.Hours{Weekday: wd, Open: open + 5*60, Close: open + calendar.TimeOfDay(rapid.IntRange(11*4, 13*4).Draw(t, "close")*15)})
		case 2: // round the clock
			c.Hours = append(c.Hours, calendar.Hours{Weekday: wd, Open: 0, Close: 24 * 60})
		default:
			open := calendar.TimeOfDay(rapid.IntRange(4*4, 10*4).Draw(t, "open") * 15)
			c.Hours = append(c.Hours, calendar.Hours{Weekday: wd, Open: open, Close: open + calendar.TimeOfDay(rapid.IntRange(5*4, 13*4).Draw(t, "close")*15)})
		}
	}
	for range rapid.IntRange(0, 6).Draw(t, "closures") {
		d := from.AddDate(0, 0, rapid.IntRange(0, 40).Draw(t, "closure day"))
		c.Closures = append(c.Closures, calendar.Closure{Date: time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)})
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("generator made an invalid calendar: %v", err)
	}
	return c
}

// genEarliest draws a start near either DST change of 2026 or anywhere in
// the year, at any minute.
func genEarliest(t *rapid.T) time.Time {
	base := rapid.SampledFrom([]time.Time{
		time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}).Draw(t, "season")
	return base.Add(time.Duration(rapid.IntRange(0, 30*24*60).Draw(t, "minute")) * time.Minute)
}

// genBusy draws disjoint intervals (some back to back) over the planning
// window, handed over in a random order.
func genBusy(t *rapid.T, label string, from time.Time, maxLen time.Duration) []plan.Interval {
	var out []plan.Interval
	at := from.Add(-minutes(t, label+" lead", 0, 3*24*60))
	for range rapid.IntRange(0, 25).Draw(t, label+" n") {
		at = at.Add(minutes(t, label+" idle", 0, 3*24*60))
		end := at.Add(minutes(t, label+" len", 15, int(maxLen/time.Minute)))
		out = append(out, plan.Interval{Start: at, End: end})
		at = end
	}
	return rapid.Permutation(out).Draw(t, label+" order")
}

func genRequest(t *rapid.T) plan.Request {
	earliest := genEarliest(t)
	r := plan.Request{
		Protocol: genProtocol(t),
		Calendar: genCalendar(t, earliest),
		Earliest: earliest,
		Horizon:  time.Duration(rapid.IntRange(1, 8).Draw(t, "horizon weeks")) * 7 * 24 * time.Hour,
	}
	r.Occupancy.Resources = map[uuid.UUID][]plan.Interval{}
	for _, kind := range []protocol.ResourceKind{protocol.InfusionChair, protocol.DrawStation, protocol.ApheresisMachine, protocol.CultureSlot} {
		maxLen := 8 * time.Hour
		if kind == protocol.CultureSlot {
			maxLen = 21 * 24 * time.Hour
		}
		// Mostly 1-3 of a kind; sometimes none, to see no_resource.
		n := rapid.IntRange(1, 3).Draw(t, "count "+string(kind))
		if rapid.IntRange(0, 19).Draw(t, "none of "+string(kind)) == 0 {
			n = 0
		}
		for range n {
			res := plan.Resource{ID: uuid.New(), Kind: kind}
			r.Resources = append(r.Resources, res)
			r.Occupancy.Resources[res.ID] = genBusy(t, string(kind), earliest, maxLen)
		}
	}
	r.Occupancy.Patient = genBusy(t, "patient", earliest, 6*time.Hour)
	// The patient's list may overlap itself (bookings on different resources).
	if extra := genBusy(t, "patient extra", earliest, 6*time.Hour); len(extra) > 0 {
		r.Occupancy.Patient = append(r.Occupancy.Patient, extra...)
	}
	if r.Protocol.Source == protocol.Donor && rapid.Bool().Draw(t, "expires") {
		r.ProductExpires = earliest.Add(minutes(t, "shelf life", 60, 30*24*60))
	}
	return r
}

// TestChainProperties: whatever the protocol, calendar and bookings, a
// returned chain keeps every rule (checkChain), is deterministic and
// reproduces itself when planned from its own start; an Unplannable names
// a reason that holds.
func TestChainProperties(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	outcomes := map[string]int{}
	t.Cleanup(func() { t.Logf("outcomes: %v", outcomes) })
	rapid.Check(t, func(t *rapid.T) {
		r := genRequest(t)
		slots, err := plan.Chain(r)
		var u *plan.Unplannable
		outcome := "planned"
		if errors.As(err, &u) {
			outcome, _, _ = strings.Cut(u.Reason, ":")
		}
		mu.Lock()
		outcomes[outcome]++
		mu.Unlock()
		if errors.As(err, &u) {
			kind, ok := strings.CutPrefix(u.Reason, plan.ReasonNoResource+":")
			if ok {
				require.True(t, slices.ContainsFunc(r.Protocol.Steps, func(s protocol.Step) bool { return string(s.Resource) == kind }))
				require.False(t, slices.ContainsFunc(r.Resources, func(res plan.Resource) bool { return string(res.Kind) == kind }), "no_resource:%s but the clinic has one", kind)
				return
			}
			if kind, ok := strings.CutPrefix(u.Reason, plan.ReasonNoOpeningHours+":"); ok {
				i := slices.IndexFunc(r.Protocol.Steps, func(s protocol.Step) bool { return string(s.Kind) == kind && s.OpeningHours })
				require.GreaterOrEqual(t, i, 0)
				length := r.Protocol.Steps[i].Duration
				if r.Protocol.Steps[i].Kind.Infuses() {
					length += r.Protocol.Observation
				}
				require.Greater(t, length, r.Calendar.LongestSpan(), "no_opening_hours:%s but it fits a span", kind)
				return
			}
			require.Contains(t, []string{plan.ReasonNoSlot, plan.ReasonViability, plan.ReasonProductExpiry}, u.Reason, u.Detail)
			if u.Reason == plan.ReasonProductExpiry {
				require.False(t, r.ProductExpires.IsZero())
			}
			return
		}
		require.NoError(t, err)
		checkChain(t, r, slots)

		again, err := plan.Chain(r)
		require.NoError(t, err)
		require.Equal(t, slots, again, "deterministic")

		if r.Protocol.Steps[0].Resource != "" {
			r.Earliest = slots[0].Start
			same, err := plan.Chain(r)
			require.NoError(t, err)
			require.Equal(t, slots, same, "planned again from its own start")
		}
	})
}

// TestChainAlwaysFoundWhenFree: with nothing booked, no closures and the
// clinic open round the clock, every valid protocol gets a chain.
func TestChainAlwaysFoundWhenFree(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		earliest := genEarliest(t)
		p := genProtocol(t)
		p.Viability = 7 * 24 * time.Hour // room for a conditioning day and a gap
		cal := calendar.Calendar{Location: genZone(t)}
		for wd := time.Sunday; wd <= time.Saturday; wd++ {
			cal.Hours = append(cal.Hours, calendar.Hours{Weekday: wd, Open: 0, Close: 24 * 60})
		}
		r := plan.Request{
			Protocol: p, Calendar: cal, Earliest: earliest, Horizon: 7 * 24 * time.Hour,
			Resources: resources(map[protocol.ResourceKind]int{protocol.InfusionChair: 1, protocol.DrawStation: 1, protocol.ApheresisMachine: 1, protocol.CultureSlot: 1}),
		}
		slots, err := plan.Chain(r)
		require.NoError(t, err)
		checkChain(t, r, slots)
		// Nothing in the way: the first step starts on the first grid time
		// where it fits before midnight.
		require.Less(t, slots[0].Start.Sub(r.Earliest), 24*time.Hour)
	})
}
