package service_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// TestRoleMatrix calls every route as every role, without a token and with
// a token nobody issued. Allowed roles get the route's success status;
// others 403; no or an unknown token 401.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	fd := httpx.RoleFrontDesk

	pat := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", newPatient("张", "伟", "1970-08-08", "+8613511112222")))
	pid := pat["id"].(string)
	base := "/v1/patients/" + pid
	cons := created(t, s.Do(t, fd, http.MethodPost, base+"/consents", treatmentConsent("nk-autologous")))
	created(t, s.Do(t, fd, http.MethodPost, base+"/screenings", nkScreening(false)))
	crs := created(t, s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse()))

	currentETag := func() []string {
		r := s.Do(t, fd, http.MethodGet, base, nil)
		require.Equal(t, http.StatusOK, r.Status)
		return []string{"If-Match", r.Header.Get("ETag")}
	}
	none := func() []string { return nil }
	var (
		frontDesk   = []httpx.Role{fd}
		readPatient = []httpx.Role{fd, httpx.RoleClinician, httpx.RoleBilling}
		clinical    = []httpx.Role{fd, httpx.RoleClinician}
		everyone    = httpx.Roles()
		adminOnly   = []httpx.Role{httpx.RoleAdmin}
	)
	routes := []struct {
		method, path string
		body         any
		headers      func() []string
		ok           int
		allowed      []httpx.Role
	}{
		{http.MethodPost, "/v1/patients", newPatient("张", "丽", "1972-02-02", "+8613511113333"), none, http.StatusCreated, frontDesk},
		{http.MethodGet, "/v1/patients?q=" + url.QueryEscape("张"), nil, none, http.StatusOK, readPatient},
		{http.MethodGet, base, nil, none, http.StatusOK, readPatient},
		{http.MethodPatch, base, map[string]any{"email": "zhang.wei@example.cn"}, currentETag, http.StatusOK, frontDesk},
		{http.MethodPost, base + "/consents", smsConsent(), none, http.StatusCreated, frontDesk},
		{http.MethodGet, base + "/consents", nil, none, http.StatusOK, clinical},
		{http.MethodGet, "/v1/programs", nil, none, http.StatusOK, everyone},
		{http.MethodPost, base + "/screenings", nkScreening(false), none, http.StatusCreated, clinical},
		{http.MethodGet, base + "/screenings", nil, none, http.StatusOK, clinical},
		{http.MethodPost, base + "/courses", nkCourse(), none, http.StatusCreated, frontDesk},
		{http.MethodGet, base + "/courses", nil, none, http.StatusOK, readPatient},
		{http.MethodPost, "/v1/courses/" + crs["id"].(string) + "/cancel", map[string]any{"reason": "patient request"}, none, http.StatusOK, frontDesk},
		{http.MethodGet, "/v1/audit?patient_id=" + pid, nil, none, http.StatusOK, adminOnly},
		// Last: the course request above needs the consent.
		{http.MethodPost, base + "/consents/" + cons["id"].(string) + "/withdraw", map[string]any{"reason": "moved abroad"}, none, http.StatusOK, frontDesk},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			for _, role := range httpx.Roles() {
				r := s.Do(t, role, rt.method, rt.path, rt.body, rt.headers()...)
				if slices.Contains(rt.allowed, role) {
					require.Equal(t, rt.ok, r.Status, "%s may: %s", role, r.Body)
					continue
				}
				requireProblem(t, r, http.StatusForbidden, "")
			}
			r := s.Do(t, "", rt.method, rt.path, rt.body, rt.headers()...)
			requireProblem(t, r, http.StatusUnauthorized, "")
			require.Equal(t, "Bearer", r.Header.Get("WWW-Authenticate"))
			r = s.Do(t, "", rt.method, rt.path, rt.body, append(rt.headers(), "Authorization", "Bearer not-a-token-anyone-issued")...)
			requireProblem(t, r, http.StatusUnauthorized, "")
		})
	}

	// Refused writes stored nothing: only the front desk's (and the
	// clinician's screening) did.
	require.Equal(t, 2, s.Count(t, `SELECT count(*) FROM patients`))
	require.Equal(t, 2, s.Count(t, `SELECT count(*) FROM consents`))
	require.Equal(t, 3, s.Count(t, `SELECT count(*) FROM screenings`))
	require.Equal(t, 2, s.Count(t, `SELECT count(*) FROM courses`))
}

// TestBillingSeesNoClinicalDetail: what billing may read carries no
// screening answers and no consent details.
func TestBillingSeesNoClinicalDetail(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	fd := httpx.RoleFrontDesk
	pat := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", newPatient("赵", "敏", "1969-09-09", "+8613511114444")))
	base := "/v1/patients/" + pat["id"].(string)
	created(t, s.Do(t, fd, http.MethodPost, base+"/consents", treatmentConsent("nk-autologous")))
	created(t, s.Do(t, fd, http.MethodPost, base+"/screenings", nkScreening(false)))
	created(t, s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse()))

	for _, path := range []string{base, base + "/courses", "/v1/patients?q=" + url.QueryEscape("赵敏")} {
		r := s.Do(t, httpx.RoleBilling, http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		for _, detail := range []string{"answers", "adequate_veins", "pregnant", "protocol_id", "form_version", "ICF-2026.1"} {
			require.NotContains(t, string(r.Body), detail, path)
		}
	}
}
