// Package clock gives a process one source of time. Services, the outbox and
// the job queues all read the same Clock, so a test (Fake) or a developer
// (Dev, through its HTTP handler) can move time for all of them at once and
// see reminders that came due fire as if that time had passed.
//
// Every Clock returns UTC truncated to microseconds: Postgres keeps
// microseconds, so what a service answers equals what it later reads back.
package clock

import (
	"time"
)

// Clock tells the time. Now is UTC, truncated to microseconds.
type Clock interface {
	Now() time.Time
}

// Precision is the resolution every Clock keeps (Postgres timestamptz).
const Precision = time.Microsecond

// normalize is the UTC-microsecond promise of Clock.
func normalize(t time.Time) time.Time { return t.UTC().Truncate(Precision) }

type systemClock struct{}

func (systemClock) Now() time.Time { return normalize(time.Now()) }

// System returns the real clock, for production.
func System() Clock { return systemClock{} }

// IsSystem reports whether c is the real clock. Job queues use it to leave
// Postgres' now() in charge of the database side of time in production and
// to inject the clock's time only when time is controlled (Fake, Dev).
func IsSystem(c Clock) bool {
	_, ok := c.(systemClock)
	return ok
}
