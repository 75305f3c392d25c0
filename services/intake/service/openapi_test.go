package service_test

// The OpenAPI document (api/openapi.yaml, served at GET /openapi.yaml) and
// the handlers must agree. testharness.CheckOpenAPI drives intake through
// real HTTP and checks every request and every answer against the document
// (libopenapi-validator, OpenAPI 3.1, JSON Schema 2020-12), the routes the
// Router registers against the documented ones, and x-roles against the
// answers; see its doc comment. This file is intake's journey through it:
//
//   - a request the test means to be valid must be valid by the document,
//     and one it means to be bad must be rejected by it too;
//   - each status the journey expects is checked here.

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/intake/api"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
	"github.com/clinicops/clinicops/services/intake/service"
)

// sampleID is a PRC resident id with a valid check digit for birth date bd
// (YYYYMMDD).
func sampleID(t *testing.T, region, bd, seq string) string {
	t.Helper()
	first := region + bd + seq
	c, ok := patient.CNResidentCheckChar(first)
	require.True(t, ok)
	return first + string(c)
}

func TestOpenAPIDocumentAgreesWithTheHandlers(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	require.NoError(t, service.Service.Seed(t.Context(), s.Runtime))
	testharness.CheckOpenAPI(t, s, api.OpenAPI, func(c *testharness.OpenAPIContract) { intakeJourney(t, c) },
		// Screening answers are a map keyed by question id.
		testharness.OpenAPIStrictIgnore("$.body.answers.*", "$.body.items[*].answers.*"))
}

