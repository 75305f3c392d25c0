package service_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/scheduling/api/client"
	"github.com/clinicops/clinicops/services/scheduling/service"
)

// TestGeneratedClientDrivesScheduling uses scheduling as a team with only
// the document would: through a Go client generated from api/openapi.yaml
// by oapi-codegen. It reads a planned course, lists the day, walks the
// draw and the product to a released product, and completes the infusion
// (refused for another birth date, then given), all through typed calls.
func TestGeneratedClientDrivesScheduling(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC))
	s := testharness.StartService(t, service.Service, withClock(fake))
	require.NoError(t, service.Service.Seed(t.Context(), s.Runtime))
	courseID, patientID := requestCourse(t, s, "nk-autologous", "NK-AUTO-2026.1")
	s.WaitConsumed(t, "INTAKE", "scheduling_course_requested")

	ctx := t.Context()
	as := func(role httpx.Role) client.RequestEditorFn {
		return func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+s.Tokens[role])
			return nil
		}
	}
	c, err := client.NewClientWithResponses("http://"+s.Runtime.Addr(), client.WithHTTPClient(s.HTTP))
	require.NoError(t, err)

	course, err := c.GetCourseWithResponse(ctx, openapi_types.UUID(mustUUID(t, courseID)), nil, as(httpx.RoleFrontDesk))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, course.StatusCode(), string(course.Body))
	plan := course.JSON200
	require.Equal(t, "planned", string(plan.Status))
	require.Len(t, plan.Cycles, 6)
	kinds := map[string]client.Appointment{}
	for _, a := range plan.Cycles[0].Appointments {
		kinds[a.Kind] = a
	}
	draw, culture, infusion := kinds["draw"], kinds["culture"], kinds["infusion"]
	_, offset := draw.Start.Zone()
	require.Equal(t, 8*3600, offset, "times come in the clinic's zone")

	day := openapi_types.Date{Time: draw.Start}
	list, err := c.ListAppointmentsWithResponse(ctx, &client.ListAppointmentsParams{Date: &day}, as(httpx.RoleNurse))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, list.StatusCode(), string(list.Body))
	require.NotEmpty(t, list.JSON200.Items)

	nurse := as(httpx.RoleNurse)
	fake.Set(draw.Start)
	in, err := c.CheckInWithResponse(ctx, draw.Id, nil, nurse)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, in.StatusCode(), string(in.Body))
	done, err := c.CompleteAppointmentWithResponse(ctx, draw.Id, nil, client.CompletionRequest{}, nurse)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, done.StatusCode(), string(done.Body))
	din, err := done.JSON200.ProductId.Get()
	require.NoError(t, err)

	lab := as(httpx.RoleLab)
	refused, err := c.StartCultureWithResponse(ctx, din, nil, lab)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, refused.StatusCode(), "not funded yet: %s", refused.Body)
	depositPaid(t, s, courseID, patientID)
	started, err := c.StartCultureWithResponse(ctx, din, nil, lab)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, started.StatusCode(), string(started.Body))
	fake.Set(culture.End)
	rel, err := c.ReleaseProductWithResponse(ctx, din, nil, client.ReleaseProductJSONRequestBody{ViabilityPct: 95, PurityPct: 92,
		EndotoxinEuPerMl: 0.5, Sterility: "negative", Mycoplasma: "negative"}, lab)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, rel.StatusCode(), string(rel.Body))

	fake.Set(infusion.Start)
	in, err = c.CheckInWithResponse(ctx, infusion.Id, nil, nurse)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, in.StatusCode(), string(in.Body))
	patient := openapi_types.UUID(mustUUID(t, patientID))
	dose := int64(110_000_000)
	wrongBirth := openapi_types.Date{Time: time.Date(1969, 12, 30, 0, 0, 0, 0, time.UTC)}
	blocked, err := c.CompleteAppointmentWithResponse(ctx, infusion.Id, nil, client.CompletionRequest{ProductId: &din,
		PatientId: &patient, BirthDate: &wrongBirth, DoseCells: &dose}, nurse)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, blocked.StatusCode(), string(blocked.Body))
	birth := openapi_types.Date{Time: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)}
	given, err := c.CompleteAppointmentWithResponse(ctx, infusion.Id, nil, client.CompletionRequest{ProductId: &din,
		PatientId: &patient, BirthDate: &birth, DoseCells: &dose}, nurse)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, given.StatusCode(), string(given.Body))
	require.Equal(t, "completed", string(given.JSON200.Appointment.Status))
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	require.NoError(t, err)
	return id
}
