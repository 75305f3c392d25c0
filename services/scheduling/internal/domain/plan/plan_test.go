package plan_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/plan"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

func load(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func local(t time.Time, loc *time.Location) string { return t.In(loc).Format("2006-01-02 15:04") }

func TestSeededProtocols(t *testing.T) {
	t.Parallel()
	sh := load(t, "Asia/Shanghai")
	rs := standardResources()
	chair1, draw1, culture1 := ofKind(rs, protocol.InfusionChair)[0], ofKind(rs, protocol.DrawStation)[0], ofKind(rs, protocol.CultureSlot)[0]
	aph1 := ofKind(rs, protocol.ApheresisMachine)[0]
	earliest := time.Date(2026, 3, 2, 7, 10, 0, 0, sh) // a Monday, before opening
	type want struct {
		start, end string
		resource   uuid.UUID
	}
	for _, tc := range []struct {
		name  string
		proto protocol.Protocol
		want  []want
	}{
		{"nk autologous", nkAutologous(), []want{
			{"2026-03-02 08:00", "2026-03-02 08:30", draw1},
			{"2026-03-02 08:30", "2026-03-16 08:30", culture1}, // 14 days, day and night
			{"2026-03-16 08:30", "2026-03-16 08:30", uuid.Nil},
			{"2026-03-16 08:30", "2026-03-16 13:30", chair1}, // 1 h infusion + 4 h observation
		}},
		{"nk allogeneic", donorProtocol("nk_allogeneic"), []want{
			{"2026-03-02 07:10", "2026-03-02 07:10", uuid.Nil}, // allocated when planned
			{"2026-03-02 08:00", "2026-03-02 13:00", chair1},
		}},
		{"msc", donorProtocol("msc"), []want{
			{"2026-03-02 07:10", "2026-03-02 07:10", uuid.Nil},
			{"2026-03-02 08:00", "2026-03-02 13:00", chair1},
		}},
		{"hsct autologous", hsctAutologous(), []want{
			{"2026-03-02 08:00", "2026-03-02 08:30", chair1},   // mobilisation, then 4 days
			{"2026-03-06 08:30", "2026-03-06 12:30", aph1},     // apheresis 1 (Friday)
			{"2026-03-07 08:30", "2026-03-07 12:30", aph1},     // apheresis 2, 24 h later (Saturday)
			{"2026-03-07 12:30", "2026-03-07 12:30", uuid.Nil}, // release
			{"2026-03-07 12:30", "2026-03-07 15:30", chair1},   // conditioning, then 1 day
			{"2026-03-09 08:00", "2026-03-09 14:00", chair1},   // reinfusion: Sunday is closed
			{"2026-03-09 14:00", "2026-03-09 14:30", draw1},    // engraftment checks every 72 h
			{"2026-03-12 14:00", "2026-03-12 14:30", draw1},
			{"2026-03-16 08:00", "2026-03-16 08:30", draw1}, // Sunday 15th is closed
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := plan.Request{Protocol: tc.proto, Calendar: clinic(sh), Resources: rs, Earliest: earliest, Horizon: 8 * 7 * 24 * time.Hour}
			slots, err := plan.Chain(r)
			require.NoError(t, err)
			checkChain(t, r, slots)
			require.Len(t, slots, len(tc.want))
			for i, w := range tc.want {
				require.Equal(t, w.start, local(slots[i].Start, sh), "slot %d (%s) start", i, slots[i].Kind)
				require.Equal(t, w.end, local(slots[i].End, sh), "slot %d (%s) end", i, slots[i].Kind)
				require.Equal(t, w.resource, slots[i].Resource, "slot %d (%s) resource", i, slots[i].Kind)
			}
			again, err := plan.Chain(r)
			require.NoError(t, err)
			require.Equal(t, slots, again, "deterministic")
		})
	}
}

func TestChainAcrossDSTStaysInsideLocalHours(t *testing.T) {
	t.Parallel()
	berlin := load(t, "Europe/Berlin")
	cal := calendar.Calendar{Location: berlin}
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		cal.Hours = append(cal.Hours, calendar.Hours{Weekday: wd, Open: 8 * 60, Close: 18 * 60})
	}
	rs := standardResources()

	// Drawn before spring forward, infused after it: the culture runs 336
	// real hours, so it ends at 09:30 CEST, and the infusion follows inside
	// 08:00-18:00 local (07:30 UTC, not 08:30 UTC).
	r := plan.Request{Protocol: nkAutologous(), Calendar: cal, Resources: rs, Earliest: time.Date(2026, 3, 16, 8, 0, 0, 0, berlin), Horizon: 8 * 7 * 24 * time.Hour}
	slots, err := plan.Chain(r)
	require.NoError(t, err)
	checkChain(t, r, slots)
	require.Equal(t, "2026-03-16 08:00", local(slots[0].Start, berlin))
	require.Equal(t, time.Date(2026, 3, 16, 7, 0, 0, 0, time.UTC), slots[0].Start)
	require.Equal(t, "2026-03-30 09:30", local(slots[3].Start, berlin))
	require.Equal(t, time.Date(2026, 3, 30, 7, 30, 0, 0, time.UTC), slots[3].Start)

	// Every start across both changes: each chain stays inside 08:00-18:00 on the local clock.
	for _, from := range []time.Time{time.Date(2026, 3, 12, 0, 0, 0, 0, berlin), time.Date(2026, 10, 8, 0, 0, 0, 0, berlin)} {
		for h := 0; h < 21*24; h += 5 {
			r.Earliest = from.Add(time.Duration(h) * time.Hour)
			slots, err := plan.Chain(r)
			require.NoError(t, err)
			checkChain(t, r, slots)
			for _, sl := range slots {
				if r.Protocol.Steps[sl.Step].OpeningHours {
					s, e := sl.Start.In(berlin), sl.End.In(berlin)
					require.GreaterOrEqual(t, s.Hour(), 8, local(sl.Start, berlin))
					require.LessOrEqual(t, e.Hour()*60+e.Minute(), 18*60, local(sl.End, berlin))
				}
			}
		}
	}
}

