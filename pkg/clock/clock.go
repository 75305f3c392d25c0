// Package clock gives a process one source of time. Services, the outbox and
// the job queues all read the same Clock, so a test (Fake) or a developer
// (Dev, through its HTTP handler) can move time for all of them at once and
// see reminders that came due fire as if that time had passed.
//
// Every Clock returns UTC truncated to microseconds: Postgres keeps
// microseconds, so what a service answers equals what it later reads back.
package clock

import (
	"sync"
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

// Observable is a clock that tells observers when it jumped forward, so that
// whatever waits on time (job queues) can wake and look for work that came
// due.
type Observable interface {
	Clock
	// Subscribe returns a channel that receives a value after each change
	// (coalesced: one pending value at most) and a function that ends the
	// subscription.
	Subscribe() (<-chan struct{}, func())
}

// observers is a set of coalescing subscriber channels.
type observers struct {
	mu   sync.Mutex
	next int
	subs map[int]chan struct{}
}

func (o *observers) subscribe() (<-chan struct{}, func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.subs == nil {
		o.subs = map[int]chan struct{}{}
	}
	id := o.next
	o.next++
	ch := make(chan struct{}, 1)
	o.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			delete(o.subs, id)
		})
	}
}

// notify never blocks: a subscriber that has not read the last value yet
// already knows it has to look again.
func (o *observers) notify() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ch := range o.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
