package clock

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNotForward rejects an advance that is not a positive duration: the dev
// clock never moves backward, because jobs, invoices and appointments already
// stamped with a later time would then lie in the future.
var ErrNotForward = errors.New("clock advance must be a positive duration")

// ErrTooFar rejects an advance that would put the clock more than MaxOffset
// ahead of real time (beyond that, times stop fitting in RFC 3339 and the
// offset arithmetic overflows).
var ErrTooFar = errors.New("clock advance goes too far")

// MaxOffset is how far ahead of real time the dev clock may run.
const MaxOffset = 100 * 365 * 24 * time.Hour

// Dev is the clock of `clinicops dev`: real time plus an offset that only
// grows. All four services in the dev process share one, so a developer can
// jump two weeks ahead and watch every service behave as if the time had
// passed. Safe for concurrent use.
type Dev struct {
	mu     sync.Mutex
	offset time.Duration
	// last is the latest time returned: Now never goes below it, even if the
	// machine's wall clock steps back (NTP).
	last time.Time
	wall func() time.Time
}

// NewDev returns a dev clock with no offset.
func NewDev() *Dev { return &Dev{wall: time.Now} }

// Now returns real time plus the offset, never earlier than a time it
// returned before.
func (d *Dev) Now() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nowLocked()
}

func (d *Dev) nowLocked() time.Time {
	now := normalize(d.wall().Add(d.offset))
	if now.Before(d.last) {
		return d.last
	}
	d.last = now
	return now
}

// Offset is how far ahead of real time the clock runs.
func (d *Dev) Offset() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.offset
}

// Advance moves the clock forward by by and returns the new time. A zero or negative duration is refused with ErrNotForward,
// one that would run past MaxOffset with ErrTooFar.
func (d *Dev) Advance(by time.Duration) (time.Time, error) {
	if by <= 0 {
		return time.Time{}, fmt.Errorf("advance %s: %w", by, ErrNotForward)
	}
	d.mu.Lock()
	if by > MaxOffset-d.offset {
		d.mu.Unlock()
		return time.Time{}, fmt.Errorf("advance %s: %w (at most %s ahead of real time)", by, ErrTooFar, MaxOffset)
	}
	d.offset += by
	now := d.nowLocked()
	d.mu.Unlock()
	return now, nil
}
