// Package service wires scheduling on a platform runtime. The binary,
// `clinicops dev` and the tests share it.
package service

import (
	"context"

	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/scheduling/internal/adapters"
	"github.com/clinicops/clinicops/services/scheduling/internal/ports"
	"github.com/clinicops/clinicops/services/scheduling/migrations"
)

// Name is the service name.
const Name = "scheduling"

// DefaultAddr is where scheduling listens by default.
const DefaultAddr = ":8082"

// New builds scheduling on a runtime; call Run on the result.
func New(ctx context.Context, opts platform.Options) (*platform.Runtime, error) {
	opts.Migrations = append(opts.Migrations, migrations.Source)
	rt, err := platform.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := ports.Events(rt.Processor, adapters.TxRepositories); err != nil {
		return nil, err
	}
	ports.HTTP{Patients: adapters.Patients{DB: rt.DB}}.Routes(rt.Router)
	return rt, nil
}
