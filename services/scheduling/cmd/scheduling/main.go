// Command scheduling runs the calendar of blood draws, cultures and
// infusions, configured by environment variables (SCHEDULING_DATABASE_URL,
// NATS_URL, SCHEDULING_HTTP_ADDR, CLINICOPS_AUTH_TOKENS, LOG_LEVEL).
package main

import (
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/scheduling/service"
)

func main() { platform.Main(service.Name, service.DefaultAddr, service.New) }
