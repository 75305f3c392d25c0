package reminder

import (
	"fmt"
	"time"
)

// QuietHours is a daily window, in the patient's local time, in which no
// reminder goes out. Start after End wraps midnight (21:00-08:00).
type QuietHours struct {
	// Start and End are offsets from local midnight.
	Start, End time.Duration
	// Off: no quiet hours.
	Off bool
}

// DefaultQuietHours is 21:00 to 08:00.
const DefaultQuietHours = "21:00-08:00"

// ParseQuietHours reads "HH:MM-HH:MM", or "off".
func ParseQuietHours(s string) (QuietHours, error) {
	if s == "off" {
		return QuietHours{Off: true}, nil
	}
	var h1, m1, h2, m2 int
	if n, err := fmt.Sscanf(s, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil || n != 4 ||
		h1 < 0 || h1 > 23 || h2 < 0 || h2 > 23 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59 || (h1 == h2 && m1 == m2) {
		return QuietHours{}, fmt.Errorf("quiet hours %q: want HH:MM-HH:MM (or off)", s)
	}
	return QuietHours{Start: time.Duration(h1)*time.Hour + time.Duration(m1)*time.Minute,
		End: time.Duration(h2)*time.Hour + time.Duration(m2)*time.Minute}, nil
}

// at is the local wall-clock time of day d on t's date in loc. Built from
// the calendar (time.Date), not by adding durations to midnight, so a day
// of 23 or 25 hours (a DST change) still ends quiet hours at 08:00 on the
// clock on the wall.
func at(t time.Time, d time.Duration, loc *time.Location) time.Time {
	y, m, day := t.In(loc).Date()
	return time.Date(y, m, day, int(d/time.Hour), int(d%time.Hour/time.Minute), 0, 0, loc)
}

// Until reports whether t falls inside the quiet hours in loc and, if so,
// when they end.
func (q QuietHours) Until(t time.Time, loc *time.Location) (time.Time, bool) {
	if q.Off {
		return time.Time{}, false
	}
	local := t.In(loc)
	tod := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	if q.Start < q.End { // a window within one day
		if tod >= q.Start && tod < q.End {
			return at(local, q.End, loc), true
		}
		return time.Time{}, false
	}
	switch {
	case tod >= q.Start: // the evening: ends tomorrow morning
		return at(local.AddDate(0, 0, 1), q.End, loc), true
	case tod < q.End: // the early morning: ends this morning
		return at(local, q.End, loc), true
	}
	return time.Time{}, false
}

// Policy decides whether a reminder that came due may go out now.
type Policy struct {
	Quiet QuietHours
	// StaleAfter: a reminder more than this late (the service was down, or
	// quiet hours held it) is not sent.
	StaleAfter time.Duration
}

// Skip reasons.
const (
	ReasonVisitStarted = "visit_started"
	ReasonStale        = "stale"
	ReasonNoConsent    = "no_consent"
	ReasonNoChannel    = "no_channel_configured"
	ReasonNoContact    = "no_contact"
	ReasonMoved        = "visit_moved"
	ReasonCancelled    = "visit_cancelled"
	ReasonCourseOnHold = "course_on_hold"
	ReasonCourseCancel = "course_cancelled"
	// ReasonAnswered: the check-in was answered before its reminder went out.
	ReasonAnswered = "check_in_answered"
	// ReasonInvoicePaid, ReasonInvoiceVoided: the overdue invoice was settled.
	ReasonInvoicePaid   = "invoice_paid"
	ReasonInvoiceVoided = "invoice_voided"
)

// Decision is what to do with a due reminder: send it, skip it (Skip is the
// reason), or wait until DeferUntil (the end of quiet hours).
type Decision struct {
	Skip       string
	DeferUntil time.Time
}

// Send reports whether the reminder goes out now.
func (d Decision) Send() bool { return d.Skip == "" && d.DeferUntil.IsZero() }

// Decide decides for a reminder due at due, of a visit starting at start,
// at now, for a patient in zone loc. A reminder of no visit (a payment, a
// long-term follow-up) has a zero start: only staleness and quiet hours
// apply.
func (p Policy) Decide(now, due, start time.Time, loc *time.Location) Decision {
	visit := !start.IsZero()
	if visit && !now.Before(start) {
		return Decision{Skip: ReasonVisitStarted}
	}
	if p.StaleAfter > 0 && now.Sub(due) > p.StaleAfter {
		return Decision{Skip: ReasonStale}
	}
	end, quiet := p.Quiet.Until(now, loc)
	if !quiet {
		return Decision{}
	}
	if (visit && !end.Before(start)) || (p.StaleAfter > 0 && end.Sub(due) > p.StaleAfter) {
		return Decision{Skip: ReasonStale}
	}
	return Decision{DeferUntil: end}
}
