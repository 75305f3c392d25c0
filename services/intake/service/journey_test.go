package service_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
	"github.com/clinicops/clinicops/services/intake/service"
)

// startSeededIntake runs intake on its own database and JetStream with the
// demo programs (nk-autologous, nk-allogeneic, msc, hsct-autologous).
func startSeededIntake(t *testing.T) *testharness.Service {
	t.Helper()
	s := testharness.StartService(t, service.Service)
	require.NoError(t, service.Service.Seed(context.Background(), s.Runtime))
	return s
}

// cnResidentID is a valid 18-character PRC resident id for someone born on
// birthDate (YYYY-MM-DD), registered in Beijing Dongcheng (110101).
func cnResidentID(t testing.TB, birthDate string, seq int) string {
	t.Helper()
	first17 := fmt.Sprintf("110101%s%03d", strings.ReplaceAll(birthDate, "-", ""), seq)
	c, ok := patient.CNResidentCheckChar(first17)
	require.True(t, ok)
	return first17 + string(c)
}

// wrongCheckChar is id with its check character replaced by a wrong one.
func wrongCheckChar(id string) string {
	for _, c := range "0123456789X" {
		if byte(c) != id[17] {
			return id[:17] + string(c)
		}
	}
	panic("unreachable")
}

// dayFromToday is the UTC date days from today, YYYY-MM-DD.
func dayFromToday(days int) string {
	return time.Now().UTC().AddDate(0, 0, days).Format(time.DateOnly)
}

func newPatient(family, given, birthDate, phone string) map[string]any {
	return map[string]any{"family_name": family, "given_name": given, "birth_date": birthDate,
		"sex": "male", "phone": phone, "preferred_language": "zh-CN"}
}

func treatmentConsent(program string) map[string]any {
	return map[string]any{"kind": "treatment", "program": program, "form_version": "ICF-2026.1",
		"signed_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "signed_by": "patient",
		"protocol_id": "NK-AUTO-2026.1"}
}

func smsConsent() map[string]any {
	return map[string]any{"kind": "contact_sms", "form_version": "SMS-2026.1",
		"signed_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "signed_by": "patient"}
}

// nkScreening screens for nk-autologous with an allowed indication (RA);
// pregnant disqualifies.
func nkScreening(pregnant bool) map[string]any {
	return map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"},
		"answers": map[string]any{"active_infection": false, "pregnant": pregnant, "prior_severe_reaction": false, "adequate_veins": true}}
}

func nkCourse() map[string]any {
	return map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"},
		"preferred_start": dayFromToday(14), "notes": "上午优先"}
}

// created requires a 201 and returns the body.
func created(t testing.TB, r testharness.Response) map[string]any {
	t.Helper()
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	return r.JSON(t)
}

// items returns the "items" of a list answer.
func items(t testing.TB, r testharness.Response) []map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	raw, ok := r.JSON(t)["items"].([]any)
	require.True(t, ok, "items is an array: %s", r.Body)
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		out[i] = x.(map[string]any)
	}
	return out
}

// requireProblem requires a problem+json answer with status naming field
// ("" = any or none).
func requireProblem(t testing.TB, r testharness.Response, status int, field string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, string(r.Body))
	require.Equal(t, httpx.ContentTypeProblem, r.Header.Get("Content-Type"), string(r.Body))
	p := r.JSON(t)
	require.EqualValues(t, status, p["status"])
	if field != "" {
		require.Contains(t, problemFields(p), field, string(r.Body))
	}
	return p
}

func problemFields(p map[string]any) []string {
	var out []string
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		if m, ok := e.(map[string]any); ok {
			out = append(out, fmt.Sprint(m["field"]))
		}
	}
	return out
}

// missingCodes lists the codes of a course problem's "missing" member.
func missingCodes(t testing.TB, p map[string]any) []string {
	t.Helper()
	raw, ok := p["missing"].([]any)
	require.True(t, ok, "problem names what is missing: %v", p)
	out := make([]string, len(raw))
	for i, m := range raw {
		out[i] = m.(map[string]any)["code"].(string)
	}
	return out
}

// intakeStreamMsgs is the number of messages in the INTAKE stream now.
func intakeStreamMsgs(t testing.TB, s *testharness.Service) uint64 {
	t.Helper()
	ctx := context.Background()
	st, err := s.NATS.JS.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	return info.State.Msgs
}

// waitPublished waits until the outbox is empty and the INTAKE stream holds
// exactly want messages.
func waitPublished(t testing.TB, s *testharness.Service, want uint64) {
	t.Helper()
	var got uint64
	testharness.Eventually(t, 15*time.Second, func() bool {
		got = intakeStreamMsgs(t, s)
		return got >= want && s.Count(t, `SELECT count(*) FROM outbox`) == 0
	}, "want %d events published", want)
	require.Equal(t, want, intakeStreamMsgs(t, s), "exactly %d events", want)
}

