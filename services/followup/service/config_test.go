package service_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
	"github.com/clinicops/clinicops/services/followup/service"
)

func TestReminderKindSettings(t *testing.T) {
	t.Parallel()
	load := func(kv map[string]string) (service.Config, error) {
		return service.LoadConfig(func(k string) string { return kv[k] })
	}
	c, err := load(nil)
	require.NoError(t, err)
	require.Equal(t, []int{3, 6, 12}, c.FollowUpMonths)
	last := c.Rules[len(c.Rules)-1]
	require.Equal(t, reminder.NextCycleDrawRule(7*24*time.Hour), last)

	c, err = load(map[string]string{"FOLLOWUP_NEXT_CYCLE_DRAW_BEFORE": "72h", "FOLLOWUP_LONG_TERM_MONTHS": "1, 24"})
	require.NoError(t, err)
	require.Equal(t, []int{1, 24}, c.FollowUpMonths)
	require.Equal(t, 72*time.Hour, c.Rules[len(c.Rules)-1].Before)

	c, err = load(map[string]string{"FOLLOWUP_NEXT_CYCLE_DRAW_BEFORE": "off", "FOLLOWUP_LONG_TERM_MONTHS": "off"})
	require.NoError(t, err)
	require.Empty(t, c.FollowUpMonths)
	for _, r := range c.Rules {
		require.NotEqual(t, reminder.KindNextCycleDraw, r.Kind)
	}

	for _, bad := range []map[string]string{
		{"FOLLOWUP_NEXT_CYCLE_DRAW_BEFORE": "7d"},
		{"FOLLOWUP_NEXT_CYCLE_DRAW_BEFORE": "-1h"},
		{"FOLLOWUP_REMINDER_OFFSETS": "next_cycle_draw=24h@draw"},
		{"FOLLOWUP_LONG_TERM_MONTHS": "3,three"},
	} {
		_, err := load(bad)
		require.Error(t, err, "%v", bad)
	}
}

func TestJobTimeoutAndRescueSettings(t *testing.T) {
	t.Parallel()
	load := func(kv map[string]string) (service.Config, error) {
		return service.LoadConfig(func(k string) string { return kv[k] })
	}
	c, err := load(nil)
	require.NoError(t, err)
	require.Equal(t, 90*time.Second, c.JobTimeout, "twice the 30 s send timeout plus 30 s")
	require.Equal(t, 5*time.Minute, c.RescueAfter, "not River's hour")

	c, err = load(map[string]string{"FOLLOWUP_SEND_TIMEOUT": "5s", "FOLLOWUP_JOB_RESCUE_AFTER": "50s"})
	require.NoError(t, err)
	require.Equal(t, 40*time.Second, c.JobTimeout)
	require.Equal(t, 50*time.Second, c.RescueAfter)

	for _, bad := range []map[string]string{
		{"FOLLOWUP_JOB_TIMEOUT": "30s"}, // not longer than the send
		{"FOLLOWUP_JOB_TIMEOUT": "soon"},
		{"FOLLOWUP_JOB_RESCUE_AFTER": "90s"}, // not longer than the job
		{"FOLLOWUP_SEND_TIMEOUT": "5s", "FOLLOWUP_JOB_TIMEOUT": "1m", "FOLLOWUP_JOB_RESCUE_AFTER": "1m"},
	} {
		_, err := load(bad)
		require.Error(t, err, "%v", bad)
	}
}