func TestFullCultureCapacityMovesTheDraw(t *testing.T) {
	t.Parallel()
	sh := load(t, "Asia/Shanghai")
	rs := resources(map[protocol.ResourceKind]int{protocol.InfusionChair: 1, protocol.DrawStation: 1, protocol.CultureSlot: 2})
	cultures := ofKind(rs, protocol.CultureSlot)
	earliest := time.Date(2026, 3, 2, 8, 0, 0, 0, sh)
	r := plan.Request{
		Protocol: nkAutologous(), Calendar: clinic(sh), Resources: rs, Earliest: earliest, Horizon: 8 * 7 * 24 * time.Hour,
		Occupancy: plan.Occupancy{Resources: map[uuid.UUID][]plan.Interval{
			cultures[0]: {{Start: earliest.Add(-24 * time.Hour), End: time.Date(2026, 3, 12, 12, 0, 0, 0, sh)}},
			cultures[1]: {{Start: earliest.Add(-48 * time.Hour), End: time.Date(2026, 3, 11, 10, 7, 0, 0, sh)}},
		}},
	}
	slots, err := plan.Chain(r)
	require.NoError(t, err)
	checkChain(t, r, slots)
	// The product goes straight into culture, so the draw waits for the first free culture slot.
	require.Equal(t, "2026-03-11 09:45", local(slots[0].Start, sh))
	require.Equal(t, "2026-03-11 10:15", local(slots[1].Start, sh))
	require.Equal(t, cultures[1], slots[1].Resource)

	// Both slots taken for the whole horizon: nothing is booked, and the reason says where it failed.
	r.Occupancy.Resources[cultures[1]] = []plan.Interval{{Start: earliest, End: earliest.Add(100 * 24 * time.Hour)}}
	r.Occupancy.Resources[cultures[0]] = []plan.Interval{{Start: earliest, End: earliest.Add(100 * 24 * time.Hour)}}
	_, err = plan.Chain(r)
	var u *plan.Unplannable
	require.ErrorAs(t, err, &u)
	require.Equal(t, plan.ReasonNoSlot, u.Reason)
	require.Contains(t, u.Detail, "culture")
}

