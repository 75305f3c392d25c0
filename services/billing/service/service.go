// Package service wires billing on a platform runtime. The binary,
// `clinicops dev` and the tests share it.
package service

import (
	"context"

	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/billing/internal/adapters"
	"github.com/clinicops/clinicops/services/billing/internal/app"
	"github.com/clinicops/clinicops/services/billing/internal/ports"
	"github.com/clinicops/clinicops/services/billing/migrations"
)

// Name is the service name.
const Name = "billing"

// DefaultAddr is where billing listens by default.
const DefaultAddr = ":8083"

// New builds billing on a runtime; call Run on the result.
func New(ctx context.Context, opts platform.Options) (*platform.Runtime, error) {
	opts.Migrations = append(opts.Migrations, migrations.Source)
	rt, err := platform.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := ports.Events(rt.Processor, adapters.TxRepositories, app.OpenAccount{Currency: rt.Config.Currency}); err != nil {
		return nil, err
	}
	ports.HTTP{Accounts: adapters.Accounts{DB: rt.DB}}.Routes(rt.Router)
	return rt, nil
}
