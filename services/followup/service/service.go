// Package service wires followup on a platform runtime. The binary,
// `clinicops dev` and the tests share it.
package service

import (
	"context"

	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/followup/internal/adapters"
	"github.com/clinicops/clinicops/services/followup/internal/ports"
	"github.com/clinicops/clinicops/services/followup/migrations"
)

// Name is the service name.
const Name = "followup"

// DefaultAddr is where followup listens by default.
const DefaultAddr = ":8084"

// New builds followup on a runtime; call Run on the result.
func New(ctx context.Context, opts platform.Options) (*platform.Runtime, error) {
	opts.Migrations = append(opts.Migrations, migrations.Source)
	rt, err := platform.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := ports.Events(rt.Processor, adapters.TxRepositories); err != nil {
		return nil, err
	}
	ports.HTTP{Contacts: adapters.Contacts{DB: rt.DB}}.Routes(rt.Router)
	return rt, nil
}
