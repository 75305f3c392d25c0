// Package service wires intake: its use cases, repositories and HTTP routes
// on a platform runtime. The binary, `clinicops dev` and the tests share it.
package service

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/intake/api"
	"github.com/clinicops/clinicops/services/intake/internal/adapters"
	"github.com/clinicops/clinicops/services/intake/internal/app"
	"github.com/clinicops/clinicops/services/intake/internal/ports"
	"github.com/clinicops/clinicops/services/intake/migrations"
	"github.com/clinicops/clinicops/services/intake/seed"
)

// Name is the service name.
const Name = "intake"

// DefaultAddr is where intake listens by default.
const DefaultAddr = ":8081"

// DefaultMaxScreeningAgeDays is how old, in days, an eligible screening may
// be for a course request; INTAKE_MAX_SCREENING_AGE_DAYS overrides it.
const DefaultMaxScreeningAgeDays = 90

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

// New builds intake on a runtime; call Run on the result.
func New(ctx context.Context, opts platform.Options) (*platform.Runtime, error) {
	screeningAge, err := maxScreeningAge(os.Getenv)
	if err != nil {
		return nil, err
	}
	opts.Migrations = append(opts.Migrations, migrations.Source)
	rt, err := platform.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	patients := adapters.NewPatientRepository(rt.DB, rt.Outbox)
	clinical := adapters.NewClinical(rt.DB, rt.Outbox)
	programs := adapters.Programs{DB: rt.DB}
	clock := app.Clock{Now: rt.Now, Location: rt.Location}
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
		OpenAPI:     api.OpenAPI,
		Clinical: ports.Clinical{
			RecordConsent:   app.RecordConsent{Repo: clinical, Programs: programs, Clock: clock},
			WithdrawConsent: app.WithdrawConsent{Repo: clinical, Clock: clock},
			RecordScreening: app.RecordScreening{Repo: clinical, Patients: patients, Programs: programs, Clock: clock},
			RequestCourse:   app.RequestCourse{Repo: clinical, Patients: patients, Programs: programs, Clock: clock, MaxScreeningAge: screeningAge},
			CancelCourse:    app.CancelCourse{Repo: clinical, Clock: clock},
			Repo:            clinical,
		},
	}.Routes(rt.Router)
	return rt, nil
}

// SeedReferenceData installs the demo programs where the clinic has none of
// that code; it never overwrites the clinic's own edits.
func SeedReferenceData(ctx context.Context, rt *platform.Runtime) error {
	progs, err := seed.Programs()
	if err != nil {
		return err
	}
	return adapters.Programs{DB: rt.DB}.Seed(ctx, progs)
}
