package service_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/platform"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/scheduling/service"
)

// TestBerlinClinicAcrossDaylightSaving runs scheduling for a clinic in
// Europe/Berlin (Asia/Shanghai stays the default elsewhere). A course
// planned on 2027-03-23 has its 14-day culture cross the spring change of
// 2027-03-28: the infusion still lies inside 08:00-18:00 local, answers
// carry the offset of their own date (+01:00 before, +02:00 after), and a
// day's list is the local day, 23 hours long on the day of the change.
func TestBerlinClinicAcrossDaylightSaving(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	fake := clock.NewFake(time.Date(2027, 3, 23, 9, 0, 0, 0, berlin)) // a Tuesday
	s := testharness.StartService(t, service.Service, withClock(fake),
		func(o *platform.Options) { o.Config.TimeZone = "Europe/Berlin" })
	require.NoError(t, service.Service.Seed(t.Context(), s.Runtime))
	courseID, _ := requestCourse(t, s, "nk-autologous", "NK-AUTO-2026.1")
	s.WaitConsumed(t, "INTAKE", "scheduling_course_requested")

	plan := s.Do(t, httpx.RoleNurse, http.MethodGet, "/v1/courses/"+courseID, nil).JSON(t)
	require.Equal(t, "planned", plan["status"])
	appts := appointmentsOf(t, plan)
	draw, infusion := appts["draw"], appts["infusion"]
	require.Equal(t, "2027-03-23T09:00:00+01:00", draw["start"], "09:00 local, winter offset")
	start := at(t, infusion["start"].(string))
	_, offset := start.Zone()
	require.Equal(t, 2*3600, offset, "after the change the answer carries summer time")
	local := start.In(berlin)
	require.GreaterOrEqual(t, local.Hour(), 8)
	end := at(t, infusion["end"].(string)).In(berlin)
	require.True(t, end.Hour() < 18 || (end.Hour() == 18 && end.Minute() == 0), "the observation ends by 18:00 local: %s", end)

	// The local day of the change lists the culture that runs through it;
	// the day before lists nothing of the infusion.
	day := s.Do(t, httpx.RoleNurse, http.MethodGet, "/v1/appointments?date=2027-03-28&course_id="+courseID, nil).JSON(t)
	kinds := map[string]bool{}
	for _, a := range day["items"].([]any) {
		kinds[a.(map[string]any)["kind"].(string)] = true
	}
	require.Equal(t, map[string]bool{"culture": true}, kinds)
	infusionDay := local.Format(time.DateOnly)
	list := s.Do(t, httpx.RoleNurse, http.MethodGet, "/v1/appointments?date="+infusionDay+"&course_id="+courseID, nil).JSON(t)
	found := false
	for _, a := range list["items"].([]any) {
		found = found || a.(map[string]any)["kind"] == "infusion"
	}
	require.True(t, found, "the infusion is listed on its local day")
}
