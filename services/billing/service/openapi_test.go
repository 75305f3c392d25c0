package service_test

// The OpenAPI document (api/openapi.yaml, served at GET /openapi.yaml) and
// the handlers must agree. testharness.CheckOpenAPI drives billing through
// real HTTP and checks every request and answer against the document, the
// routes the Router registers against the documented ones, and x-roles
// against the answers (see its doc comment). This file is billing's journey
// through it: every operation and every documented status.

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/api"
	"github.com/clinicops/clinicops/services/billing/service"
)

func TestOpenAPIDocumentAgreesWithTheHandlers(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	id := uuid.NewString()
	s.Publish(t, "intake", id, &intakev1.PatientRegistered{PatientId: id, Version: 1, OccurredAt: timestamppb.Now()})
	s.WaitConsumed(t, "INTAKE", "billing_patient_registered")

	testharness.CheckOpenAPI(t, s, api.OpenAPI, func(c *testharness.OpenAPIContract) {
		get := http.MethodGet
		path := "/v1/accounts/" + id
		got := c.Do(t, testharness.Call{Role: httpx.RoleBilling, Method: get, Path: path, Status: 200}).JSON(t)
		require.Equal(t, id, got["patient_id"])
		require.Equal(t, "CNY", got["currency"], "the default currency")
		c.Do(t, testharness.Call{Role: httpx.RoleFrontDesk, Method: get, Path: "/v1/accounts/42", Request: testharness.RequestInvalid, Status: 400})
		c.Do(t, testharness.Call{Role: httpx.RoleAdmin, Method: get, Path: "/v1/accounts/" + uuid.NewString(), Status: 404})
		c.Do(t, testharness.Call{Role: httpx.RoleNurse, Method: get, Path: path, Status: 403})
		c.Do(t, testharness.Call{Method: get, Path: path, Request: testharness.RequestInvalid, Status: 401})
		c.Do(t, testharness.Call{Auth: "Bearer cop_not-a-token", Method: get, Path: path, Status: 401})
	})
}
