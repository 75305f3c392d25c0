// Package api embeds scheduling's OpenAPI document, served at /openapi.yaml.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of scheduling's HTTP API, checked
// against the handlers by the service's contract test.
//
//go:embed openapi.yaml
var OpenAPI []byte