func nameKey(family, given string) string {
	return strings.ToLower(strings.ReplaceAll(family+given, " ", ""))
}

func TestFrontDeskJourney(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	fd := httpx.RoleFrontDesk

	// Register 王小明 with his resident id card.
	birth := "1980-05-17"
	nid := cnResidentID(t, birth, 31)
	body := newPatient("王", "小明", birth, "+8613800138000")
	body["email"] = "xiaoming.wang@example.cn"
	body["national_id"] = map[string]any{"type": "cn_resident", "value": nid}
	body["address"] = map[string]any{"line1": "东城区东长安街1号", "city": "北京", "country": "cn"}
	body["emergency_contact"] = map[string]any{"name": "李娟", "relationship": "配偶", "phone": "+8613900139000"}
	reg := s.Do(t, fd, http.MethodPost, "/v1/patients", body)
	p := created(t, reg)
	id := p["id"].(string)
	require.Equal(t, `"1"`, reg.Header.Get("ETag"))
	require.Equal(t, "/v1/patients/"+id, reg.Header.Get("Location"))
	require.Equal(t, "王", p["family_name"])
	require.Equal(t, "小明", p["given_name"])
	require.Equal(t, birth, p["birth_date"])
	require.Equal(t, map[string]any{"type": "cn_resident", "value": nid}, p["national_id"])
	require.Equal(t, "CN", p["address"].(map[string]any)["country"], "country codes are normalised")
	require.EqualValues(t, 1, p["version"])

	// Get it back, with its version as ETag.
	got := s.Do(t, fd, http.MethodGet, "/v1/patients/"+id, nil, "X-Request-ID", "journey-get-1")
	require.Equal(t, http.StatusOK, got.Status, string(got.Body))
	require.Equal(t, `"1"`, got.Header.Get("ETag"))
	require.Equal(t, p, got.JSON(t))

	// Update: If-Match is required and must be current.
	patch := map[string]any{"phone": "+8613800138001", "email": nil}
	requireProblem(t, s.Do(t, fd, http.MethodPatch, "/v1/patients/"+id, patch), http.StatusPreconditionRequired, "")
	upd := s.Do(t, fd, http.MethodPatch, "/v1/patients/"+id, patch, "If-Match", got.Header.Get("ETag"))
	require.Equal(t, http.StatusOK, upd.Status, string(upd.Body))
	require.Equal(t, `"2"`, upd.Header.Get("ETag"))
	p = upd.JSON(t)
	require.EqualValues(t, 2, p["version"])
	require.Equal(t, "+8613800138001", p["phone"])
	require.NotContains(t, p, "email", "null clears an optional field")
	require.Equal(t, "小明", p["given_name"], "fields not named stay")
	require.Equal(t, map[string]any{"type": "cn_resident", "value": nid}, p["national_id"])
	stale := s.Do(t, fd, http.MethodPatch, "/v1/patients/"+id, map[string]any{"given_name": "晓明"}, "If-Match", `"1"`)
	requireProblem(t, stale, http.StatusPreconditionFailed, "")
	again := s.Do(t, fd, http.MethodGet, "/v1/patients/"+id, nil)
	require.Equal(t, `"2"`, again.Header.Get("ETag"))
	require.Equal(t, "小明", again.JSON(t)["given_name"], "a stale update changes nothing")

	// Four more 王 and two others.
	wangs := map[string]string{id: nameKey("王", "小明")}
	for i, given := range []string{"小红", "伟", "芳", "磊"} {
		q := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", newPatient("王", given, "1975-01-0"+fmt.Sprint(i+1), fmt.Sprintf("+861370000100%d", i))))
		wangs[q["id"].(string)] = nameKey("王", given)
	}
	created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", newPatient("李", "娜", "1982-03-04", "+8613700002000")))
	created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", newPatient("欧阳", "王", "1983-03-04", "+8613700002001")))
	want := make([]string, 0, len(wangs))
	for pid := range wangs {
		want = append(want, pid)
	}
	sort.Slice(want, func(i, j int) bool {
		a, b := want[i], want[j]
		if wangs[a] != wangs[b] {
			return wangs[a] < wangs[b]
		}
		return a < b
	})

	// Search by name prefix, two at a time: every 王 exactly once, in order.
	var seen []string
	var sizes []int
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 5, "pagination ends")
		path := "/v1/patients?limit=2&q=" + url.QueryEscape("王")
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := s.Do(t, fd, http.MethodGet, path, nil)
		its := items(t, r)
		sizes = append(sizes, len(its))
		for _, it := range its {
			require.Equal(t, "王", it["family_name"])
			seen = append(seen, it["id"].(string))
		}
		next := r.JSON(t)["next_cursor"]
		if next == nil {
			break
		}
		cursor = next.(string)
	}
	require.Equal(t, want, seen, "every patient exactly once, in (name, id) order")
	require.Equal(t, []int{2, 2, 1}, sizes)

	one := func(path string) {
		t.Helper()
		its := items(t, s.Do(t, fd, http.MethodGet, path, nil))
		require.Len(t, its, 1, path)
		require.Equal(t, id, its[0]["id"], path)
	}
	one("/v1/patients?q=" + url.QueryEscape("王小明"))
	one("/v1/patients?phone=" + url.QueryEscape("+8613800138001"))
	one("/v1/patients?national_id=" + nid)
	r := s.Do(t, fd, http.MethodGet, "/v1/patients?q="+url.QueryEscape("王小明")+"&limit=5", nil)
	require.Nil(t, r.JSON(t)["next_cursor"])
	require.Empty(t, items(t, s.Do(t, fd, http.MethodGet, "/v1/patients?phone="+url.QueryEscape("+8613800138000"), nil)),
		"the old phone no longer finds him")

	// Programs are the clinic's data.
	progs := items(t, s.Do(t, httpx.RoleNurse, http.MethodGet, "/v1/programs", nil))
	byCode := map[string]map[string]any{}
	for _, pr := range progs {
		byCode[pr["code"].(string)] = pr
	}
	require.Len(t, byCode, 4)
	for _, code := range []string{"nk-autologous", "nk-allogeneic", "msc", "hsct-autologous"} {
		require.Contains(t, byCode, code)
	}
	nk := byCode["nk-autologous"]
	require.Equal(t, "NK-AUTO-2026.1", nk["protocol_version"])
	scr := nk["screening"].(map[string]any)
	require.EqualValues(t, 18, scr["age_min"])
	require.EqualValues(t, 75, scr["age_max"])
	var qids []string
	for _, q := range scr["questions"].([]any) {
		qm := q.(map[string]any)
		require.Equal(t, "boolean", qm["type"])
		qids = append(qids, qm["id"].(string))
	}
	require.Equal(t, []string{"active_infection", "pregnant", "prior_severe_reaction", "adequate_veins"}, qids)

	base := "/v1/patients/" + id

	// A course before consent and screening: both are missing.
	pr := requireProblem(t, s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse()), http.StatusUnprocessableEntity, "")
	require.ElementsMatch(t, []string{"treatment_consent", "eligible_screening"}, missingCodes(t, pr))

	// Consents: treatment under the protocol, and SMS contact.
	tc := created(t, s.Do(t, fd, http.MethodPost, base+"/consents", treatmentConsent("nk-autologous")))
	require.Equal(t, "treatment", tc["kind"])
	require.Equal(t, "nk-autologous", tc["program"])
	require.Equal(t, "NK-AUTO-2026.1", tc["protocol_id"])
	require.Equal(t, "active", tc["status"])
	require.Equal(t, id, tc["patient_id"])
	sms := created(t, s.Do(t, fd, http.MethodPost, base+"/consents", smsConsent()))
	require.Equal(t, "contact_sms", sms["kind"])
	require.Equal(t, "active", sms["status"])

	// Now only the screening is missing.
	pr = requireProblem(t, s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse()), http.StatusUnprocessableEntity, "")
	require.Equal(t, []string{"eligible_screening"}, missingCodes(t, pr))

	// A screening that is not eligible: pregnant, and an indication the program does not treat.
	bad := nkScreening(true)
	bad["indication"] = map[string]any{"system": "ICD-10", "code": "C61"}
	ineligible := created(t, s.Do(t, httpx.RoleClinician, http.MethodPost, base+"/screenings", bad))
	require.Equal(t, false, ineligible["eligible"])
	require.Equal(t, "2026-01", ineligible["screening_version"])
	var codes []string
	for _, x := range ineligible["reasons"].([]any) {
		xm := x.(map[string]any)
		require.NotEmpty(t, xm["message"])
		codes = append(codes, xm["code"].(string))
	}
	require.Equal(t, []string{"indication_not_allowed", "disqualifying_answer"}, codes)
	pr = requireProblem(t, s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse()), http.StatusUnprocessableEntity, "")
	require.Equal(t, []string{"eligible_screening"}, missingCodes(t, pr), "an ineligible screening does not count")

	// An eligible one.
	eligible := created(t, s.Do(t, fd, http.MethodPost, base+"/screenings", nkScreening(false)))
	require.Equal(t, true, eligible["eligible"])
	require.Empty(t, eligible["reasons"])
	require.Equal(t, "nk-autologous", eligible["program"])
	require.NotEmpty(t, eligible["completed_at"])

	// The course can be requested.
	cr := s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse())
	course := created(t, cr)
	courseID := course["id"].(string)
	require.Equal(t, "requested", course["status"])
	require.Equal(t, "nk-autologous", course["program"])
	require.Equal(t, "NK-AUTO-2026.1", course["protocol_version"])
	require.Equal(t, dayFromToday(14), course["preferred_start"])

	// Withdrawing the treatment consent blocks new courses again.
	wd := s.Do(t, fd, http.MethodPost, base+"/consents/"+tc["id"].(string)+"/withdraw", map[string]any{"reason": "患者改变主意"})
	require.Equal(t, http.StatusOK, wd.Status, string(wd.Body))
	require.Equal(t, "withdrawn", wd.JSON(t)["status"])
	require.Equal(t, "患者改变主意", wd.JSON(t)["withdrawal_reason"])
	requireProblem(t, s.Do(t, fd, http.MethodPost, base+"/consents/"+tc["id"].(string)+"/withdraw",
		map[string]any{"reason": "again"}), http.StatusConflict, "")
	pr = requireProblem(t, s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse()), http.StatusUnprocessableEntity, "")
	require.Equal(t, []string{"treatment_consent"}, missingCodes(t, pr))

	// Cancel the course once; a second cancel conflicts.
	cc := s.Do(t, fd, http.MethodPost, "/v1/courses/"+courseID+"/cancel", map[string]any{"reason": "患者要求"})
	require.Equal(t, http.StatusOK, cc.Status, string(cc.Body))
	require.Equal(t, "cancelled", cc.JSON(t)["status"])
	requireProblem(t, s.Do(t, fd, http.MethodPost, "/v1/courses/"+courseID+"/cancel", map[string]any{"reason": "again"}), http.StatusConflict, "")

	// The lists.
	cons := items(t, s.Do(t, fd, http.MethodGet, base+"/consents", nil, "X-Request-ID", "journey-consents"))
	require.Len(t, cons, 2)
	status := map[string]string{}
	for _, c := range cons {
		status[c["kind"].(string)] = c["status"].(string)
	}
	require.Equal(t, map[string]string{"treatment": "withdrawn", "contact_sms": "active"}, status)
	scrs := items(t, s.Do(t, httpx.RoleClinician, http.MethodGet, base+"/screenings", nil, "X-Request-ID", "journey-screenings"))
	require.Len(t, scrs, 2)
	courses := items(t, s.Do(t, httpx.RoleBilling, http.MethodGet, base+"/courses", nil, "X-Request-ID", "journey-courses"))
	require.Len(t, courses, 1)
	require.Equal(t, courseID, courses[0]["id"])
	require.Equal(t, "cancelled", courses[0]["status"])
	require.Equal(t, http.StatusOK, s.Do(t, httpx.RoleBilling, http.MethodGet, base, nil, "X-Request-ID", "journey-billing-get").Status)

	// The audit log: who read this patient's record, and how.
	requireProblem(t, s.Do(t, fd, http.MethodGet, "/v1/audit?patient_id="+id, nil), http.StatusForbidden, "")
	audit := s.Do(t, httpx.RoleAdmin, http.MethodGet, "/v1/audit?patient_id="+id, nil)
	entries := items(t, audit)
	require.Nil(t, audit.JSON(t)["next_cursor"])
	type read struct{ role, action string }
	reads := map[read]int{}
	byRequest := map[string]read{}
	for _, e := range entries {
		require.Equal(t, id, e["patient_id"])
		require.NotEmpty(t, e["at"])
		require.NotEmpty(t, e["actor_token"], "which token read it")
		k := read{e["actor_role"].(string), e["action"].(string)}
		reads[k]++
		byRequest[e["request_id"].(string)] = k
	}
	require.Equal(t, read{"front_desk", "patient.read"}, byRequest["journey-get-1"])
	require.Equal(t, read{"front_desk", "consents.read"}, byRequest["journey-consents"])
	require.Equal(t, read{"clinician", "screenings.read"}, byRequest["journey-screenings"])
	require.Equal(t, read{"billing", "courses.read"}, byRequest["journey-courses"])
	require.Equal(t, read{"billing", "patient.read"}, byRequest["journey-billing-get"])
	require.Equal(t, 2, reads[read{"front_desk", "patient.read"}], "two GETs by the front desk")
	// Searches that found him: q=王 (one page), q=王小明 twice, phone, national id.
	require.Equal(t, 5, reads[read{"front_desk", "patient.search"}])
	for _, secret := range []string{"王", "小明", "+8613800138001", nid} {
		require.NotContains(t, string(audit.Body), secret, "the audit log holds ids only")
	}
	otherID := want[0]
	if otherID == id {
		otherID = want[1]
	}
	other := items(t, s.Do(t, httpx.RoleAdmin, http.MethodGet, "/v1/audit?patient_id="+otherID, nil))
	require.Len(t, other, 1, "the q=王 page that listed this patient")
	require.Equal(t, "patient.search", other[0]["action"])
}
