package policy

import (
	"errors"
	"fmt"
	"time"
)

// Edits of the price lists. A price list's prices never change once
// stored: prices change from a date by a new list valid from that date,
// the list before it closed the day before. What may change is when a list
// ends, and only in the future: the days up to today (the clinic's date)
// are history, on which courses may have been invoiced with the list as it
// was, so no edit reaches into them.

// ErrOverlap: the list's validity overlaps another list of the same
// program and protocol version. An *OverlapError names the other.
var ErrOverlap = errors.New("the validity overlaps another price list")

// ErrPast: the edit would change which list applied on a day that has
// already begun (a new list or a close before today).
var ErrPast = errors.New("price lists are history up to today")

// ErrExtends: closing a list later than it already ends. Closing only
// shortens a list; a longer validity is a new list.
var ErrExtends = errors.New("closing would extend the price list")

// OverlapError names the list a new one would overlap.
type OverlapError struct{ Other PriceList }

func (e *OverlapError) Error() string {
	to := "open-ended"
	if !e.Other.ValidTo.IsZero() {
		to = "to " + e.Other.ValidTo.Format(time.DateOnly)
	}
	return fmt.Sprintf("overlaps the price list %s/%s valid from %s %s", e.Other.Program, e.Other.ProtocolVersion,
		e.Other.ValidFrom.Format(time.DateOnly), to)
}

// Unwrap makes errors.Is(err, ErrOverlap) true.
func (e *OverlapError) Unwrap() error { return ErrOverlap }

// Overlaps reports whether pl and o are lists of the same program and
// protocol version with a day in common (both ends included; a zero
// ValidTo is open-ended).
func (pl PriceList) Overlaps(o PriceList) bool {
	if pl.Program != o.Program || pl.ProtocolVersion != o.ProtocolVersion {
		return false
	}
	startsBeforeOEnds := o.ValidTo.IsZero() || !pl.ValidFrom.After(o.ValidTo)
	oStartsBeforeEnd := pl.ValidTo.IsZero() || !o.ValidFrom.After(pl.ValidTo)
	return startsBeforeOEnds && oStartsBeforeEnd
}

// CheckNew checks a new list against the lists already stored for its
// program and version, on today (the clinic's date): it is valid, starts
// today or later, and overlaps none of them (an *OverlapError naming the
// first, by ValidFrom order of others).
func CheckNew(pl PriceList, others []PriceList, today time.Time) error {
	if err := pl.Validate(); err != nil {
		return err
	}
	if pl.ValidFrom.Before(today) {
		return fmt.Errorf("valid from %s, before today %s: %w", pl.ValidFrom.Format(time.DateOnly), today.Format(time.DateOnly), ErrPast)
	}
	for _, o := range others {
		if pl.Overlaps(o) {
			return &OverlapError{Other: o}
		}
	}
	return nil
}

// CloseOn is pl ending on validTo (included), on today (the clinic's
// date). It only ends a list sooner, and never before today: the days up
// to today keep the list that applied on them. A list that has not started
// yet cannot be closed before it starts (Validate; it is left to end on
// its first day).
func (pl PriceList) CloseOn(validTo, today time.Time) (PriceList, error) {
	if validTo.Before(today) {
		return pl, fmt.Errorf("close on %s, before today %s: %w", validTo.Format(time.DateOnly), today.Format(time.DateOnly), ErrPast)
	}
	if !pl.ValidTo.IsZero() && validTo.After(pl.ValidTo) {
		return pl, fmt.Errorf("close on %s, after it ends on %s: %w", validTo.Format(time.DateOnly), pl.ValidTo.Format(time.DateOnly), ErrExtends)
	}
	closed := pl
	closed.ValidTo = validTo
	if err := closed.Validate(); err != nil {
		return pl, err
	}
	return closed, nil
}

// Supersede is the list `old` becomes when next takes over from
// next.ValidFrom: old closed the day before. old must be of the same
// program and version and start before next.
func Supersede(old, next PriceList, today time.Time) (PriceList, error) {
	if old.Program != next.Program || old.ProtocolVersion != next.ProtocolVersion || !old.ValidFrom.Before(next.ValidFrom) {
		return old, fmt.Errorf("the list from %s cannot be superseded by one from %s: %w",
			old.ValidFrom.Format(time.DateOnly), next.ValidFrom.Format(time.DateOnly), ErrInvalid)
	}
	return old.CloseOn(next.ValidFrom.AddDate(0, 0, -1), today)
}
