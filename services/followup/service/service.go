// Package service describes followup for the platform: its name, address,
// migrations, the events it consumes, its settings and how it is built.
// The binary, `clinicops dev`, the tests and the benchmarks all run this
// one description.
package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/jobs"
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
	// default reminder.DefaultRules: kind=offset[@visitkind|...]), and the
	// next cycle's draw, that long before a draw of cycle 2 or later
	// (FOLLOWUP_NEXT_CYCLE_DRAW_BEFORE, default 168h, or off).
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
	// Workers is how many durable jobs (sends, check-in deadlines,
	// alerts) run at once (FOLLOWUP_JOB_WORKERS, default 400). A send
	// waits most of the time (for its claim's batch, its channel, its
	// record's batch), so the workers in flight bound the rate: with 100,000
	// reminders due at once, 10 workers sent about 100 a second, 100 about
	// 1,000 and 400 about 2,300 (docs/benchmarks.md). A worker is a
	// goroutine: the database sees the batches, not the workers.
	Workers int
	// JobTimeout cancels a job (a send, a check-in deadline, an alert) that
	// runs longer (FOLLOWUP_JOB_TIMEOUT, default twice SendTimeout plus 30 s:
	// a send's claim, its channel and its record).
	JobTimeout time.Duration
	// RescueAfter: a job still running this long after it started belongs
	// to a process that died, and River runs it again (FOLLOWUP_JOB_RESCUE_AFTER,
	// default 5m; more than JobTimeout). River's own default is an hour,
	// which would hold a reminder a killed process had taken but not yet
	// claimed for that long. Running it again is safe: its claim, under the
	// reminder's lock, finds it sent, or in the middle of a send (then the
	// recovery rules apply).
	RescueAfter time.Duration
	// FollowUpMonths: long-term follow-up reminders this many months after
	// a course is completed (FOLLOWUP_LONG_TERM_MONTHS, default 3,6,12, or
	// off).
	FollowUpMonths []int
	// Channels are the configured delivery channels by name (channels.FromConfig:
	// the log channel always, e-mail, SMS and the webhook when set).
	Channels map[string]app.Channel
	// OnCall is the channel that alerts the on-call clinician
	// (FOLLOWUP_ONCALL_CHANNEL: a configured channel's name, default log).
	OnCall string
	// CheckInDays are the days after an infusion its check-ins are due,
	// by program ("" for every other program): FOLLOWUP_CHECKIN_DAYS
	// (default 1,3,7,14,30) and FOLLOWUP_CHECKIN_DAYS_BY_PROGRAM
	// ("msc=1,7,30;nk-autologous=1,3,7,14,30"), since AppointmentCompleted
	// does not carry the protocol's days.
	CheckInDays map[string][]int
	// CheckInAt: a check-in's reminder goes to the patient at this time on
	// its day (FOLLOWUP_CHECKIN_REMIND_AT, default 09:00, or off: negative).
	CheckInAt time.Duration
	// Links are the check-in links patients answer through.
	Links CheckInLinks
}

