// Package service describes followup: its configuration, migrations, the
// events it consumes and how it is wired on a platform runtime. The binary,
// `clinicops dev` and the tests all start it from Service.
package service

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/followup/api"
	"github.com/clinicops/clinicops/services/followup/internal/adapters"
	"github.com/clinicops/clinicops/services/followup/internal/adapters/channels"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/domain/reminder"
	"github.com/clinicops/clinicops/services/followup/internal/ports"
	"github.com/clinicops/clinicops/services/followup/migrations"
)

// Config is followup's own configuration.
type Config struct {
	// Rules are the reminders each visit gets (FOLLOWUP_REMINDER_OFFSETS,
	// default reminder.DefaultRules: kind=offset[@visitkind|...]).
	Rules []reminder.Rule
	// Policy: quiet hours (FOLLOWUP_QUIET_HOURS, default 21:00-08:00, or
	// off) and the stale limit (FOLLOWUP_REMINDER_STALE_AFTER, default 12h).
	Policy reminder.Policy
	// Preference is the order of channels among those the patient consented
	// to (FOLLOWUP_CHANNEL_PREFERENCE, default sms,email).
	Preference []string
	// MaxAttempts per reminder before it fails (FOLLOWUP_REMINDER_ATTEMPTS,
	// default 5).
	MaxAttempts int
	// SendTimeout bounds one send (FOLLOWUP_SEND_TIMEOUT, default 30s).
	SendTimeout time.Duration
	// Channels are the configured delivery channels by name (channels.FromConfig:
	// the log channel always, e-mail, SMS and the webhook when set).
	Channels map[string]app.Channel
}

// LoadConfig reads followup's settings.
func LoadConfig(getenv func(string) string) (Config, error) {
	get := func(k, def string) string { return cmp.Or(strings.TrimSpace(getenv(k)), def) }
	var c Config
	var err error
	if c.Rules, err = reminder.ParseRules(get("FOLLOWUP_REMINDER_OFFSETS", reminder.DefaultRules)); err != nil {
		return c, fmt.Errorf("FOLLOWUP_REMINDER_OFFSETS: %w", err)
	}
	if c.Policy.Quiet, err = reminder.ParseQuietHours(get("FOLLOWUP_QUIET_HOURS", reminder.DefaultQuietHours)); err != nil {
		return c, fmt.Errorf("FOLLOWUP_QUIET_HOURS: %w", err)
	}
	if c.Policy.StaleAfter, err = time.ParseDuration(get("FOLLOWUP_REMINDER_STALE_AFTER", "12h")); err != nil || c.Policy.StaleAfter <= 0 {
		return c, fmt.Errorf("FOLLOWUP_REMINDER_STALE_AFTER: want a positive duration such as 12h")
	}
	for _, p := range strings.Split(get("FOLLOWUP_CHANNEL_PREFERENCE", "sms,email"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.Preference = append(c.Preference, p)
		}
	}
	if c.MaxAttempts, err = strconv.Atoi(get("FOLLOWUP_REMINDER_ATTEMPTS", "5")); err != nil || c.MaxAttempts < 1 {
		return c, fmt.Errorf("FOLLOWUP_REMINDER_ATTEMPTS: want a whole number from 1")
	}
	if c.SendTimeout, err = time.ParseDuration(get("FOLLOWUP_SEND_TIMEOUT", "30s")); err != nil || c.SendTimeout <= 0 {
		return c, fmt.Errorf("FOLLOWUP_SEND_TIMEOUT: want a positive duration such as 30s")
	}
	if c.Channels, err = channels.FromConfig(getenv); err != nil {
		return c, fmt.Errorf("channels: %w", err)
	}
	return c, nil
}

// LogValue lists the settings at start (channel names only, never their secrets).
func (c Config) LogValue() slog.Value {
	kinds := make([]string, len(c.Rules))
	for i, r := range c.Rules {
		kinds[i] = r.Kind
	}
	return slog.GroupValue(slog.Any("reminders", kinds), slog.Bool("quiet_hours", !c.Policy.Quiet.Off),
		slog.Duration("stale_after", c.Policy.StaleAfter), slog.Any("preference", c.Preference),
		slog.Any("channels", slices.Sorted(maps.Keys(c.Channels))), slog.Int("max_attempts", c.MaxAttempts))
}

// Service is followup, described once.
var Service = platform.Define(platform.Definition[Config]{
	Name:        "followup",
	DefaultAddr: ":8084",
	Migrations:  []pgdb.MigrationSource{migrations.Source},
	OpenAPI:     api.OpenAPI,
	Consumes: []string{
		messaging.SubjectOf(&intakev1.PatientRegistered{}),
		messaging.SubjectOf(&intakev1.PatientUpdated{}),
		messaging.SubjectOf(&intakev1.ConsentRecorded{}),
		messaging.SubjectOf(&intakev1.ConsentWithdrawn{}),
		messaging.SubjectOf(&schedulingv1.AppointmentBooked{}),
		messaging.SubjectOf(&schedulingv1.AppointmentRescheduled{}),
		messaging.SubjectOf(&schedulingv1.AppointmentCancelled{}),
		messaging.SubjectOf(&schedulingv1.CourseOnHold{}),
		messaging.SubjectOf(&schedulingv1.CourseResumed{}),
		messaging.SubjectOf(&schedulingv1.CourseCancelled{}),
	},
	Config: LoadConfig,
	Build: func(ctx context.Context, rt *platform.Runtime, cfg Config) error {
		store := &adapters.Store{DB: rt.DB, Outbox: rt.Outbox, Now: rt.Now}
		sender := &adapters.Sender{DB: rt.DB, Outbox: rt.Outbox, Channels: cfg.Channels, Preference: cfg.Preference,
			Policy: cfg.Policy, Now: rt.Now, Location: rt.Location, MaxAttempts: cfg.MaxAttempts, SendTimeout: cfg.SendTimeout}
		workers := river.NewWorkers()
		river.AddWorker(workers, &adapters.ReminderWorker{Sender: sender})
		jobClient, err := rt.UseJobs(ctx, workers, nil)
		if err != nil {
			return err
		}
		store.Jobs = jobClient
		if err := ports.Events(rt.Processor, store.Tx); err != nil {
			return err
		}
		if err := ports.SchedulingEvents(rt.Processor, store.Tx, app.Reminders{Rules: cfg.Rules}); err != nil {
			return err
		}
		ports.HTTP{Contacts: adapters.Contacts{DB: rt.DB}, Reminders: adapters.Reminders{DB: rt.DB}}.Routes(rt.Router)
		return nil
	},
})
