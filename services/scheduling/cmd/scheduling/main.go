// Command scheduling runs clinicops scheduling, configured by environment variables:
// SCHEDULING_DATABASE_URL, NATS_URL, SCHEDULING_HTTP_ADDR, CLINICOPS_AUTH_TOKENS,
// LOG_LEVEL, LOG_FORMAT, and the settings of its service.Config.
package main

import (
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/scheduling/service"
)

func main() { platform.Main(service.Service) }
