// Command billing runs clinicops billing, configured by environment variables:
// BILLING_DATABASE_URL, NATS_URL, BILLING_HTTP_ADDR, CLINICOPS_AUTH_TOKENS,
// LOG_LEVEL, LOG_FORMAT, and the settings of its service.Config.
package main

import (
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/services/billing/service"
)

func main() { platform.Main(service.Service) }
