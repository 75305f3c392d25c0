package clock

import (
	"sync"
	"time"
)

// Fake is a clock that only moves when a test moves it. Safe for concurrent
// use.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a clock stopped at start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: normalize(start)}
}

// Now returns the clock's time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Set moves the clock to t (backwards too: a test may want that).
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.now = normalize(t)
	f.mu.Unlock()
}

// Advance moves the clock by d and returns the new time.
func (f *Fake) Advance(d time.Duration) time.Time {
	f.mu.Lock()
	f.now = normalize(f.now.Add(d))
	now := f.now
	f.mu.Unlock()
	return now
}
