// Package service describes intake: its configuration, migrations,
// reference data and how its use cases, repositories and HTTP routes are
// wired on a platform runtime. The binary, `clinicops dev` and the tests all
// start it from Service.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/intake/api"
	"github.com/clinicops/clinicops/services/intake/internal/adapters"
	"github.com/clinicops/clinicops/services/intake/internal/app"
	"github.com/clinicops/clinicops/services/intake/internal/ports"
	"github.com/clinicops/clinicops/services/intake/migrations"
	"github.com/clinicops/clinicops/services/intake/seed"
)

// DefaultMaxScreeningAgeDays is how old, in days, an eligible screening may
// be for a course request; INTAKE_MAX_SCREENING_AGE_DAYS overrides it.
const DefaultMaxScreeningAgeDays = 90

// Config is intake's own configuration.
type Config struct {
	// MaxScreeningAge is how old an eligible screening may be for a course
	// request (INTAKE_MAX_SCREENING_AGE_DAYS, whole days from 1 to 3650,
	// default 90).
	MaxScreeningAge time.Duration
}

// LoadConfig reads intake's settings through getenv.
func LoadConfig(getenv func(string) string) (Config, error) {
	d, err := maxScreeningAge(getenv)
	return Config{MaxScreeningAge: d}, err
}

// LogValue lists the settings at start (none is secret).
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.Duration("max_screening_age", c.MaxScreeningAge))
}

// maxScreeningAge reads INTAKE_MAX_SCREENING_AGE_DAYS (1 to 3650).
func maxScreeningAge(getenv func(string) string) (time.Duration, error) {
	days := DefaultMaxScreeningAgeDays
	if v := getenv("INTAKE_MAX_SCREENING_AGE_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return 0, fmt.Errorf("INTAKE_MAX_SCREENING_AGE_DAYS %q: want whole days from 1 to 3650", v)
		}
		days = n
	}
	return time.Duration(days) * 24 * time.Hour, nil
}

// Service is intake, described once.
var Service = platform.Define(platform.Definition[Config]{
	Name:        "intake",
	DefaultAddr: ":8081",
	Migrations:  []pgdb.MigrationSource{migrations.Source},
	OpenAPI:     api.OpenAPI,
	Config:      LoadConfig,
	Build:       build,
	Seed:        seedReferenceData,
})

// build wires intake's use cases, repositories and routes on rt.
func build(_ context.Context, rt *platform.Runtime, cfg Config) error {
	screeningAge := cfg.MaxScreeningAge
	patients := adapters.NewPatientRepository(rt.DB, rt.Outbox)
	clinical := adapters.NewClinical(rt.DB, rt.Outbox)
	programs := adapters.Programs{DB: rt.DB}
	clock := rt.Calendar()
	idem := &idempotency.Store{DB: rt.DB, Log: rt.Log}
	rt.Background(func(ctx context.Context) error { return idem.RunPruner(ctx, time.Hour) })
	ports.HTTP{
		Register:    app.RegisterPatient{Repo: patients, Now: rt.Now},
		Get:         app.GetPatient{Repo: patients},
		Update:      app.UpdatePatient{Repo: patients, Now: rt.Now},
		Search:      app.SearchPatients{Repo: patients},
		Programs:    programs,
		Audit:       adapters.Audit{DB: rt.DB},
		Idempotency: idem,
		Clinical: ports.Clinical{
			RecordConsent:   app.RecordConsent{Repo: clinical, Programs: programs, Clock: clock},
			WithdrawConsent: app.WithdrawConsent{Repo: clinical, Clock: clock},
			RecordScreening: app.RecordScreening{Repo: clinical, Patients: patients, Programs: programs, Clock: clock},
			RequestCourse:   app.RequestCourse{Repo: clinical, Patients: patients, Programs: programs, Clock: clock, MaxScreeningAge: screeningAge},
			CancelCourse:    app.CancelCourse{Repo: clinical, Clock: clock},
			Repo:            clinical,
		},
	}.Routes(rt.Router)
	return nil
}

// seedReferenceData installs the demo programs where the clinic has none of
// that code; it never overwrites the clinic's own edits.
func seedReferenceData(ctx context.Context, rt *platform.Runtime) error {
	progs, err := seed.Programs()
	if err != nil {
		return err
	}
	return adapters.Programs{DB: rt.DB}.Seed(ctx, progs)
}
