// Command intake runs the front desk's API, configured by environment
// variables: INTAKE_DATABASE_URL, NATS_URL, INTAKE_HTTP_ADDR,
// CLINICOPS_AUTH_TOKENS, LOG_LEVEL, LOG_FORMAT; INTAKE_SEED_REFERENCE_DATA=true
// installs the demo programs where the clinic has none of that code; and the
// settings of service.Config (INTAKE_MAX_SCREENING_AGE_DAYS).
package main

import (
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/intake/service"
)

func main() { platform.Main(service.Service) }
