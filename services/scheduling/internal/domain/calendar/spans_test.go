package calendar_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// weekdays is 08:00-18:00 Monday to Friday and 09:00-12:00 on Sunday.
func weekdays(loc *time.Location, closures ...calendar.Closure) calendar.Calendar {
	c := calendar.Calendar{Location: loc, Closures: closures}
	for wd := time.Monday; wd <= time.Friday; wd++ {
		c.Hours = append(c.Hours, calendar.Hours{Weekday: wd, Open: 8 * 60, Close: 18 * 60})
	}
	c.Hours = append(c.Hours, calendar.Hours{Weekday: time.Sunday, Open: 9 * 60, Close: 12 * 60})
	return c
}

// mondayMornings is open 07:00-12:00 on Mondays only.
func mondayMornings(loc *time.Location, closures ...calendar.Closure) calendar.Calendar {
	return calendar.Calendar{Location: loc, Hours: []calendar.Hours{{Weekday: time.Monday, Open: 7 * 60, Close: 12 * 60}}, Closures: closures}
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestDayIsTheLocalDate(t *testing.T) {
	t.Parallel()
	shanghai := zone(t, "Asia/Shanghai")
	berlin := zone(t, "Europe/Berlin")
	for _, tc := range []struct {
		name string
		cal  calendar.Calendar
		at   time.Time
		want time.Time
	}{
		// 07:00 in Shanghai is 23:00 UTC the day before: the clinic's day is the local one.
		{"shanghai 07:00 local", weekdays(shanghai), time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC), date(2026, 3, 2)},
		{"shanghai 07:59:59 local", weekdays(shanghai), time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC), date(2026, 3, 2)},
		{"shanghai 23:59 local", weekdays(shanghai), time.Date(2026, 3, 2, 15, 59, 0, 0, time.UTC), date(2026, 3, 2)},
		{"shanghai midnight local", weekdays(shanghai), time.Date(2026, 3, 2, 16, 0, 0, 0, time.UTC), date(2026, 3, 3)},
		{"berlin 00:30 CEST", weekdays(berlin), time.Date(2026, 7, 1, 22, 30, 0, 0, time.UTC), date(2026, 7, 2)},
		{"berlin 23:30 on the spring-forward day", weekdays(berlin), time.Date(2026, 3, 29, 21, 30, 0, 0, time.UTC), date(2026, 3, 29)},
		{"utc", weekdays(time.UTC), time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC), date(2026, 3, 1)},
	} {
		require.Equal(t, tc.want, tc.cal.Day(tc.at), tc.name)
	}
}

func TestInside(t *testing.T) {
	t.Parallel()
	shanghai := zone(t, "Asia/Shanghai")
	berlin := zone(t, "Europe/Berlin")
	at := func(loc *time.Location, y int, m time.Month, d, h, mi int) time.Time {
		return time.Date(y, m, d, h, mi, 0, 0, loc)
	}
	closedMonday := calendar.Closure{Date: date(2026, 3, 30), Reason: "holiday"}
	for _, tc := range []struct {
		name       string
		cal        calendar.Calendar
		start, end time.Time
		want       bool
	}{
		{"whole span", weekdays(berlin), at(berlin, 2026, 3, 27, 8, 0), at(berlin, 2026, 3, 27, 18, 0), true},
		{"starts before opening", weekdays(berlin), at(berlin, 2026, 3, 27, 7, 45), at(berlin, 2026, 3, 27, 9, 0), false},
		{"ends after closing", weekdays(berlin), at(berlin, 2026, 3, 27, 17, 0), at(berlin, 2026, 3, 27, 18, 1), false},
		{"empty", weekdays(berlin), at(berlin, 2026, 3, 27, 9, 0), at(berlin, 2026, 3, 27, 9, 0), false},
		{"saturday", weekdays(berlin), at(berlin, 2026, 3, 28, 9, 0), at(berlin, 2026, 3, 28, 10, 0), false},
		// Spring forward: Sunday 2026-03-29 has 23 hours; the Sunday span is 09:00-12:00 CEST (07:00-10:00 UTC).
		{"spring-forward sunday, local 09:00-12:00", weekdays(berlin), time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 10, 0, 0, 0, time.UTC), true},
		{"spring-forward sunday, 08:00 UTC+1 is 09:00 local but one hour late", weekdays(berlin), time.Date(2026, 3, 29, 8, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 11, 0, 0, 0, time.UTC), false},
		// The Monday after: 08:00-18:00 CEST is 06:00-16:00 UTC, not 07:00-17:00.
		{"monday after spring forward, local", weekdays(berlin), time.Date(2026, 3, 30, 6, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 16, 0, 0, 0, time.UTC), true},
		{"monday after spring forward, winter offsets", weekdays(berlin), time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 17, 0, 0, 0, time.UTC), false},
		// Fall back: Sunday 2026-10-25 has 25 hours; 09:00-12:00 CET is 08:00-11:00 UTC.
		{"fall-back sunday, local", weekdays(berlin), time.Date(2026, 10, 25, 8, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 11, 0, 0, 0, time.UTC), true},
		{"fall-back sunday, summer offsets", weekdays(berlin), time.Date(2026, 10, 25, 7, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 10, 0, 0, 0, time.UTC), false},
		{"closure", weekdays(berlin, closedMonday), at(berlin, 2026, 3, 30, 9, 0), at(berlin, 2026, 3, 30, 10, 0), false},
		{"day after a closure", weekdays(berlin, closedMonday), at(berlin, 2026, 3, 31, 9, 0), at(berlin, 2026, 3, 31, 10, 0), true},
		// Shanghai: Monday 07:00 local is Sunday 23:00 UTC; a UTC-day reading would see a Sunday.
		{"shanghai monday 07:00 is sunday in UTC", mondayMornings(shanghai), time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), true},
		{"shanghai closure is the local date", mondayMornings(shanghai, calendar.Closure{Date: date(2026, 3, 2)}), time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), false},
		{"shanghai closure on the UTC date closes nothing", mondayMornings(shanghai, calendar.Closure{Date: date(2026, 3, 1)}), time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), true},
		{"across two spans of one day", calendar.Calendar{Location: time.UTC, Hours: []calendar.Hours{{Weekday: time.Monday, Open: 8 * 60, Close: 12 * 60}, {Weekday: time.Monday, Open: 12 * 60, Close: 18 * 60}}}, time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC), false},
		{"until 24:00", calendar.Calendar{Location: time.UTC, Hours: []calendar.Hours{{Weekday: time.Monday, Open: 0, Close: 24 * 60}}}, time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), true},
		{"past midnight", calendar.Calendar{Location: time.UTC, Hours: []calendar.Hours{{Weekday: time.Monday, Open: 0, Close: 24 * 60}, {Weekday: time.Tuesday, Open: 0, Close: 24 * 60}}}, time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 1, 0, 0, time.UTC), false},
	} {
		require.Equal(t, tc.want, tc.cal.Inside(tc.start, tc.end), tc.name)
	}
}

