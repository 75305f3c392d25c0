// Package calendar is the clinic's calendar: its time zone, its opening
// hours per weekday and the days it is closed. Days and hours are in the
// clinic's zone; instants are UTC. A day is a civil date (clock.DateOf's
// form: midnight UTC of that date), never "24 hours from midnight UTC".
package calendar

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// TimeOfDay is a wall-clock time in the clinic's zone, as minutes after
// midnight (0-1440).
type TimeOfDay int

// ParseTimeOfDay reads "HH:MM" (24 h; "24:00" is the end of the day).
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("time of day %q is not HH:MM", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("time of day %q is not HH:MM", s)
	}
	return TimeOfDay(h*60 + m), nil
}

// String is "HH:MM".
func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", int(t)/60, int(t)%60) }

// Hours is one opening span of a weekday: [Open, Close).
type Hours struct {
	Weekday time.Weekday
	Open    TimeOfDay
	Close   TimeOfDay
}

// Closure is a day the clinic is closed (a holiday, a closure), in the
// clinic's zone.
type Closure struct {
	// Date is the closed day as midnight UTC of that date.
	Date   time.Time
	Reason string
}

// Calendar is the clinic's opening hours and closures in its zone.
type Calendar struct {
	Location *time.Location
	Hours    []Hours
	Closures []Closure
}

// ErrInvalid is returned by Validate.
var ErrInvalid = errors.New("invalid calendar")

// Validate checks the calendar: a zone, spans that open before they close
// and do not overlap on a weekday.
func (c Calendar) Validate() error {
	if c.Location == nil {
		return fmt.Errorf("%w: no time zone", ErrInvalid)
	}
	for i, h := range c.Hours {
		if h.Weekday < time.Sunday || h.Weekday > time.Saturday {
			return fmt.Errorf("%w: hours %d: weekday %d", ErrInvalid, i+1, h.Weekday)
		}
		if h.Open < 0 || h.Close > 24*60 || h.Open >= h.Close {
			return fmt.Errorf("%w: hours %d: %s-%s is not an opening span", ErrInvalid, i+1, h.Open, h.Close)
		}
		for _, o := range c.Hours[:i] {
			if o.Weekday == h.Weekday && h.Open < o.Close && o.Open < h.Close {
				return fmt.Errorf("%w: hours %d overlap another span on %s", ErrInvalid, i+1, h.Weekday)
			}
		}
	}
	return nil
}

// Closed reports whether day (midnight UTC of a date) is a closure.
func (c Calendar) Closed(day time.Time) bool {
	return slices.ContainsFunc(c.Closures, func(cl Closure) bool { return cl.Date.Equal(day) })
}