func TestNoChairInsideViabilityMovesTheDraw(t *testing.T) {
	t.Parallel()
	sh := load(t, "Asia/Shanghai")
	rs := resources(map[protocol.ResourceKind]int{protocol.InfusionChair: 2, protocol.DrawStation: 1, protocol.CultureSlot: 1})
	chairs := ofKind(rs, protocol.InfusionChair)
	busy := []plan.Interval{{Start: time.Date(2026, 3, 16, 0, 0, 0, 0, sh), End: time.Date(2026, 3, 19, 12, 0, 0, 0, sh)}}
	r := plan.Request{
		Protocol: nkAutologous(), Calendar: clinic(sh), Resources: rs, Earliest: time.Date(2026, 3, 2, 8, 0, 0, 0, sh), Horizon: 8 * 7 * 24 * time.Hour,
		Occupancy: plan.Occupancy{
			Resources: map[uuid.UUID][]plan.Interval{chairs[0]: busy, chairs[1]: busy},
			Patient:   []plan.Interval{{Start: time.Date(2026, 3, 2, 7, 0, 0, 0, sh), End: time.Date(2026, 3, 2, 9, 0, 0, 0, sh)}},
		},
	}
	slots, err := plan.Chain(r)
	require.NoError(t, err)
	checkChain(t, r, slots)
	// Released at draw end + 14 days; the infusion (1 h) must end within 72 h of it.
	// The chairs are free from Thursday 12:00, so the draw cannot be before 12:30 on the 2nd.
	require.Equal(t, "2026-03-02 12:30", local(slots[0].Start, sh))
	require.Equal(t, "2026-03-19 12:00", local(slots[3].Start, sh))

	// Chairs busy for good after the culture: the reason is the viability window.
	forever := []plan.Interval{{Start: time.Date(2026, 3, 16, 0, 0, 0, 0, sh), End: time.Date(2027, 1, 1, 0, 0, 0, 0, sh)}}
	r.Occupancy.Resources = map[uuid.UUID][]plan.Interval{chairs[0]: forever, chairs[1]: forever}
	r.Horizon = 7 * 24 * time.Hour
	_, err = plan.Chain(r)
	var u *plan.Unplannable
	require.ErrorAs(t, err, &u)
	require.Equal(t, plan.ReasonViability, u.Reason, u.Detail)
}

func TestPatientBusyElsewhere(t *testing.T) {
	t.Parallel()
	sh := load(t, "Asia/Shanghai")
	// Unsorted and overlapping on purpose: the planner sorts and merges.
	r := plan.Request{
		Protocol: donorProtocol("msc"), Calendar: clinic(sh), Resources: standardResources(), Earliest: time.Date(2026, 3, 2, 8, 0, 0, 0, sh), Horizon: 14 * 24 * time.Hour,
		Occupancy: plan.Occupancy{Patient: []plan.Interval{
			{Start: time.Date(2026, 3, 2, 11, 0, 0, 0, sh), End: time.Date(2026, 3, 2, 12, 50, 0, 0, sh)},
			{Start: time.Date(2026, 3, 2, 8, 0, 0, 0, sh), End: time.Date(2026, 3, 2, 9, 0, 0, 0, sh)},
			{Start: time.Date(2026, 3, 2, 8, 30, 0, 0, sh), End: time.Date(2026, 3, 2, 11, 0, 0, 0, sh)},
		}},
	}
	slots, err := plan.Chain(r)
	require.NoError(t, err)
	checkChain(t, r, slots)
	// Busy 08:00-12:50 (merged): the next grid time is 13:00, and 13:00-18:00 just fits.
	require.Equal(t, "2026-03-02 13:00", local(slots[1].Start, sh))
	require.Equal(t, "2026-03-02 18:00", local(slots[1].End, sh))

	// Ten minutes more and it no longer fits that day.
	r.Occupancy.Patient[0].End = time.Date(2026, 3, 2, 13, 10, 0, 0, sh)
	slots, err = plan.Chain(r)
	require.NoError(t, err)
	checkChain(t, r, slots)
	require.Equal(t, "2026-03-03 08:00", local(slots[1].Start, sh))
}

