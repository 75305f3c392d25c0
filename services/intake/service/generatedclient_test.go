package service_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/oapi-codegen/nullable"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/intake/api"
	"github.com/clinicops/clinicops/services/intake/api/client"
	"github.com/clinicops/clinicops/services/intake/service"
)

// TestGeneratedClientDrivesIntake uses intake as a team with only the
// document would: through a Go client generated from api/openapi.yaml by
// oapi-codegen. It registers, reads, clears fields with null in a PATCH (the
// generated nullable.Nullable members), searches, and fetches the document
// itself, which must decode.
func TestGeneratedClientDrivesIntake(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	ctx := t.Context()
	as := func(role httpx.Role) client.RequestEditorFn {
		return func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+s.Tokens[role])
			return nil
		}
	}
	c, err := client.NewClientWithResponses("http://"+s.Runtime.Addr(), client.WithHTTPClient(s.HTTP),
		client.WithRequestEditorFn(as(httpx.RoleFrontDesk)))
	require.NoError(t, err)

	phone, email, zone := "+8613500000077", openapi_types.Email("mei@example.cn"), "Europe/Berlin"
	key := "generated-client-1"
	reg, err := c.RegisterPatientWithResponse(ctx, &client.RegisterPatientParams{IdempotencyKey: &key}, client.PatientCreate{
		FamilyName: "林", GivenName: "美", Sex: client.SexFemale, Phone: &phone, Email: &email, TimeZone: &zone,
		BirthDate: openapi_types.Date{Time: time.Date(1991, 4, 5, 0, 0, 0, 0, time.UTC)},
		Address:   &client.Address{Line1: "福田区深南大道 1 号", Country: "CN"},
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, reg.StatusCode(), string(reg.Body))
	p := reg.JSON201
	require.NotNil(t, p)
	require.Equal(t, "林", p.FamilyName)

	got, err := c.GetPatientWithResponse(ctx, p.Id, nil, as(httpx.RoleBilling))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
	require.Equal(t, `"1"`, got.Headers200.ETag)
	require.Equal(t, "mei@example.cn", string(*got.JSON200.Email))
	require.Equal(t, "Europe/Berlin", *got.JSON200.TimeZone)

	// null clears a field, an absent member leaves it, a value sets it.
	patch := client.PatientPatch{Email: nullable.NewNullNullable[string](), Address: nullable.NewNullNullable[client.Address](),
		TimeZone: nullable.NewNullNullable[string]()}
	lang := "en"
	patch.PreferredLanguage = &lang
	upd, err := c.UpdatePatientWithResponse(ctx, p.Id, &client.UpdatePatientParams{IfMatch: got.Headers200.ETag}, patch)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, upd.StatusCode(), string(upd.Body))
	require.Nil(t, upd.JSON200.Email, "null cleared the e-mail")
	require.Nil(t, upd.JSON200.Address, "null cleared the address")
	require.Nil(t, upd.JSON200.TimeZone, "null cleared the time zone: the clinic's")
	require.Equal(t, phone, *upd.JSON200.Phone, "an absent member stays")
	require.Equal(t, "en", upd.JSON200.PreferredLanguage)
	require.Equal(t, `"2"`, upd.Headers200.ETag)

	q := "林美"
	found, err := c.SearchPatientsWithResponse(ctx, &client.SearchPatientsParams{Q: &q})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, found.StatusCode(), string(found.Body))
	require.Len(t, found.JSON200.Items, 1)
	require.Equal(t, p.Id, found.JSON200.Items[0].Id)
	require.True(t, found.JSON200.NextCursor.IsNull(), "one page only: next_cursor is null")

	// A problem decodes too.
	bad, err := c.GetPatientWithResponse(ctx, openapi_types.UUID{}, nil, as(httpx.RoleNurse))
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, bad.StatusCode())
	require.NotNil(t, bad.ApplicationproblemJSON403)

	doc, err := c.GetOpenAPIWithResponse(ctx, nil)
	require.NoError(t, err, "the generated client decodes the document")
	require.Equal(t, http.StatusOK, doc.StatusCode())
	require.Equal(t, api.OpenAPI, doc.Body)
	require.NotNil(t, doc.YAML200)
	require.Equal(t, "3.1.0", (*doc.YAML200)["openapi"])
}
