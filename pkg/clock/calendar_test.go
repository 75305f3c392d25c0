package clock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/clock"
)

func TestCalendarTodayIsTheClinicsDate(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	// 23:30 UTC on the 27th is 07:30 on the 28th in Shanghai.
	f := clock.NewFake(time.Date(2026, 11, 27, 23, 30, 0, 0, time.UTC))
	cal := clock.Calendar{Clock: f, Location: shanghai}
	require.Equal(t, time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), cal.Today())
	require.Equal(t, f.Now(), cal.Now())
	f.Advance(16*time.Hour + 29*time.Minute) // 23:59 in Shanghai
	require.Equal(t, time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), cal.Today())
	f.Advance(time.Minute)
	require.Equal(t, time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC), cal.Today())
}