// LoadConfig reads followup's settings.
func LoadConfig(getenv func(string) string) (Config, error) {
	get := func(k, def string) string { return cmp.Or(strings.TrimSpace(getenv(k)), def) }
	var c Config
	var err error
	if c.Rules, err = reminder.ParseRules(get("FOLLOWUP_REMINDER_OFFSETS", reminder.DefaultRules)); err != nil {
		return c, fmt.Errorf("FOLLOWUP_REMINDER_OFFSETS: %w", err)
	}
	if c.Rules, err = nextCycleDraw(c.Rules, get("FOLLOWUP_NEXT_CYCLE_DRAW_BEFORE", reminder.DefaultNextCycleDrawBefore.String())); err != nil {
		return c, fmt.Errorf("FOLLOWUP_NEXT_CYCLE_DRAW_BEFORE: %w", err)
	}
	if c.FollowUpMonths, err = reminder.ParseMonths(get("FOLLOWUP_LONG_TERM_MONTHS", reminder.DefaultFollowUpMonths)); err != nil {
		return c, fmt.Errorf("FOLLOWUP_LONG_TERM_MONTHS: %w", err)
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
	if c.Workers, err = strconv.Atoi(get("FOLLOWUP_JOB_WORKERS", "400")); err != nil || c.Workers < 1 || c.Workers > 10000 {
		return c, fmt.Errorf("FOLLOWUP_JOB_WORKERS: want a whole number from 1 to 10000")
	}
	if c.JobTimeout, err = time.ParseDuration(get("FOLLOWUP_JOB_TIMEOUT", (2*c.SendTimeout + 30*time.Second).String())); err != nil ||
		c.JobTimeout <= c.SendTimeout {
		return c, fmt.Errorf("FOLLOWUP_JOB_TIMEOUT: want a duration longer than FOLLOWUP_SEND_TIMEOUT (%s)", c.SendTimeout)
	}
	if c.RescueAfter, err = time.ParseDuration(get("FOLLOWUP_JOB_RESCUE_AFTER", "5m")); err != nil || c.RescueAfter <= c.JobTimeout {
		return c, fmt.Errorf("FOLLOWUP_JOB_RESCUE_AFTER: want a duration longer than FOLLOWUP_JOB_TIMEOUT (%s)", c.JobTimeout)
	}
	if c.Channels, err = channels.FromConfig(getenv); err != nil {
		return c, fmt.Errorf("channels: %w", err)
	}
	c.OnCall = get("FOLLOWUP_ONCALL_CHANNEL", channels.LogName)
	if _, ok := c.Channels[c.OnCall]; !ok {
		return c, fmt.Errorf("FOLLOWUP_ONCALL_CHANNEL: %q is not a configured channel (%s)", c.OnCall,
			strings.Join(slices.Sorted(maps.Keys(c.Channels)), ", "))
	}
	return c, loadCheckInDays(getenv, &c)
}

// nextCycleDraw adds the next cycle's draw rule to rules, unless s is off.
func nextCycleDraw(rules []reminder.Rule, s string) ([]reminder.Rule, error) {
	if s == "off" {
		return rules, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return nil, errors.New("want a positive duration such as 168h, or off")
	}
	if slices.ContainsFunc(rules, func(r reminder.Rule) bool { return r.Kind == reminder.KindNextCycleDraw }) {
		return nil, fmt.Errorf("FOLLOWUP_REMINDER_OFFSETS already has a rule of kind %s", reminder.KindNextCycleDraw)
	}
	return append(rules, reminder.NextCycleDrawRule(d)), nil
}

// LogValue lists the settings at start (channel names only, never their secrets).
func (c Config) LogValue() slog.Value {
	kinds := make([]string, len(c.Rules))
	for i, r := range c.Rules {
		kinds[i] = r.Kind
	}
	return slog.GroupValue(append([]slog.Attr{slog.Any("reminders", kinds), slog.Bool("quiet_hours", !c.Policy.Quiet.Off),
		slog.Duration("stale_after", c.Policy.StaleAfter), slog.Any("preference", c.Preference),
		slog.Any("channels", slices.Sorted(maps.Keys(c.Channels))), slog.String("on_call", c.OnCall),
		slog.Int("max_attempts", c.MaxAttempts), slog.Int("job_workers", c.Workers), slog.Any("long_term_months", c.FollowUpMonths),
		slog.Bool("check_in_links", c.Links.Base != ""), slog.Duration("check_in_remind_at", c.CheckInAt)}, c.checkInAttrs()...)...)
}

// resumeStuck is the sweep (adapters.Sender.ResumeStuck): a reminder a
// crashed process left in the middle of a send is resumed soon, not an
// hour later when River rescues its job. It runs at start and then every
// send timeout, since a send a crash left moments before a restart is not
// yet older than the timeout at start (a live send never is: the timeout
// bounds it). A failure is logged, not fatal (River's rescue still covers
// the reminder).
func resumeStuck(log *slog.Logger, sender *adapters.Sender, every time.Duration) func(context.Context) error {
	sweep := func(ctx context.Context) {
		n, err := sender.ResumeStuck(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("resume reminders stuck in a send", "error", err)
		}
		if n > 0 {
			log.Info("resumed reminders stuck in a send", "count", n)
		}
	}
	return func(ctx context.Context) error {
		sweep(ctx)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				sweep(ctx)
			}
		}
	}
}

// Deps are what followup talks to outside itself, where a test needs to
// stand in.
type Deps struct {
	// Alert reaches the on-call clinician (escalations, serious adverse
	// events); nil uses the configured channel (FOLLOWUP_ONCALL_CHANNEL).
	Alert func(rt *platform.Runtime) app.Channel
	// Channels replace configured channels by route ("log", "email",
	// "sms"); tests read what the patients were sent.
	Channels func(rt *platform.Runtime) map[string]app.Channel
}

// Service is followup, described once.
var Service = New(Deps{})

