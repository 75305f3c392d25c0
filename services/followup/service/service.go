// Package service describes followup: its configuration, migrations, the
// events it consumes and how it is wired on a platform runtime. The binary,
// `clinicops dev` and the tests all start it from Service.
package service

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/idempotency"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/followup/api"
	"github.com/clinicops/clinicops/services/followup/internal/adapters"
	"github.com/clinicops/clinicops/services/followup/internal/app"
	"github.com/clinicops/clinicops/services/followup/internal/ports"
	"github.com/clinicops/clinicops/services/followup/migrations"
)

// Config is followup's own configuration.
type Config struct {
	// CheckInDays are the days after an infusion its check-ins are due,
	// by program ("" for every other program): FOLLOWUP_CHECKIN_DAYS
	// (default 1,3,7,14,30) and FOLLOWUP_CHECKIN_DAYS_BY_PROGRAM
	// ("msc=1,7,30;nk-autologous=1,3,7,14,30"), since AppointmentCompleted
	// does not carry the protocol's days.
	CheckInDays map[string][]int
}

// Deps are what followup talks to outside itself.
type Deps struct {
	// Alert reaches the on-call clinician (escalations, serious adverse
	// events); nil logs the alert's kind and ids (LogAlert).
	Alert func(rt *platform.Runtime) app.Channel
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
			messaging.SubjectOf(&schedulingv1.AppointmentCompleted{}),
		},
		Config: LoadConfig,
		Build: func(ctx context.Context, rt *platform.Runtime, cfg Config) error {
			if err := ports.Events(rt.Processor, adapters.TxRepositories); err != nil {
				return err
			}
			ports.HTTP{Contacts: adapters.Contacts{DB: rt.DB}}.Routes(rt.Router)
			return buildClinical(ctx, rt, cfg, deps)
		},
	})
}

// buildClinical wires check-ins, escalations, adverse events and outcomes.
func buildClinical(ctx context.Context, rt *platform.Runtime, cfg Config, deps Deps) error {
	alert := app.Channel(LogAlert{Log: rt.Log})
	if deps.Alert != nil {
		alert = deps.Alert(rt)
	}
	clinical := &app.Clinical{Clock: rt.Clock, Location: rt.Location, CheckInDays: cfg.CheckInDays}
	store := &adapters.ClinicalStore{DB: rt.DB, Outbox: rt.Outbox, Now: rt.Now}
	workers := river.NewWorkers()
	adapters.AddClinicalWorkers(workers, store, clinical, alert)
	jobClient, err := rt.UseJobs(ctx, workers, nil)
	if err != nil {
		return err
	}
	store.Jobs = jobClient
	if err := ports.ClinicalEvents(rt.Processor, store.Tx, clinical); err != nil {
		return err
	}
	idem := &idempotency.Store{DB: rt.DB, Log: rt.Log}
	rt.Background(func(ctx context.Context) error { return idem.RunPruner(ctx, time.Hour) })
	ports.ClinicalHTTP{UoW: store, App: clinical, Read: adapters.ClinicalQueries{DB: rt.DB}, Idempotency: idem}.Routes(rt.Router)
	return nil
}
