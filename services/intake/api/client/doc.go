// Package client is intake's HTTP client generated from api/openapi.yaml by
// oapi-codegen (pinned in tools/oapi-codegen/go.mod). Intake's tests drive the
// service through it to prove that the document works for a generated
// client, not only for a validator: PATCH members that may be cleared come
// out as nullable.Nullable[T], and GET /openapi.yaml decodes.
//
// Regenerate after changing the document with `go generate ./api/client/`
// from services/intake.
package client

//go:generate env GOWORK=off go -C ../../../../tools/oapi-codegen tool oapi-codegen -config ../../services/intake/api/client/config.yaml ../../services/intake/api/openapi.yaml
