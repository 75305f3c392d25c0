// Command intake runs the front desk's API, configured by environment
// variables (INTAKE_DATABASE_URL, NATS_URL, INTAKE_HTTP_ADDR,
// CLINICOPS_AUTH_TOKENS, LOG_LEVEL, LOG_FORMAT; INTAKE_SEED_REFERENCE_DATA=true
// installs the demo programs where the clinic has none of that code;
// INTAKE_MAX_SCREENING_AGE_DAYS, default 90, is how old an eligible screening
// may be for a course request).
package main

import (
	"context"
	"os"

	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/intake/service"
)

func main() {
	platform.Main(service.Name, service.DefaultAddr, func(ctx context.Context, o platform.Options) (*platform.Runtime, error) {
		rt, err := service.New(ctx, o)
		if err == nil && os.Getenv("INTAKE_SEED_REFERENCE_DATA") == "true" {
			err = service.SeedReferenceData(ctx, rt)
		}
		return rt, err
	})
}
