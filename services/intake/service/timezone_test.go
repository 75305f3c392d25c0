package service_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
)

// TestPatientTimeZone follows a patient's time zone end to end: registered,
// read back, changed and cleared through PATCH, and published on
// PatientRegistered and PatientUpdated. An invalid zone is a 422 naming
// time_zone that stores and publishes nothing.
func TestPatientTimeZone(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	fd := httpx.RoleFrontDesk

	// Registered with a zone, it reads back and is published.
	body := newPatient("施", "密特", "1975-03-09", "+8613100000001")
	body["time_zone"] = "Europe/Berlin"
	reg := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", body, traced("register")...))
	pid := reg["id"].(string)
	base := "/v1/patients/" + pid
	require.Equal(t, "Europe/Berlin", reg["time_zone"])
	got := s.Do(t, httpx.RoleBilling, http.MethodGet, base, nil)
	require.Equal(t, http.StatusOK, got.Status, string(got.Body))
	require.Equal(t, "Europe/Berlin", got.JSON(t)["time_zone"])
	var regEv intakev1.PatientRegistered
	readEvent(t, s, 1, &regEv, pid, "register")
	require.Equal(t, "Europe/Berlin", regEv.GetTimeZone())

	// Changed: read back and published with the rest of the contact record.
	upd := s.Do(t, fd, http.MethodPatch, base, map[string]any{"time_zone": "Asia/Shanghai"},
		append(traced("update"), "If-Match", `"1"`)...)
	require.Equal(t, http.StatusOK, upd.Status, string(upd.Body))
	require.Equal(t, `"2"`, upd.Header.Get("ETag"))
	require.Equal(t, "Asia/Shanghai", upd.JSON(t)["time_zone"])
	got = s.Do(t, fd, http.MethodGet, base, nil)
	require.Equal(t, "Asia/Shanghai", got.JSON(t)["time_zone"])
	var updEv intakev1.PatientUpdated
	readEvent(t, s, 2, &updEv, pid, "update")
	require.EqualValues(t, 2, updEv.GetVersion())
	require.Equal(t, "Asia/Shanghai", updEv.GetTimeZone())
	require.Equal(t, "+8613100000001", updEv.GetPhone())

	// An update of something else keeps the zone.
	upd = s.Do(t, fd, http.MethodPatch, base, map[string]any{"email": "schmidt@example.de"},
		append(traced("email"), "If-Match", `"2"`)...)
	require.Equal(t, http.StatusOK, upd.Status, string(upd.Body))
	readEvent(t, s, 3, &updEv, pid, "email")
	require.Equal(t, "Asia/Shanghai", updEv.GetTimeZone())

	// null clears it: the clinic's zone again, absent from the view and
	// empty on the event.
	upd = s.Do(t, fd, http.MethodPatch, base, map[string]any{"time_zone": nil},
		append(traced("clear"), "If-Match", `"3"`)...)
	require.Equal(t, http.StatusOK, upd.Status, string(upd.Body))
	require.NotContains(t, upd.JSON(t), "time_zone")
	readEvent(t, s, 4, &updEv, pid, "clear")
	require.EqualValues(t, 4, updEv.GetVersion())
	require.Empty(t, updEv.GetTimeZone())

	// "" is no zone, as absent is.
	body = newPatient("李", "娜", "1982-02-26", "+8613100000002")
	body["time_zone"] = ""
	other := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", body, traced("no-zone")...))
	require.NotContains(t, other, "time_zone")
	readEvent(t, s, 5, &regEv, other["id"].(string), "no-zone")
	require.Empty(t, regEv.GetTimeZone())

	// Invalid zones, on registration and on update.
	upd = s.Do(t, fd, http.MethodPatch, base, map[string]any{"time_zone": "Europe/Berlin"}, "If-Match", `"4"`)
	require.Equal(t, http.StatusOK, upd.Status, string(upd.Body))
	waitPublished(t, s, 6)
	before := snapshot(t, s)
	for _, zone := range []string{"Local", "Europe/Atlantis", "europe/berlin", "CEST", "+08:00", "/etc/localtime",
		"../zoneinfo/Europe/Berlin", "./Europe/Berlin", "Europe//Berlin", "Europe"} {
		t.Run(zone, func(t *testing.T) {
			bad := newPatient("王", "五", "1990-01-01", "+8613100000003")
			bad["time_zone"] = zone
			requireProblem(t, s.Do(t, fd, http.MethodPost, "/v1/patients", bad), http.StatusUnprocessableEntity, "time_zone")
			r := s.Do(t, fd, http.MethodPatch, base, map[string]any{"time_zone": zone}, "If-Match", `"5"`)
			requireProblem(t, r, http.StatusUnprocessableEntity, "time_zone")
			require.Equal(t, before, snapshot(t, s), "an invalid zone changed what intake stores or publishes")
		})
	}
	got = s.Do(t, fd, http.MethodGet, base, nil)
	require.Equal(t, `"5"`, got.Header.Get("ETag"))
	require.Equal(t, "Europe/Berlin", got.JSON(t)["time_zone"])
	require.Equal(t, uint64(6), intakeStreamMsgs(t, s), "no event for an invalid zone")
}
