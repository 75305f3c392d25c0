package service_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/clinicops/clinicops/pkg/clock"
	schedulingv1 "github.com/clinicops/clinicops/pkg/events/clinicops/scheduling/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/scheduling/service"
)

// lastEvent reads the newest event of ev's type from scheduling's stream.
func lastEvent(t *testing.T, s *testharness.Service, ev proto.Message) {
	t.Helper()
	testharness.Eventually(t, 10*time.Second, func() bool { return s.Count(t, `SELECT count(*) FROM outbox`) == 0 }, "outbox drained")
	stream, err := s.NATS.JS.Stream(t.Context(), "SCHEDULING")
	require.NoError(t, err)
	m, err := stream.GetLastMsgForSubject(t.Context(), string(ev.ProtoReflect().Descriptor().FullName()))
	require.NoError(t, err)
	require.NoError(t, proto.Unmarshal(m.Data, ev))
}

// TestEventsNameTheProductAsTheAPIDoes: the product events and the
// appointment events carry the product's DIN with its check character
// (as the proto says, and as the API and the bedside scanner give it), so
// a consumer can match an event to what the lab and the nurse see.
func TestEventsNameTheProductAsTheAPIDoes(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC))
	s := testharness.StartService(t, service.Service, withClock(fake))
	require.NoError(t, service.Service.Seed(t.Context(), s.Runtime))
	courseID, patientID := requestCourse(t, s, "nk-autologous", "NK-AUTO-2026.1")
	s.WaitConsumed(t, "INTAKE", "scheduling_course_requested")
	depositPaid(t, s, courseID, patientID)

	r := s.Do(t, httpx.RoleNurse, http.MethodGet, "/v1/courses/"+courseID, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	draw := appointmentsOf(t, r.JSON(t))["draw"]
	fake.Set(at(t, draw["start"].(string)))
	drawID := draw["id"].(string)
	require.Equal(t, http.StatusOK, s.Do(t, httpx.RoleNurse, http.MethodPost, "/v1/appointments/"+drawID+"/check-in", nil).Status)
	r = s.Do(t, httpx.RoleNurse, http.MethodPost, "/v1/appointments/"+drawID+"/complete", map[string]any{})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	din := r.JSON(t)["product_id"].(string)
	require.Len(t, din, 14, "the API gives the DIN with its check character")

	completed := &schedulingv1.AppointmentCompleted{}
	lastEvent(t, s, completed)
	require.Equal(t, din, completed.GetAppointment().GetProductId())

	r = s.Do(t, httpx.RoleLab, http.MethodPost, "/v1/products/"+din+"/culture", nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	started := &schedulingv1.CultureStarted{}
	lastEvent(t, s, started)
	require.Equal(t, din, started.GetProductId())
	require.Equal(t, din, started.GetProduct().GetProductId())

	r = s.Do(t, httpx.RoleLab, http.MethodPost, "/v1/products/"+din+"/fail", map[string]any{"reason": "no_growth"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	failed := &schedulingv1.ProductFailed{}
	lastEvent(t, s, failed)
	require.Equal(t, din, failed.GetProductId())
	require.Equal(t, din, failed.GetProduct().GetProductId())
}
