// Package service describes scheduling: its configuration, migrations, the
// events it consumes, its reference data and how it is wired on a platform
// runtime. The binary, `clinicops dev` and the tests all start it from
// Service.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/riverqueue/river"

	billingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/billing/v1"
	followupv1 "github.com/clinicops/clinicops/pkg/events/clinicops/followup/v1"
	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/jobs"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/scheduling/api"
	"github.com/clinicops/clinicops/services/scheduling/internal/adapters"
	"github.com/clinicops/clinicops/services/scheduling/internal/app"
	"github.com/clinicops/clinicops/services/scheduling/internal/ports"
	"github.com/clinicops/clinicops/services/scheduling/migrations"
)

// Defaults of the configuration.
const (
	DefaultHorizon  = 8 * 7 * 24 * time.Hour
	DefaultGrace    = 30 * time.Minute
	DefaultFacility = "G1234"
)

// Config is scheduling's own configuration.
type Config struct {
	// Horizon: a course whose first chain cannot start within it is
	// unplanned (SCHEDULING_HORIZON, a Go duration, default 8 weeks).
	Horizon time.Duration
	// Grace: an appointment not checked in this long after its start is
	// marked missed (SCHEDULING_MISSED_GRACE, default 30m).
	Grace time.Duration
	// Facility is the clinic's ISBT 128 facility identification number,
	// a letter and four digits assigned by ICCBBA, the start of every DIN
	// it prints (SCHEDULING_FACILITY, default G1234).
	Facility string
}

// LogValue lists the settings at start (none is secret).
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.Duration("horizon", c.Horizon), slog.Duration("missed_grace", c.Grace),
		slog.String("facility", c.Facility))
}

var facilityPattern = regexp.MustCompile(`^[A-Z][0-9]{4}$`)

// LoadConfig reads scheduling's settings through getenv.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{Horizon: DefaultHorizon, Grace: DefaultGrace, Facility: DefaultFacility}
	duration := func(name string, into *time.Duration, lo, hi time.Duration) error {
		v := getenv(name)
		if v == "" {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("%s %q: want a duration from %s to %s", name, v, lo, hi)
		}
		*into = d
		return nil
	}
	if err := duration("SCHEDULING_HORIZON", &c.Horizon, 24*time.Hour, 366*24*time.Hour); err != nil {
		return c, err
	}
	if err := duration("SCHEDULING_MISSED_GRACE", &c.Grace, time.Minute, 24*time.Hour); err != nil {
		return c, err
	}
	if v := getenv("SCHEDULING_FACILITY"); v != "" {
		if !facilityPattern.MatchString(v) {
			return c, fmt.Errorf("SCHEDULING_FACILITY %q: want a letter and four digits", v)
		}
		c.Facility = v
	}
	return c, nil
}

// Service is scheduling, described once.
var Service = platform.Define(platform.Definition[Config]{
	Name:        "scheduling",
	DefaultAddr: ":8082",
	Migrations:  []pgdb.MigrationSource{migrations.Source},
	OpenAPI:     api.OpenAPI,
	Consumes: []string{
		messaging.SubjectOf(&intakev1.PatientRegistered{}),
		messaging.SubjectOf(&intakev1.PatientUpdated{}),
		messaging.SubjectOf(&intakev1.CourseRequested{}),
		messaging.SubjectOf(&intakev1.CourseCancellationRequested{}),
		messaging.SubjectOf(&intakev1.ConsentWithdrawn{}),
		messaging.SubjectOf(&billingv1.DepositPaid{}),
		messaging.SubjectOf(&followupv1.AdverseEventReported{}),
	},
	Config: LoadConfig,
	Build:  build,
	Seed: func(ctx context.Context, rt *platform.Runtime) error {
		return adapters.Seed(ctx, rt.DB, rt.Now())
	},
})

func build(ctx context.Context, rt *platform.Runtime, cfg Config) error {
	sched := &app.Scheduling{Clock: rt.Clock, Config: app.Config{Horizon: cfg.Horizon, Grace: cfg.Grace,
		Facility: cfg.Facility, Location: rt.Location}}
	store := &adapters.Store{DB: rt.DB, Outbox: rt.Outbox, Config: sched.Config}
	workers := river.NewWorkers()
	river.AddWorker(workers, &adapters.MissedCheckWorker{Store: store, App: sched})
	jobClient, err := rt.UseJobs(ctx, workers, jobs.Config{})
	if err != nil {
		return err
	}
	store.Jobs = jobClient
	if err := ports.Events(rt.Processor, store.Tx, sched); err != nil {
		return err
	}
	idem := &idempotency.Store{DB: rt.DB, Log: rt.Log}
	rt.Background(func(ctx context.Context) error { return idem.RunPruner(ctx, time.Hour) })
	ports.HTTP{UoW: store, App: sched, Read: adapters.Queries{DB: rt.DB, Location: rt.Location},
		Admin: adapters.ReferenceAdmin{DB: rt.DB}, Patients: adapters.Patients{DB: rt.DB}, Idempotency: idem,
		Location: rt.Location}.Routes(rt.Router)
	return nil
}
