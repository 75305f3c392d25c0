// Package api embeds intake's OpenAPI document, served at /openapi.yaml.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of intake's HTTP API.
//
//go:embed openapi.yaml
var OpenAPI []byte
