// Command followup runs reminders, post-infusion check-ins and adverse-event
// escalation, configured by environment variables (FOLLOWUP_DATABASE_URL,
// NATS_URL, FOLLOWUP_HTTP_ADDR, CLINICOPS_AUTH_TOKENS, LOG_LEVEL).
package main

import (
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/followup/service"
)

func main() { platform.Main(service.Name, service.DefaultAddr, service.New) }