func TestUnplannableReasons(t *testing.T) {
	t.Parallel()
	sh := load(t, "Asia/Shanghai")
	earliest := time.Date(2026, 3, 2, 8, 0, 0, 0, sh)
	base := func() plan.Request {
		return plan.Request{Protocol: nkAutologous(), Calendar: clinic(sh), Resources: standardResources(), Earliest: earliest, Horizon: 8 * 7 * 24 * time.Hour}
	}
	noCulture := base()
	noCulture.Resources = resources(map[protocol.ResourceKind]int{protocol.InfusionChair: 1, protocol.DrawStation: 1})
	shortDays := base()
	shortDays.Calendar = calendar.Calendar{Location: sh, Hours: []calendar.Hours{{Weekday: time.Monday, Open: 8 * 60, Close: 12 * 60}, {Weekday: time.Monday, Open: 13 * 60, Close: 17 * 60}}}
	expired := base()
	expired.Protocol = donorProtocol("nk_allogeneic")
	expired.ProductExpires = earliest.Add(2 * time.Hour) // the 1 h infusion could only start at 09:00 at the latest
	expired.Occupancy.Patient = []plan.Interval{{Start: earliest, End: earliest.Add(90 * time.Minute)}}
	closedForever := base()
	closedForever.Calendar.Hours = closedForever.Calendar.Hours[:1] // Mondays only
	for d := range 8 * 7 {
		closedForever.Calendar.Closures = append(closedForever.Calendar.Closures, calendar.Closure{Date: time.Date(2026, 3, 2+d, 0, 0, 0, 0, time.UTC)})
	}
	for _, tc := range []struct {
		name   string
		r      plan.Request
		reason string
	}{
		{"no culture slot at all", noCulture, "no_resource:culture_slot"},
		{"no opening span holds infusion and observation", shortDays, "no_opening_hours:infusion"},
		{"the dose expires first", expired, plan.ReasonProductExpiry},
		{"closed for the whole horizon", closedForever, plan.ReasonNoSlot},
	} {
		_, err := plan.Chain(tc.r)
		var u *plan.Unplannable
		require.ErrorAs(t, err, &u, tc.name)
		require.Equal(t, tc.reason, u.Reason, "%s: %s", tc.name, u.Detail)
		require.NotEmpty(t, u.Detail)
	}

	bad := base()
	bad.Horizon = 0
	_, err := plan.Chain(bad)
	require.ErrorIs(t, err, plan.ErrInvalidRequest)
	bad = base()
	bad.Protocol.Observation = time.Hour
	_, err = plan.Chain(bad)
	require.ErrorIs(t, err, plan.ErrInvalidRequest)
	require.ErrorIs(t, err, protocol.ErrInvalid)
	require.False(t, errors.As(err, new(*plan.Unplannable)))
}

func TestCycleDates(t *testing.T) {
	t.Parallel()
	berlin := load(t, "Europe/Berlin")
	first := time.Date(2026, 1, 15, 9, 0, 0, 0, berlin)
	got := plan.CycleDates(nkAutologous(), first, berlin)
	var want []string
	for _, d := range got {
		want = append(want, local(d, berlin))
		require.Equal(t, time.UTC, d.Location())
	}
	// Monthly x3, then every 3 months x2 (the first of them 3 months after
	// the last monthly one), then 6 months; always 09:00 local, CET or CEST.
	require.Equal(t, []string{"2026-01-15 09:00", "2026-02-15 09:00", "2026-03-15 09:00", "2026-06-15 09:00", "2026-09-15 09:00", "2027-03-15 09:00"}, want)

	// "Every 8 weeks" across the spring change: 56 calendar days, same local time.
	got = plan.CycleDates(donorProtocol("msc"), time.Date(2026, 2, 10, 14, 0, 0, 0, berlin), berlin)
	require.Len(t, got, 4)
	require.Equal(t, "2026-04-07 14:00", local(got[1], berlin))
	require.Equal(t, 56*24*time.Hour-time.Hour, got[1].Sub(got[0]), "the spring-forward interval is one hour short in real time")
}
