// Package client is billing's HTTP client generated from api/openapi.yaml
// by oapi-codegen (pinned in tools/oapi-codegen/go.mod). Billing's tests
// drive the service through it to prove that the document works for a
// generated client, not only for a validator.
//
// Regenerate after changing the document with `go generate ./api/client/`
// from services/billing.
package client

//go:generate env GOWORK=off go -C ../../../../tools/oapi-codegen tool oapi-codegen -config ../../services/billing/api/client/config.yaml ../../services/billing/api/openapi.yaml