func TestSpansAcrossDST(t *testing.T) {
	t.Parallel()
	berlin := zone(t, "Europe/Berlin")
	daily := calendar.Calendar{Location: berlin}
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		daily.Hours = append(daily.Hours, calendar.Hours{Weekday: wd, Open: 8 * 60, Close: 18 * 60})
	}
	for _, switchDay := range []time.Time{date(2026, 3, 29), date(2026, 10, 25)} {
		from := time.Date(switchDay.Year(), switchDay.Month(), switchDay.Day()-2, 12, 0, 0, 0, berlin)
		until := time.Date(switchDay.Year(), switchDay.Month(), switchDay.Day()+2, 12, 0, 0, 0, berlin)
		spans := slices.Collect(daily.Spans(from, until))
		require.Len(t, spans, 5, switchDay) // the first and last are cut by from/until but yielded whole
		for i, s := range spans {
			o, c := s[0].In(berlin), s[1].In(berlin)
			require.Equal(t, 8, o.Hour(), "span %d opens at 08:00 local", i)
			require.Equal(t, 18, c.Hour(), "span %d closes at 18:00 local", i)
			require.Equal(t, switchDay.Day()-2+i, o.Day())
			require.Equal(t, 10*time.Hour, s[1].Sub(s[0]))
			require.Equal(t, time.UTC, s[0].Location())
		}
	}
}

func TestSpansSkipClosuresAndKeepOrder(t *testing.T) {
	t.Parallel()
	shanghai := zone(t, "Asia/Shanghai")
	c := calendar.Calendar{
		Location: shanghai,
		// Entered out of order on purpose.
		Hours: []calendar.Hours{
			{Weekday: time.Monday, Open: 14 * 60, Close: 18 * 60},
			{Weekday: time.Monday, Open: 7 * 60, Close: 12 * 60},
			{Weekday: time.Tuesday, Open: 7 * 60, Close: 12 * 60},
			{Weekday: time.Wednesday, Open: 7 * 60, Close: 12 * 60},
		},
		Closures: []calendar.Closure{{Date: date(2026, 3, 3), Reason: "holiday"}}, // Tuesday
	}
	// From Sunday 2026-03-01 23:00 UTC (Monday 07:00 local) to Wednesday noon local.
	spans := slices.Collect(c.Spans(time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 12, 0, 0, 0, shanghai)))
	require.Equal(t, [][2]time.Time{
		{time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 3, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 4, 0, 0, 0, time.UTC)},
	}, spans)

	// Stopping early stops the walk.
	n := 0
	for range c.Spans(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		n++
		if n == 2 {
			break
		}
	}
	require.Equal(t, 2, n)
	require.Empty(t, slices.Collect(c.Spans(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC))))
}

func TestLongestSpan(t *testing.T) {
	t.Parallel()
	require.Equal(t, 10*time.Hour, weekdays(time.UTC).LongestSpan())
	require.Zero(t, calendar.Calendar{Location: time.UTC}.LongestSpan())
}