// New describes followup with deps; tests replace the alert channel.
func New(deps Deps) platform.Service {
	return platform.Define(platform.Definition[Config]{
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
			messaging.SubjectOf(&schedulingv1.AppointmentCompleted{}),
			messaging.SubjectOf(&schedulingv1.CourseOnHold{}),
			messaging.SubjectOf(&schedulingv1.CourseResumed{}),
			messaging.SubjectOf(&schedulingv1.CourseCancelled{}),
			messaging.SubjectOf(&schedulingv1.CourseCompleted{}),
			messaging.SubjectOf(&billingv1.InvoiceOverdue{}), messaging.SubjectOf(&billingv1.InvoicePaid{}),
			messaging.SubjectOf(&billingv1.InvoiceVoided{}),
		},
		Config: LoadConfig,
		Build: func(ctx context.Context, rt *platform.Runtime, cfg Config) error {
			return build(ctx, rt, cfg, deps)
		},
	})
}

// build wires reminders, check-ins, escalations, adverse events and
// outcomes on one job client (a runtime has one).
func build(ctx context.Context, rt *platform.Runtime, cfg Config, deps Deps) error {
	// The log channel writes through the service's own logger (settings
	// are read before the runtime, and its logger, exist).
	cfg.Channels = maps.Clone(cfg.Channels)
	cfg.Channels[channels.LogName] = channels.NewLog(rt.Log)
	if deps.Channels != nil {
		maps.Copy(cfg.Channels, deps.Channels(rt))
	}
	alert := cfg.Channels[cfg.OnCall]
	if deps.Alert != nil {
		alert = deps.Alert(rt)
	}
	store := &adapters.Store{DB: rt.DB, Outbox: rt.Outbox, Now: rt.Now}
	sender := &adapters.Sender{DB: rt.DB, Outbox: rt.Outbox, Channels: cfg.Channels, Preference: cfg.Preference,
		Policy: cfg.Policy, Now: rt.Now, Location: rt.Location, MaxAttempts: cfg.MaxAttempts, SendTimeout: cfg.SendTimeout}
	if err := sender.Prepare(ctx); err != nil {
		return err
	}
	sender.CheckInLink = cfg.Links.URL
	clinical := &app.Clinical{Clock: rt.Clock, Location: rt.Location, CheckInDays: cfg.CheckInDays, CheckInAt: cfg.CheckInAt}
	clinicalStore := &adapters.ClinicalStore{DB: rt.DB, Outbox: rt.Outbox, Now: rt.Now}

	workers := river.NewWorkers()
	river.AddWorker(workers, &adapters.ReminderWorker{Sender: sender})
	adapters.AddClinicalWorkers(workers, clinicalStore, clinical, alert)
	jobClient, err := rt.UseJobs(ctx, workers, jobs.Config{Queues: map[string]int{river.QueueDefault: cfg.Workers},
		JobTimeout: cfg.JobTimeout, RescueStuckJobsAfter: cfg.RescueAfter})
	if err != nil {
		return err
	}
	store.Jobs, clinicalStore.Jobs = jobClient, jobClient

	if err := ports.Events(rt.Processor, store.Tx); err != nil {
		return err
	}
	if err := ports.SchedulingEvents(rt.Processor, store.Tx, app.Reminders{Rules: cfg.Rules}); err != nil {
		return err
	}
	if err := ports.StandaloneEvents(rt.Processor, store.Standalone,
		app.Standalone{FollowUpMonths: cfg.FollowUpMonths, Location: rt.Location}); err != nil {
		return err
	}
	if err := ports.ClinicalEvents(rt.Processor, clinicalStore.Tx, clinical); err != nil {
		return err
	}
	rt.Background(resumeStuck(rt.Log, sender, max(cfg.SendTimeout, 5*time.Second)))
	idem := &idempotency.Store{DB: rt.DB, Log: rt.Log}
	rt.Background(func(ctx context.Context) error { return idem.RunPruner(ctx, time.Hour) })
	ports.HTTP{Contacts: adapters.Contacts{DB: rt.DB}, Reminders: adapters.Reminders{DB: rt.DB}}.Routes(rt.Router)
	ports.ClinicalHTTP{UoW: clinicalStore, App: clinical, Read: adapters.ClinicalQueries{DB: rt.DB}, Idempotency: idem}.Routes(rt.Router)
	ports.CheckInLinks{Links: cfg.Links.Signer, Now: rt.Now, UoW: clinicalStore, App: clinical,
		Read: adapters.ClinicalQueries{DB: rt.DB}}.Routes(rt.Router)
	return nil
}
