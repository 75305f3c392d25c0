// Package client is followup's HTTP client generated from api/openapi.yaml
// by oapi-codegen (pinned in tools/oapi-codegen/go.mod). Followup's tests
// drive the service through it to prove that the document works for a
// generated client, not only for a validator.
//
// Regenerate after changing the document with `go generate ./api/client/`
// from services/followup.
package client

//go:generate env GOWORK=off go -C ../../../../tools/oapi-codegen tool oapi-codegen -config ../../services/followup/api/client/config.yaml ../../services/followup/api/openapi.yaml
