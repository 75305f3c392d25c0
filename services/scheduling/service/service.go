// Package service describes scheduling: its configuration, migrations, the
// events it consumes and how it is wired on a platform runtime. The binary,
// `clinicops dev` and the tests all start it from Service.
package service

import (
	"context"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/messaging"
	"github.com/clinicops/clinicops/pkg/pgdb"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/scheduling/api"
	"github.com/clinicops/clinicops/services/scheduling/internal/adapters"
	"github.com/clinicops/clinicops/services/scheduling/internal/ports"
	"github.com/clinicops/clinicops/services/scheduling/migrations"
)

// Config is scheduling's own configuration; it has no settings yet.
type Config struct{}

// Service is scheduling, described once.
var Service = platform.Define(platform.Definition[Config]{
	Name:        "scheduling",
	DefaultAddr: ":8082",
	Migrations:  []pgdb.MigrationSource{migrations.Source},
	OpenAPI:     api.OpenAPI,
	Consumes: []string{
		messaging.SubjectOf(&intakev1.PatientRegistered{}),
		messaging.SubjectOf(&intakev1.PatientUpdated{}),
	},
	Config: func(func(string) string) (Config, error) { return Config{}, nil },
	Build: func(_ context.Context, rt *platform.Runtime, _ Config) error {
		if err := ports.Events(rt.Processor, adapters.TxRepositories); err != nil {
			return err
		}
		ports.HTTP{Patients: adapters.Patients{DB: rt.DB}}.Routes(rt.Router)
		return nil
	},
})
