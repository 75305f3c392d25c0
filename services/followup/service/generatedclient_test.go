package service_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/services/followup/api/client"
)

// TestGeneratedClientDrivesFollowUp uses follow-up as a nurse and a
// clinician with only the document would: through a Go client generated
// from api/openapi.yaml by oapi-codegen. An infusion's check-ins are
// listed, a grade 3 adverse event is recorded (and reported), one out of
// its scale is a 422 read through the client's problem type, and the lot's
// recipients are read.
func TestGeneratedClientDrivesFollowUp(t *testing.T) {
	t.Parallel()
	c := startFollowup(t, nil)
	patient, course := uuid.NewString(), uuid.NewString()
	c.infused(t, patient, course, "nk-autologous", din)
	c.s.WaitConsumed(t, "SCHEDULING", "followup_appointment_completed")

	api, err := client.NewClientWithResponses("http://"+c.s.Runtime.Addr(), client.WithHTTPClient(c.s.HTTP))
	require.NoError(t, err)
	as := func(role httpx.Role) client.RequestEditorFn {
		return func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+c.s.Tokens[role])
			return nil
		}
	}
	ctx := t.Context()
	pid := uuid.MustParse(patient)

	checkIns, err := api.ListCheckInsWithResponse(ctx, &client.ListCheckInsParams{PatientId: &pid}, as(httpx.RoleNurse))
	require.NoError(t, err)
	require.NotNil(t, checkIns.JSON200, string(checkIns.Body))
	require.Len(t, checkIns.JSON200.Items, 5)
	require.Equal(t, 1, checkIns.JSON200.Items[0].Day)

	key, product := uuid.NewString(), din
	ae := client.AdverseEventCreate{PatientId: patient, CourseId: course, Term: "Cytokine release syndrome", Scale: "ASTCT",
		Grade: 3, OnsetAt: c.clock.Now(), Serious: true, ProductId: &product}
	got, err := api.RecordAdverseEventWithResponse(ctx, &client.RecordAdverseEventParams{IdempotencyKey: &key}, ae, as(httpx.RoleClinician))
	require.NoError(t, err)
	require.NotNil(t, got.JSON201, string(got.Body))
	require.True(t, got.JSON201.Reported)
	require.Equal(t, 3, got.JSON201.Grade)

	ae.Grade = 9
	bad, err := api.RecordAdverseEventWithResponse(ctx, nil, ae, as(httpx.RoleClinician))
	require.NoError(t, err)
	require.NotNil(t, bad.ApplicationproblemJSON422, string(bad.Body))
	require.EqualValues(t, 422, bad.ApplicationproblemJSON422.Status)
	require.NotNil(t, bad.ApplicationproblemJSON422.Errors)
	require.Equal(t, "grade", (*bad.ApplicationproblemJSON422.Errors)[0].Field)

	recipients, err := api.ListRecipientsWithResponse(ctx, din, nil, as(httpx.RoleClinician))
	require.NoError(t, err)
	require.NotNil(t, recipients.JSON200, string(recipients.Body))
	require.Len(t, recipients.JSON200.Items, 1)
}
