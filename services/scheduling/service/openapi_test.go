package service_test

// The OpenAPI document (api/openapi.yaml, served at GET /openapi.yaml) and
// the handlers must agree. testharness.CheckOpenAPI drives scheduling through
// real HTTP and checks every request and answer against the document, the
// routes the Router registers against the documented ones, and x-roles
// against the answers (see its doc comment). This file is scheduling's
// journey through it: every operation and every documented status.

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/scheduling/api"
	"github.com/clinicops/clinicops/services/scheduling/service"
)

func TestOpenAPIDocumentAgreesWithTheHandlers(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	id := uuid.NewString()
	s.Publish(t, "intake", id, registered(id, 1, "伟"))
	s.WaitConsumed(t, "INTAKE", "scheduling_patient_registered")

	testharness.CheckOpenAPI(t, s, api.OpenAPI, func(c *testharness.OpenAPIContract) {
		get := http.MethodGet
		path := "/v1/patients/" + id
		got := c.Do(t, testharness.Call{Role: httpx.RoleNurse, Method: get, Path: path, Status: 200}).JSON(t)
		require.Equal(t, id, got["patient_id"])
		require.Equal(t, "伟", got["given_name"])
		require.Equal(t, "1969-12-31", got["birth_date"])
		require.EqualValues(t, 1, got["version"])
		c.Do(t, testharness.Call{Role: httpx.RoleFrontDesk, Method: get, Path: "/v1/patients/not-a-uuid", Request: testharness.RequestInvalid, Status: 400})
		c.Do(t, testharness.Call{Role: httpx.RoleClinician, Method: get, Path: "/v1/patients/" + uuid.NewString(), Status: 404})
		c.Do(t, testharness.Call{Role: httpx.RoleBilling, Method: get, Path: path, Status: 403})
		c.Do(t, testharness.Call{Method: get, Path: path, Request: testharness.RequestInvalid, Status: 401})
		c.Do(t, testharness.Call{Auth: "Bearer cop_not-a-token", Method: get, Path: path, Status: 401})
	})
}