// intakeJourney exercises every operation and every documented status.
func intakeJourney(t *testing.T, c *testharness.OpenAPIContract) {
	const (
		fd    = httpx.RoleFrontDesk
		clin  = httpx.RoleClinician
		bill  = httpx.RoleBilling
		nurse = httpx.RoleNurse
		admin = httpx.RoleAdmin
	)
	post, get, patch := http.MethodPost, http.MethodGet, http.MethodPatch

	// ---- the document itself and the probes ----

	// ---- programs ----
	progs := c.Do(t, testharness.Call{Role: nurse, Method: get, Path: "/v1/programs", Request: testharness.RequestValid, Status: 200}).JSON(t)
	var nk map[string]any
	var codes []string
	for _, p := range progs["items"].([]any) {
		p := p.(map[string]any)
		codes = append(codes, p["code"].(string))
		if p["code"] == "nk-autologous" {
			nk = p
		}
	}
	require.Subset(t, codes, []string{"nk-autologous", "nk-allogeneic", "msc", "hsct-autologous"})
	require.NotNil(t, nk)
	eligible, disqualified := map[string]bool{}, map[string]bool{}
	for _, q := range nk["screening"].(map[string]any)["questions"].([]any) {
		q := q.(map[string]any)
		id, dq := q["id"].(string), q["disqualifying_answer"].(bool)
		eligible[id], disqualified[id] = !dq, dq
	}
	c.Do(t, testharness.Call{Method: get, Path: "/v1/programs", Request: testharness.RequestInvalid, Status: 401})
	c.Do(t, testharness.Call{Auth: "Bearer cop_not-a-token", Method: get, Path: "/v1/programs", Request: testharness.RequestValid, Status: 401})

	// ---- register ----
	nid := sampleID(t, "110101", "19900228", "123")
	nana := map[string]any{
		"family_name": "欧阳", "given_name": "娜娜", "birth_date": "1990-02-28", "sex": "female",
		"phone": "+8613700000001", "email": "nana@example.cn", "preferred_language": "zh-CN", "time_zone": "Asia/Shanghai",
		"national_id":       map[string]any{"type": "cn_resident", "value": nid},
		"address":           map[string]any{"line1": "朝阳区建国路 88 号", "city": "北京", "postal_code": "100022", "country": "CN"},
		"emergency_contact": map[string]any{"name": "欧阳明", "relationship": "父亲", "phone": "+8613700000009"},
	}
	created := c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Body: nana,
		Header: []string{"Idempotency-Key", "register-nana"}, Request: testharness.RequestValid, Status: 201})
	a := created.JSON(t)
	aID := a["id"].(string)
	require.Equal(t, `"1"`, created.Header.Get("ETag"))
	require.Equal(t, "/v1/patients/"+aID, created.Header.Get("Location"))

	replay := c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Body: nana,
		Header: []string{"Idempotency-Key", "register-nana"}, Request: testharness.RequestValid, Status: 201})
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(created.Body), string(replay.Body))
	other := map[string]any{"family_name": "欧阳", "given_name": "静", "birth_date": "1992-05-01", "sex": "female"}
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Body: other,
		Header: []string{"Idempotency-Key", "register-nana"}, Request: testharness.RequestValid, Status: 422})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Body: other,
		Header: []string{"Idempotency-Key", strings.Repeat("k", 256)}, Request: testharness.RequestInvalid, Status: 400})

	dup := map[string]any{"family_name": "欧阳", "given_name": "娜", "birth_date": "1990-02-28", "sex": "female",
		"national_id": map[string]any{"type": "cn_resident", "value": nid}}
	conflict := c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Body: dup, Request: testharness.RequestValid, Status: 409}).JSON(t)
	require.Equal(t, aID, conflict["existing_patient_id"])
	require.Equal(t, "national_id", conflict["duplicate_rule"])

	var bID string
	for i, given := range []string{"静", "晓明"} {
		p := map[string]any{"family_name": "欧阳", "given_name": given, "birth_date": "1985-07-1" + strconv.Itoa(i),
			"sex": "male", "phone": "+861370000002" + strconv.Itoa(i)}
		r := c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Body: p, Request: testharness.RequestValid, Status: 201}).JSON(t)
		bID = r["id"].(string)
	}
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Request: testharness.RequestValid, Status: 201,
		Body: map[string]any{"family_name": "王", "given_name": "小明", "birth_date": "2001-01-01", "sex": "unknown",
			"national_id": map[string]any{"type": "hk_id", "value": "a123456(7)"}}})

	// ---- bad registrations ----
	with := func(key string, v any) map[string]any {
		p := map[string]any{"family_name": "李", "given_name": "雷", "birth_date": "1970-01-01", "sex": "male"}
		if v == nil {
			delete(p, key)
		} else {
			p[key] = v
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		role   httpx.Role
		body   any
		header []string
		status int
	}{
		{"bad JSON", fd, "{nope", nil, 400},
		{"empty body", fd, "", nil, 400},
		{"bare null", fd, "null", nil, 400},
		{"unknown field", fd, with("blood_type", "A"), nil, 400},
		{"wrong type", fd, with("family_name", 7), nil, 400},
		{"missing family name", fd, with("family_name", nil), nil, 422},
		{"bad sex", fd, with("sex", "f"), nil, 422},
		{"bad date", fd, with("birth_date", "1970-02-30"), nil, 422},
		{"bad phone", fd, with("phone", "0137"), nil, 422},
		{"bad email", fd, with("email", "lei@"), nil, 422},
		{"bad language", fd, with("preferred_language", "zh_CN"), nil, 422},
		{"time zone not a zone name", fd, with("time_zone", "+08:00"), nil, 422},
		{"time zone path", fd, with("time_zone", "../zoneinfo/UTC"), nil, 422},
		{"bad national id type", fd, with("national_id", map[string]any{"type": "ssn", "value": "1"}), nil, 422},
		{"address without country", fd, with("address", map[string]any{"line1": "x"}), nil, 422},
		{"emergency contact without phone", fd, with("emergency_contact", map[string]any{"name": "x"}), nil, 422},
		{"text/plain", fd, with("x", nil), []string{"Content-Type", "text/plain"}, 415},
		{"oversized", fd, with("given_name", strings.Repeat("长", 40000)), nil, 413},
	} {
		t.Run("register/"+tc.name, func(t *testing.T) {
			c.Do(t, testharness.Call{Role: tc.role, Method: post, Path: "/v1/patients", Body: tc.body, Header: tc.header, Request: testharness.RequestInvalid, Status: tc.status})
		})
	}
	// Rules the document cannot state: it accepts these and the handler refuses them.
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Body: with("birth_date", "2999-01-01"), Request: testharness.RequestValid, Status: 422})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Body: with("time_zone", "Asia/Atlantis"), Request: testharness.RequestValid, Status: 422})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Body: with("time_zone", "Local"), Request: testharness.RequestValid, Status: 422})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Body: with("national_id",
		map[string]any{"type": "cn_resident", "value": "110101197001011230"}), Request: testharness.RequestValid, Status: 422}) // check digit
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients", Body: with("national_id",
		map[string]any{"type": "cn_resident", "value": sampleID(t, "110101", "19800101", "001")}), Request: testharness.RequestValid, Status: 422})
	c.Do(t, testharness.Call{Role: nurse, Method: post, Path: "/v1/patients", Body: with("x", nil), Request: testharness.RequestValid, Status: 403})
	c.Do(t, testharness.Call{Role: bill, Method: post, Path: "/v1/patients", Body: with("x", nil), Request: testharness.RequestValid, Status: 403})
	c.Do(t, testharness.Call{Method: post, Path: "/v1/patients", Body: with("x", nil), Request: testharness.RequestInvalid, Status: 401})

	// ---- get and patch ----
	got := c.Do(t, testharness.Call{Role: bill, Method: get, Path: "/v1/patients/" + aID, Request: testharness.RequestValid, Status: 200})
	require.Equal(t, `"1"`, got.Header.Get("ETag"))
	require.JSONEq(t, string(created.Body), string(got.Body))
	c.Do(t, testharness.Call{Role: clin, Method: get, Path: "/v1/patients/" + aID, Request: testharness.RequestValid, Status: 200})
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients/not-a-uuid", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients/" + uuid.NewString(), Request: testharness.RequestValid, Status: 404})
	c.Do(t, testharness.Call{Role: nurse, Method: get, Path: "/v1/patients/" + aID, Request: testharness.RequestValid, Status: 403})

	aPath := "/v1/patients/" + aID
	patched := c.Do(t, testharness.Call{Role: fd, Method: patch, Path: aPath, Header: []string{"If-Match", `"1"`},
		Body: map[string]any{"email": nil, "preferred_language": "en", "time_zone": "Asia/Hong_Kong",
			"address": map[string]any{"line1": "1 Queen's Road", "country": "hk"}},
		Request: testharness.RequestValid, Status: 200})
	require.Equal(t, `"2"`, patched.Header.Get("ETag"))
	pj := patched.JSON(t)
	require.NotContains(t, pj, "email")
	require.Equal(t, "Asia/Hong_Kong", pj["time_zone"])
	require.Equal(t, "HK", pj["address"].(map[string]any)["country"])
	c.Do(t, testharness.Call{Role: fd, Method: patch, Path: aPath, Header: []string{"If-Match", `W/"2"`},
		Body: map[string]any{"phone": "", "emergency_contact": nil, "time_zone": nil}, Request: testharness.RequestValid, Status: 200})
	c.Do(t, testharness.Call{Role: fd, Method: patch, Path: aPath, Header: []string{"If-Match", `"1"`},
		Body: map[string]any{"given_name": "娜"}, Request: testharness.RequestValid, Status: 412})
	c.Do(t, testharness.Call{Role: fd, Method: patch, Path: aPath, Header: []string{"If-Match", "yesterday"},
		Body: map[string]any{"given_name": "娜"}, Request: testharness.RequestInvalid, Status: 412})
	c.Do(t, testharness.Call{Role: fd, Method: patch, Path: aPath, Body: map[string]any{"given_name": "娜"}, Request: testharness.RequestInvalid, Status: 428})
	c.Do(t, testharness.Call{Role: fd, Method: patch, Path: aPath, Header: []string{"If-Match", `"3"`},
		Body: map[string]any{"sex": "f"}, Request: testharness.RequestInvalid, Status: 422})
	c.Do(t, testharness.Call{Role: fd, Method: patch, Path: aPath, Header: []string{"If-Match", `"3"`},
		Body: map[string]any{"time_zone": "/etc/localtime"}, Request: testharness.RequestInvalid, Status: 422})
	c.Do(t, testharness.Call{Role: fd, Method: patch, Path: aPath, Header: []string{"If-Match", `"3"`},
		Body: map[string]any{"time_zone": "Europe/Atlantis"}, Request: testharness.RequestValid, Status: 422})
	c.Do(t, testharness.Call{Role: fd, Method: patch, Path: aPath, Header: []string{"If-Match", `"3"`},
		Body: map[string]any{"nickname": "娜娜"}, Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: fd, Method: patch, Path: aPath, Header: []string{"If-Match", `"3"`, "Content-Type", "text/plain"},
		Body: map[string]any{"given_name": "娜"}, Request: testharness.RequestInvalid, Status: 415})
	c.Do(t, testharness.Call{Role: fd, Method: patch, Path: "/v1/patients/" + uuid.NewString(), Header: []string{"If-Match", `"1"`},
		Body: map[string]any{"given_name": "娜"}, Request: testharness.RequestValid, Status: 404})
	c.Do(t, testharness.Call{Role: clin, Method: patch, Path: aPath, Header: []string{"If-Match", `"3"`},
		Body: map[string]any{"given_name": "娜"}, Request: testharness.RequestValid, Status: 403})

	// ---- search with a cursor ----
	q := "/v1/patients?q=" + url.QueryEscape("欧阳") + "&limit=2"
	page1 := c.Do(t, testharness.Call{Role: fd, Method: get, Path: q, Request: testharness.RequestValid, Status: 200}).JSON(t)
	require.Len(t, page1["items"], 2)
	cursor, ok := page1["next_cursor"].(string)
	require.True(t, ok, "a full page has a next_cursor: %v", page1)
	page2 := c.Do(t, testharness.Call{Role: bill, Method: get, Path: q + "&cursor=" + url.QueryEscape(cursor), Request: testharness.RequestValid, Status: 200}).JSON(t)
	require.Len(t, page2["items"], 1)
	require.Nil(t, page2["next_cursor"])
	byPhone := c.Do(t, testharness.Call{Role: clin, Method: get, Path: "/v1/patients?phone=" + url.QueryEscape("+8613700000020"), Request: testharness.RequestValid, Status: 200}).JSON(t)
	require.Len(t, byPhone["items"], 1)
	byID := c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients?national_id=" + nid, Request: testharness.RequestValid, Status: 200}).JSON(t)
	require.Len(t, byID["items"], 1)
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients?q=" + url.QueryEscape("欧阳") + "&limit=100", Request: testharness.RequestValid, Status: 200})
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients?q=" + url.QueryEscape("欧阳") + "&limit=0", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients?q=" + url.QueryEscape("欧阳") + "&limit=101", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients?q=" + url.QueryEscape("欧阳") + "&limit=ten", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients?phone=0137", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients?name=x", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients", Request: testharness.RequestValid, Status: 400}) // needs q, phone or national_id
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients?q=x&cursor=forged", Request: testharness.RequestValid, Status: 400})
	c.Do(t, testharness.Call{Role: nurse, Method: get, Path: "/v1/patients?q=x", Request: testharness.RequestValid, Status: 403})

	// ---- consents ----
	signedAt := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	treatment := map[string]any{"kind": "treatment", "program": "nk-autologous", "form_version": "NK-2026.1",
		"signed_at": signedAt, "signed_by": "patient", "protocol_id": "NK-AUTO-2026.1"}
	cons := c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/consents", Body: treatment,
		Header: []string{"Idempotency-Key", "consent-1"}, Request: testharness.RequestValid, Status: 201})
	require.Equal(t, "active", cons.JSON(t)["status"])
	sms := c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/consents", Request: testharness.RequestValid, Status: 201,
		Body: map[string]any{"kind": "contact_sms", "form_version": "SMS-1", "signed_at": signedAt, "signed_by": "guardian"}}).JSON(t)
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/consents", Request: testharness.RequestValid, Status: 201,
		Body: map[string]any{"kind": "research", "form_version": "R-1", "signed_at": signedAt, "signed_by": "patient", "trial_id": "NCT01234567"}})
	smsID := sms["id"].(string)
	withdrawn := c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/consents/" + smsID + "/withdraw",
		Body: map[string]any{"reason": "asked to stop SMS"}, Request: testharness.RequestValid, Status: 200}).JSON(t)
	require.Equal(t, "withdrawn", withdrawn["status"])
	require.Equal(t, "asked to stop SMS", withdrawn["withdrawal_reason"])
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/consents/" + smsID + "/withdraw",
		Body: map[string]any{"reason": "again"}, Request: testharness.RequestValid, Status: 409})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/consents/" + uuid.NewString() + "/withdraw",
		Body: map[string]any{"reason": "x"}, Request: testharness.RequestValid, Status: 404})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/consents/" + smsID + "/withdraw",
		Body: map[string]any{}, Request: testharness.RequestInvalid, Status: 409})
	c.Do(t, testharness.Call{Role: clin, Method: post, Path: aPath + "/consents/" + smsID + "/withdraw",
		Body: map[string]any{"reason": "x"}, Request: testharness.RequestValid, Status: 403})
	list := c.Do(t, testharness.Call{Role: clin, Method: get, Path: aPath + "/consents", Request: testharness.RequestValid, Status: 200}).JSON(t)
	require.Len(t, list["items"], 3)
	c.Do(t, testharness.Call{Role: bill, Method: get, Path: aPath + "/consents", Request: testharness.RequestValid, Status: 403})
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/patients/" + uuid.NewString() + "/consents", Request: testharness.RequestValid, Status: 404})
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"treatment without program", map[string]any{"kind": "treatment", "form_version": "1", "signed_at": signedAt, "signed_by": "patient", "protocol_id": "P"}},
		{"treatment without protocol or trial", map[string]any{"kind": "treatment", "program": "msc", "form_version": "1", "signed_at": signedAt, "signed_by": "patient"}},
		{"research without trial", map[string]any{"kind": "research", "form_version": "1", "signed_at": signedAt, "signed_by": "patient"}},
		{"sms with a program", map[string]any{"kind": "contact_sms", "program": "msc", "form_version": "1", "signed_at": signedAt, "signed_by": "patient"}},
		{"bad kind", map[string]any{"kind": "marketing", "form_version": "1", "signed_at": signedAt, "signed_by": "patient"}},
		{"bad signer", map[string]any{"kind": "contact_email", "form_version": "1", "signed_at": signedAt, "signed_by": "doctor"}},
		{"bad signed_at", map[string]any{"kind": "contact_email", "form_version": "1", "signed_at": "yesterday", "signed_by": "patient"}},
		{"missing form version", map[string]any{"kind": "contact_email", "signed_at": signedAt, "signed_by": "patient"}},
	} {
		t.Run("consent/"+tc.name, func(t *testing.T) {
			c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/consents", Body: tc.body, Request: testharness.RequestInvalid, Status: 422})
		})
	}
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/consents", Request: testharness.RequestValid, Status: 422,
		Body: map[string]any{"kind": "contact_email", "form_version": "1", "signed_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "signed_by": "patient"}})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients/" + uuid.NewString() + "/consents", Body: treatment, Request: testharness.RequestValid, Status: 404})
	c.Do(t, testharness.Call{Role: clin, Method: post, Path: aPath + "/consents", Body: treatment, Request: testharness.RequestValid, Status: 403})

	// ---- screenings ----
	screen := map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "answers": eligible}
	scr := c.Do(t, testharness.Call{Role: clin, Method: post, Path: aPath + "/screenings", Body: screen,
		Header: []string{"Idempotency-Key", "screen-1"}, Request: testharness.RequestValid, Status: 201})
	require.Equal(t, true, scr.JSON(t)["eligible"])
	inel := c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/screenings", Request: testharness.RequestValid, Status: 201,
		Body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "Z999"}, "answers": disqualified}}).JSON(t)
	require.Equal(t, false, inel["eligible"])
	require.Equal(t, "Z99.9", inel["indication"].(map[string]any)["code"])
	unknownQ := map[string]bool{"smoker": true}
	for id, v := range eligible {
		unknownQ[id] = v
	}
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/screenings", Request: testharness.RequestValid, Status: 422,
		Body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "answers": unknownQ}})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/screenings", Request: testharness.RequestValid, Status: 422,
		Body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "answers": map[string]bool{}}})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/screenings", Request: testharness.RequestValid, Status: 422,
		Body: map[string]any{"program": "no-such-program", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "answers": eligible}})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/screenings", Request: testharness.RequestInvalid, Status: 422,
		Body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-9", "code": "714.0"}, "answers": eligible}})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/screenings", Request: testharness.RequestInvalid, Status: 422,
		Body: map[string]any{"program": "nk-autologous", "answers": eligible}})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/screenings", Request: testharness.RequestInvalid, Status: 400,
		Body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "answers": map[string]any{"pregnant": "no"}}})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients/" + uuid.NewString() + "/screenings", Body: screen, Request: testharness.RequestValid, Status: 404})
	c.Do(t, testharness.Call{Role: bill, Method: post, Path: aPath + "/screenings", Body: screen, Request: testharness.RequestValid, Status: 403})
	scrs := c.Do(t, testharness.Call{Role: clin, Method: get, Path: aPath + "/screenings", Request: testharness.RequestValid, Status: 200}).JSON(t)
	require.Len(t, scrs["items"], 2)
	c.Do(t, testharness.Call{Role: bill, Method: get, Path: aPath + "/screenings", Request: testharness.RequestValid, Status: 403})

	// ---- courses ----
	start := time.Now().AddDate(0, 0, 14).Format(time.DateOnly)
	course := map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"},
		"preferred_start": start, "notes": "prefers mornings"}
	notReady := c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients/" + bID + "/courses", Body: course, Request: testharness.RequestValid, Status: 422}).JSON(t)
	var missing []string
	for _, m := range notReady["missing"].([]any) {
		missing = append(missing, m.(map[string]any)["code"].(string))
	}
	require.ElementsMatch(t, []string{"treatment_consent", "eligible_screening"}, missing)
	crs := c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/courses", Body: course,
		Header: []string{"Idempotency-Key", "course-1"}, Request: testharness.RequestValid, Status: 201})
	cj := crs.JSON(t)
	require.Equal(t, "requested", cj["status"])
	courseID := cj["id"].(string)
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/courses", Body: course,
		Header: []string{"Idempotency-Key", "course-1"}, Request: testharness.RequestValid, Status: 201})
	past := map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "preferred_start": "2020-01-01"}
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/courses", Body: past, Request: testharness.RequestValid, Status: 422})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/courses", Request: testharness.RequestInvalid, Status: 422,
		Body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "preferred_start": "next week"}})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/courses", Request: testharness.RequestValid, Status: 422,
		Body: map[string]any{"program": "nk-autologous", "indication": map[string]any{"system": "ICD-10", "code": "Z99.9"}, "preferred_start": start}})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: aPath + "/courses", Request: testharness.RequestValid, Status: 422,
		Body: map[string]any{"program": "no-such-program", "indication": map[string]any{"system": "ICD-10", "code": "M05.79"}, "preferred_start": start}})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/patients/" + uuid.NewString() + "/courses", Body: course, Request: testharness.RequestValid, Status: 404})
	c.Do(t, testharness.Call{Role: clin, Method: post, Path: aPath + "/courses", Body: course, Request: testharness.RequestValid, Status: 403})
	courses := c.Do(t, testharness.Call{Role: bill, Method: get, Path: aPath + "/courses", Request: testharness.RequestValid, Status: 200}).JSON(t)
	require.Len(t, courses["items"], 1)
	c.Do(t, testharness.Call{Role: nurse, Method: get, Path: aPath + "/courses", Request: testharness.RequestValid, Status: 403})

	cancelPath := "/v1/courses/" + courseID + "/cancel"
	cancelled := c.Do(t, testharness.Call{Role: fd, Method: post, Path: cancelPath, Body: map[string]any{"reason": "patient travelling"}, Request: testharness.RequestValid, Status: 200}).JSON(t)
	require.Equal(t, "cancelled", cancelled["status"])
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: cancelPath, Body: map[string]any{"reason": "again"}, Request: testharness.RequestValid, Status: 409})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/courses/" + uuid.NewString() + "/cancel", Body: map[string]any{"reason": "x"}, Request: testharness.RequestValid, Status: 404})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/courses/not-a-uuid/cancel", Body: map[string]any{"reason": "x"}, Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: fd, Method: post, Path: "/v1/courses/" + uuid.NewString() + "/cancel", Body: "[]", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: bill, Method: post, Path: cancelPath, Body: map[string]any{"reason": "x"}, Request: testharness.RequestValid, Status: 403})

	// ---- audit ----
	audit := c.Do(t, testharness.Call{Role: admin, Method: get, Path: "/v1/audit?patient_id=" + aID, Request: testharness.RequestValid, Status: 200}).JSON(t)
	actions := map[string]bool{}
	for _, e := range audit["items"].([]any) {
		actions[e.(map[string]any)["action"].(string)] = true
	}
	for _, want := range []string{"patient.read", "patient.search", "consents.read", "screenings.read", "courses.read"} {
		require.True(t, actions[want], "audit has %s: %v", want, actions)
	}
	c.Do(t, testharness.Call{Role: admin, Method: get, Path: "/v1/audit", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: admin, Method: get, Path: "/v1/audit?patient_id=x", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: admin, Method: get, Path: "/v1/audit?patient_id=" + aID + "&cursor=abc", Request: testharness.RequestInvalid, Status: 400})
	c.Do(t, testharness.Call{Role: fd, Method: get, Path: "/v1/audit?patient_id=" + aID, Request: testharness.RequestValid, Status: 403})
}
