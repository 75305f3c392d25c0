// Package service wires intake: its use cases, repositories and HTTP routes
// on a platform runtime. The binary, `clinicops dev` and the tests share it.
package service

import (
	"context"

	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/intake/internal/adapters"
	"github.com/clinicops/clinicops/services/intake/internal/app"
	"github.com/clinicops/clinicops/services/intake/internal/ports"
	"github.com/clinicops/clinicops/services/intake/migrations"
)

// Name is the service name.
const Name = "intake"

// DefaultAddr is where intake listens by default.
const DefaultAddr = ":8081"

// New builds intake on a runtime; call Run on the result.
func New(ctx context.Context, opts platform.Options) (*platform.Runtime, error) {
	opts.Migrations = append(opts.Migrations, migrations.Source)
	rt, err := platform.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	patients := adapters.NewPatientRepository(rt.DB, rt.Outbox)
	ports.HTTP{
		Register: app.RegisterPatient{Repo: patients, Now: rt.Now},
		Get:      app.GetPatient{Repo: patients},
	}.Routes(rt.Router)
	return rt, nil
}
