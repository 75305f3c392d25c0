// Package reminder decides which reminders a visit gets, when each is due,
// and whether one that came due may go out now: the rules of follow-up's
// reminder engine, without storage or transport.
package reminder

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Status of a reminder.
type Status string

// Statuses. A reminder is scheduled until it is sent, skipped (it may not
// or need not go out: the reason says why), failed (every attempt
// refused), unknown (it may have left through a channel that takes no
// idempotency key: not resent, staff check) or cancelled (its visit moved
// or was cancelled, or its course was held or cancelled).
const (
	Scheduled Status = "scheduled"
	Sent      Status = "sent"
	Skipped   Status = "skipped"
	Failed    Status = "failed"
	Unknown   Status = "unknown"
	Cancelled Status = "cancelled"
)

// ParseStatus reads a status.
func ParseStatus(s string) (Status, error) {
	st := Status(s)
	switch st {
	case Scheduled, Sent, Skipped, Failed, Unknown, Cancelled:
		return st, nil
	}
	return "", fmt.Errorf("unknown reminder status %q", s)
}

// Visit statuses.
const (
	VisitBooked    = "booked"
	VisitCancelled = "cancelled"
)

// Course statuses, as far as reminders care.
const (
	CourseActive    = "active"
	CourseOnHold    = "on_hold"
	CourseCancelled = "cancelled"
)

// Visit is one appointment as follow-up knows it from scheduling.
type Visit struct {
	AppointmentID  uuid.UUID
	PatientID      uuid.UUID
	CourseID       uuid.UUID // uuid.Nil for an ad-hoc visit
	Kind           string    // "draw", "infusion", ...
	Cycle          int       // the course's cycle, from 1; 0 for an ad-hoc visit
	Start, End     time.Time
	PatientPresent bool
	Status         string
	// Version is the appointment's version in scheduling.
	Version   int64
	UpdatedAt time.Time
}

// ErrInvalidVisit: an appointment event follow-up cannot use.
var ErrInvalidVisit = errors.New("invalid visit")

// Validate checks a visit built from an event.
func (v Visit) Validate() error {
	switch {
	case v.AppointmentID == uuid.Nil || v.PatientID == uuid.Nil:
		return fmt.Errorf("%w: needs an appointment and a patient", ErrInvalidVisit)
	case v.Version < 1:
		return fmt.Errorf("%w: needs a version", ErrInvalidVisit)
	case v.Start.IsZero() || v.End.Before(v.Start):
		return fmt.Errorf("%w: needs a start before its end", ErrInvalidVisit)
	}
	return nil
}

// Rule is one kind of reminder: Before the start of every visit of one of
// VisitKinds (all visits when empty) at which the patient is present, of
// cycle FromCycle or later when FromCycle is set.
type Rule struct {
	Kind       string
	Before     time.Duration
	VisitKinds []string
	FromCycle  int
}

// DefaultRules: 48 h and 24 h before every visit, 2 h before an infusion,
// preparation instructions 24 h before a draw.
const DefaultRules = "visit_48h=48h,visit_24h=24h,infusion_2h=2h@infusion,draw_preparation=24h@draw"

// ParseRules reads rules as kind=offset[@visitkind|visitkind...], comma
// separated, e.g. DefaultRules.
func ParseRules(s string) ([]Rule, error) {
	var out []Rule
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kind, rest, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(kind) == "" {
			return nil, fmt.Errorf("reminder rule %q: want kind=offset[@visitkind|...]", part)
		}
		offset, kinds, _ := strings.Cut(rest, "@")
		d, err := time.ParseDuration(strings.TrimSpace(offset))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("reminder rule %q: the offset must be a positive duration such as 24h", part)
		}
		r := Rule{Kind: strings.TrimSpace(kind), Before: d}
		for _, k := range strings.Split(kinds, "|") {
			if k = strings.TrimSpace(k); k != "" {
				r.VisitKinds = append(r.VisitKinds, k)
			}
		}
		if slices.ContainsFunc(out, func(o Rule) bool { return o.Kind == r.Kind }) {
			return nil, fmt.Errorf("reminder rule %q: kind given twice", part)
		}
		out = append(out, r)
	}
	return out, nil
}

// Due is one reminder a visit gets.
type Due struct {
	Kind  string
	DueAt time.Time
}

// Plan lists the reminders of v under rules. One already due before from
// (the time the booking or move happened: a visit booked 10 hours ahead
// gets no 48 h reminder) is left out; one due after from but before now
// (the event was handled late) is kept, and the sender decides whether it
// is stale. A visit the patient does not attend gets none.
func Plan(rules []Rule, v Visit, from time.Time) []Due {
	if !v.PatientPresent || v.Status != VisitBooked {
		return nil
	}
	var out []Due
	for _, r := range rules {
		if len(r.VisitKinds) > 0 && !slices.Contains(r.VisitKinds, v.Kind) || v.Cycle < r.FromCycle {
			continue
		}
		due := v.Start.Add(-r.Before)
		if due.Before(from) {
			continue
		}
		out = append(out, Due{Kind: r.Kind, DueAt: due})
	}
	return out
}
