package clock

import "time"

// Calendar is the clinic's calendar: the process clock read in the clinic's
// time zone. Dates a person means ("today", a birth date, a preferred start)
// are days in that zone, never UTC days: a patient registered at 07:00 in
// Shanghai is registered on that day, not the day before.
type Calendar struct {
	Clock    Clock
	Location *time.Location
}

// Now is the clock's time (UTC, microsecond precision).
func (c Calendar) Now() time.Time { return c.Clock.Now() }

// Today is the clinic's current date, as midnight UTC of that date (how
// dates without a time are stored).
func (c Calendar) Today() time.Time { return DateOf(c.Clock.Now(), c.Location) }

// DateOf is the date t falls on in loc, as midnight UTC of that date.
func DateOf(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
