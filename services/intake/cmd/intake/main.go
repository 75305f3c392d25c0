// Command intake runs the front desk's API, configured by environment
// variables (INTAKE_DATABASE_URL, NATS_URL, INTAKE_HTTP_ADDR,
// CLINICOPS_AUTH_TOKENS, LOG_LEVEL, LOG_FORMAT).
package main

import (
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/intake/service"
)

func main() { platform.Main(service.Name, service.DefaultAddr, service.New) }
