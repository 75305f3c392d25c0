// Command followup runs clinicops followup, configured by environment variables:
// FOLLOWUP_DATABASE_URL, NATS_URL, FOLLOWUP_HTTP_ADDR, CLINICOPS_AUTH_TOKENS,
// LOG_LEVEL, LOG_FORMAT, and the settings of its service.Config.
package main

import (
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/followup/service"
)

func main() { platform.Main(service.Service) }
