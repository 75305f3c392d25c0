package clock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/clock"
)

func requireNormalized(t *testing.T, ts time.Time) {
	t.Helper()
	require.Equal(t, time.UTC, ts.Location())
	require.Equal(t, ts, ts.Truncate(time.Microsecond), "not truncated to microseconds: %s", ts)
}

func TestSystem(t *testing.T) {
	t.Parallel()
	c := clock.System()
	before := time.Now().Add(-time.Microsecond)
	now := c.Now()
	requireNormalized(t, now)
	require.False(t, now.Before(before.Truncate(time.Microsecond)))
	require.True(t, clock.IsSystem(c))
	require.False(t, clock.IsSystem(clock.NewFake(time.Now())))
	require.False(t, clock.IsSystem(clock.NewDev()))
}

func TestFake(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	f := clock.NewFake(start)
	requireNormalized(t, f.Now())
	require.True(t, f.Now().Equal(start.Truncate(time.Microsecond)))
	require.Equal(t, f.Now(), f.Now(), "a fake clock does not move by itself")

	got := f.Advance(14 * 24 * time.Hour)
	require.Equal(t, start.Add(14*24*time.Hour).UTC().Truncate(time.Microsecond), got)
	require.Equal(t, got, f.Now())

	back := start.Add(-time.Hour)
	f.Set(back)
	require.True(t, f.Now().Equal(back.Truncate(time.Microsecond)), "a test may set the fake clock back")
	requireNormalized(t, f.Now())
}

func TestFakeConcurrent(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := clock.NewFake(start)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				f.Advance(time.Second)
				_ = f.Now()
			}
		})
	}
	wg.Wait()
	require.Equal(t, start.Add(800*time.Second), f.Now())
}

func TestDevAdvance(t *testing.T) {
	t.Parallel()
	d := clock.NewDev()
	requireNormalized(t, d.Now())
	require.Zero(t, d.Offset())

	before := time.Now()
	now, err := d.Advance(336 * time.Hour)
	require.NoError(t, err)
	requireNormalized(t, now)
	require.Equal(t, 336*time.Hour, d.Offset())
	require.True(t, !now.Before(before.Add(336*time.Hour).Truncate(time.Microsecond)), "now %s", now)
	require.True(t, now.Before(time.Now().Add(336*time.Hour+time.Minute)))

	for _, bad := range []time.Duration{0, -time.Nanosecond, -336 * time.Hour} {
		_, err := d.Advance(bad)
		require.ErrorIs(t, err, clock.ErrNotForward, "advance %s", bad)
	}
	_, err = d.Advance(clock.MaxOffset)
	require.ErrorIs(t, err, clock.ErrTooFar)
	require.Equal(t, 336*time.Hour, d.Offset(), "refused advances change nothing")
}

func TestDevNeverMovesBackward(t *testing.T) {
	t.Parallel()
	d := clock.NewDev()
	prev := d.Now()
	for range 1000 {
		now := d.Now()
		require.False(t, now.Before(prev), "%s before %s", now, prev)
		prev = now
	}
}
