package service_test

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// unknownID is a well-formed id nothing has.
const unknownID = "01a20047-9084-7116-8741-12f48a8eb19a"

// with returns a copy of m with key set to v, or removed when v is nil.
func with(m map[string]any, key string, v any) map[string]any {
	out := maps.Clone(m)
	if v == nil {
		delete(out, key)
	} else {
		out[key] = v
	}
	return out
}

// intakeState is everything bad input must leave alone: the contents of
// every table a request can write (a digest of its rows, so a changed value
// shows, not only a changed count) and the number of published events.
type intakeState struct {
	Tables     map[string]string
	StreamMsgs uint64
}

// intakeTables are the tables whose contents bad input must not change.
// idempotency_keys is left out: a refused keyed request keeps its key.
var intakeTables = []string{"patients", "consents", "screenings", "courses", "programs", "outbox", "audit_log"}

func snapshot(t testing.TB, s *testharness.Service) intakeState {
	t.Helper()
	st := intakeState{Tables: map[string]string{}}
	for _, table := range intakeTables {
		var digest string
		require.NoError(t, s.DB.Get(&digest,
			`SELECT coalesce(md5(string_agg(r::text, E'\n' ORDER BY r::text)), '') FROM `+table+` r`))
		st.Tables[table] = digest
	}
	// Read after the tables: an event written by a case is either still in
	// the outbox (its digest differs) or already published (this differs).
	st.StreamMsgs = intakeStreamMsgs(t, s)
	return st
}

type badCase struct {
	name    string
	role    httpx.Role // front_desk when empty
	method  string
	path    string
	body    any
	headers []string
	status  int
	field   string // the field the problem must name, if any
}

// TestBadInputMatrix sends bad input to every write route and bad paths and
// query parameters to the reads: every answer is a 4xx problem naming the
// field, and nothing is stored, audited or published.
func TestBadInputMatrix(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	fd := httpx.RoleFrontDesk

	birth := "1985-07-20"
	nid := cnResidentID(t, birth, 12)
	pb := newPatient("周", "杰", birth, "+8613600000001")
	pb["national_id"] = map[string]any{"type": "cn_resident", "value": nid}
	pid := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", pb))["id"].(string)
	base := "/v1/patients/" + pid
	cid := created(t, s.Do(t, fd, http.MethodPost, base+"/consents", treatmentConsent("nk-autologous")))["id"].(string)
	created(t, s.Do(t, fd, http.MethodPost, base+"/screenings", nkScreening(false)))
	courseID := created(t, s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse()))["id"].(string)
	otherID := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", newPatient("吴", "芳", "1990-01-01", "+8613600000002")))["id"].(string)
	waitPublished(t, s, 5)
	before := snapshot(t, s)

	huge := strings.Repeat("长", 40000) // 120 kB of UTF-8
	textPlain := []string{"Content-Type", "text/plain"}
	noType := []string{"Content-Type", ""}
	latin1 := []string{"Content-Type", "application/json; charset=iso-8859-1"}
	ifMatch := []string{"If-Match", `"1"`}
	tomorrowPlus := dayFromToday(2)

	// Registration: a new patient who would be valid but for one thing.
	np := newPatient("孙", "丽", "1988-06-15", "+8613600000099")
	np["national_id"] = map[string]any{"type": "cn_resident", "value": cnResidentID(t, "1988-06-15", 7)}
	nidOf := func(typ, value string) map[string]any { return map[string]any{"type": typ, "value": value} }
	addr := func(line1, country string) map[string]any { return map[string]any{"line1": line1, "country": country} }
	contact := func(name, phone string) map[string]any { return map[string]any{"name": name, "phone": phone} }
	post := func(name string, body any, status int, field string, headers ...string) badCase {
		return badCase{name: "register/" + name, method: http.MethodPost, path: "/v1/patients", body: body, headers: headers, status: status, field: field}
	}
	cases := []badCase{
		post("bad JSON", `{"family_name": "孙",`, 400, ""),
		post("empty body", "", 400, ""),
		post("null", "null", 400, ""),
		post("array", `["孙"]`, 400, ""),
		post("two values", `{} {}`, 400, ""),
		post("wrong type name", with(np, "family_name", 7), 400, "family_name"),
		post("wrong type birth date", with(np, "birth_date", 19880615), 400, "birth_date"),
		post("wrong type national id", with(np, "national_id", "110101198806150071"), 400, "national_id"),
		post("wrong type nested", with(np, "address", map[string]any{"line1": "x", "country": 86}), 400, "address.country"),
		post("unknown field", with(np, "blood_type", "A"), 400, "blood_type"),
		post("unknown nested field", with(np, "address", map[string]any{"line1": "x", "country": "CN", "floor": 3}), 400, "address.floor"),
		post("missing family name", with(np, "family_name", nil), 422, "family_name"),
		post("empty given name", with(np, "given_name", ""), 422, "given_name"),
		post("blank given name", with(np, "given_name", "   "), 422, "given_name"),
		post("name too long", with(np, "given_name", strings.Repeat("丽", 101)), 422, "given_name"),
		post("missing sex", with(np, "sex", nil), 422, "sex"),
		post("bad sex", with(np, "sex", "f"), 422, "sex"),
		post("missing birth date", with(np, "birth_date", nil), 422, "birth_date"),
		post("30 February", with(np, "birth_date", "2023-02-30"), 422, "birth_date"),
		post("not ISO date", with(np, "birth_date", "15/06/1988"), 422, "birth_date"),
		post("future birth date", with(with(np, "birth_date", tomorrowPlus), "national_id", nil), 422, "birth_date"),
		post("birth before 1900", with(with(np, "birth_date", "1850-01-01"), "national_id", nil), 422, "birth_date"),
		post("phone not E.164", with(np, "phone", "13800138000"), 422, "phone"),
		post("phone with letters", with(np, "phone", "+86138abc"), 422, "phone"),
		post("bad e-mail", with(np, "email", "sun@"), 422, "email"),
		post("bad e-mail with name", with(np, "email", "Sun Li <sun@example.cn>"), 422, "email"),
		post("bad language", with(np, "preferred_language", "中文"), 422, "preferred_language"),
		post("unknown time zone", with(np, "time_zone", "Asia/Atlantis"), 422, "time_zone"),
		post("Local time zone", with(np, "time_zone", "Local"), 422, "time_zone"),
		post("time zone path", with(np, "time_zone", "../zoneinfo/UTC"), 422, "time_zone"),
		post("wrong type time zone", with(np, "time_zone", 8), 400, "time_zone"),
		post("national id checksum", with(np, "national_id", nidOf("cn_resident", wrongCheckChar(cnResidentID(t, "1988-06-15", 7)))), 422, "national_id.value"),
		post("national id other birth date", with(np, "national_id", nidOf("cn_resident", cnResidentID(t, "1988-06-16", 7))), 422, "national_id.value"),
		post("national id impossible date", with(np, "national_id", nidOf("cn_resident", "110101198802300071")), 422, "national_id.value"),
		post("national id short", with(np, "national_id", nidOf("cn_resident", "11010119880615")), 422, "national_id.value"),
		post("national id empty", with(np, "national_id", nidOf("cn_resident", "")), 422, "national_id.value"),
		post("national id type", with(np, "national_id", nidOf("ssn", "123-45-6789")), 422, "national_id.type"),
		post("national id no type", with(np, "national_id", nidOf("", "E12345678")), 422, "national_id.type"),
		post("address without line", with(np, "address", addr("", "CN")), 422, "address.line1"),
		post("address country", with(np, "address", addr("东城区1号", "ZZ")), 422, "address.country"),
		post("emergency contact phone", with(np, "emergency_contact", contact("李娟", "139")), 422, "emergency_contact.phone"),
		post("emergency contact name", with(np, "emergency_contact", contact("", "+8613900139000")), 422, "emergency_contact.name"),
		post("duplicate national id", with(with(np, "national_id", nidOf("cn_resident", nid)), "birth_date", birth), 409, ""),
		post("duplicate name, birth date, phone", with(pb, "national_id", nil), 409, ""),
		post("text/plain", np, 415, "", textPlain...),
		post("no media type", np, 415, "", noType...),
		post("not UTF-8", np, 415, "", latin1...),
		post("oversized", with(np, "given_name", huge), 413, ""),
		post("oversized with key", with(np, "given_name", huge), 413, "", "Idempotency-Key", "big-1"),
		post("bad idempotency key", np, 400, "Idempotency-Key", "Idempotency-Key", strings.Repeat("k", 256)),
	}

	// Updates.
	patch := func(name string, path string, body any, status int, field string, headers ...string) badCase {
		return badCase{name: "patch/" + name, method: http.MethodPatch, path: path, body: body, headers: headers, status: status, field: field}
	}
	one := func(k string, v any) map[string]any { return map[string]any{k: v} }
	cases = append(cases,
		patch("no If-Match", base, one("phone", "+8613600000009"), 428, ""),
		patch("If-Match not an ETag", base, one("phone", "+8613600000009"), 412, "", "If-Match", "abc"),
		patch("stale If-Match", base, one("phone", "+8613600000009"), 412, "", "If-Match", `"7"`),
		patch("bad JSON", base, `{"phone":`, 400, "", ifMatch...),
		patch("empty body", base, "", 400, "", ifMatch...),
		patch("unknown field", base, one("nickname", "杰伦"), 400, "nickname", ifMatch...),
		patch("wrong type name", base, one("given_name", 1), 400, "given_name", ifMatch...),
		patch("wrong type phone", base, one("phone", 8613600000009), 400, "phone", ifMatch...),
		patch("wrong type national id", base, one("national_id", 5), 400, "national_id", ifMatch...),
		patch("empty family name", base, one("family_name", ""), 422, "family_name", ifMatch...),
		patch("30 February", base, one("birth_date", "2023-02-30"), 422, "birth_date", ifMatch...),
		patch("future birth date", base, map[string]any{"birth_date": tomorrowPlus, "national_id": nil}, 422, "birth_date", ifMatch...),
		patch("birth date against national id", base, one("birth_date", "1985-07-21"), 422, "national_id.value", ifMatch...),
		patch("bad sex", base, one("sex", "x"), 422, "sex", ifMatch...),
		patch("bad phone", base, one("phone", "136"), 422, "phone", ifMatch...),
		patch("bad e-mail", base, one("email", "zhou@@example.cn"), 422, "email", ifMatch...),
		patch("unknown time zone", base, one("time_zone", "Asia/Atlantis"), 422, "time_zone", ifMatch...),
		patch("Local time zone", base, one("time_zone", "Local"), 422, "time_zone", ifMatch...),
		patch("national id checksum", base, one("national_id", nidOf("cn_resident", wrongCheckChar(nid))), 422, "national_id.value", ifMatch...),
		patch("national id other birth date", base, one("national_id", nidOf("cn_resident", cnResidentID(t, "1985-07-21", 12))), 422, "national_id.value", ifMatch...),
		patch("address country", base, one("address", addr("东城区1号", "XX")), 422, "address.country", ifMatch...),
		patch("text/plain", base, one("phone", "+8613600000009"), 415, "", append(textPlain, ifMatch...)...),
		patch("oversized", base, one("given_name", huge), 413, "", ifMatch...),
		patch("bad id", "/v1/patients/not-a-uuid", one("phone", "+8613600000009"), 400, "id", ifMatch...),
		patch("unknown patient", "/v1/patients/"+unknownID, one("phone", "+8613600000009"), 404, "", ifMatch...),
	)

	// Consents.
	tc := treatmentConsent("nk-autologous")
	consent := func(name, path string, body any, status int, field string, headers ...string) badCase {
		return badCase{name: "consent/" + name, method: http.MethodPost, path: path, body: body, headers: headers, status: status, field: field}
	}
	cp := base + "/consents"
	cases = append(cases,
		consent("bad JSON", cp, `{"kind":"treatment"`, 400, ""),
		consent("empty body", cp, "", 400, ""),
		consent("unknown field", cp, with(tc, "witness", "王医生"), 400, "witness"),
		consent("wrong type kind", cp, with(tc, "kind", 1), 400, "kind"),
		consent("wrong type signed_at", cp, with(tc, "signed_at", 1767225600), 400, "signed_at"),
		consent("missing kind", cp, with(tc, "kind", nil), 422, "kind"),
		consent("unknown kind", cp, with(tc, "kind", "marketing"), 422, "kind"),
		consent("treatment without program", cp, with(tc, "program", nil), 422, "program"),
		consent("program not a code", cp, with(tc, "program", "NK AUTO"), 422, "program"),
		consent("sms with program", cp, with(smsConsent(), "program", "nk-autologous"), 422, "program"),
		consent("missing form version", cp, with(tc, "form_version", nil), 422, "form_version"),
		consent("blank form version", cp, with(tc, "form_version", " "), 422, "form_version"),
		consent("missing signed_at", cp, with(tc, "signed_at", nil), 422, "signed_at"),
		consent("signed_at not a time", cp, with(tc, "signed_at", "yesterday"), 422, "signed_at"),
		consent("signed_at date only", cp, with(tc, "signed_at", "2026-01-05"), 422, "signed_at"),
		consent("signed_at 30 February", cp, with(tc, "signed_at", "2023-02-30T10:00:00Z"), 422, "signed_at"),
		consent("signed_at in the future", cp, with(tc, "signed_at", time.Now().UTC().Add(24*time.Hour).Format(time.RFC3339)), 422, "signed_at"),
		consent("missing signed_by", cp, with(tc, "signed_by", nil), 422, "signed_by"),
		consent("bad signed_by", cp, with(tc, "signed_by", "doctor"), 422, "signed_by"),
		consent("treatment without protocol or trial", cp, with(tc, "protocol_id", nil), 422, "protocol_id"),
		consent("research without trial", cp, with(with(tc, "kind", "research"), "protocol_id", nil), 422, "trial_id"),
		consent("text/plain", cp, tc, 415, "", textPlain...),
		consent("oversized", cp, with(tc, "form_version", huge), 413, ""),
		consent("bad patient id", "/v1/patients/123/consents", tc, 400, "id"),
		consent("unknown patient", "/v1/patients/"+unknownID+"/consents", tc, 404, ""),
	)

	// Withdrawals.
	wp := base + "/consents/" + cid + "/withdraw"
	reason := map[string]any{"reason": "患者改变主意"}
	withdraw := func(name, path string, body any, status int, field string, headers ...string) badCase {
		return badCase{name: "withdraw/" + name, method: http.MethodPost, path: path, body: body, headers: headers, status: status, field: field}
	}
	cases = append(cases,
		withdraw("bad JSON", wp, `{"reason":`, 400, ""),
		withdraw("empty body", wp, "", 400, ""),
		withdraw("unknown field", wp, with(reason, "by", "phone"), 400, "by"),
		withdraw("wrong type", wp, one("reason", true), 400, "reason"),
		withdraw("missing reason", wp, map[string]any{}, 422, "reason"),
		withdraw("blank reason", wp, one("reason", "  "), 422, "reason"),
		withdraw("reason too long", wp, one("reason", strings.Repeat("因", 501)), 422, "reason"),
		withdraw("text/plain", wp, reason, 415, "", textPlain...),
		withdraw("oversized", wp, one("reason", huge), 413, ""),
		withdraw("bad patient id", "/v1/patients/x/consents/"+cid+"/withdraw", reason, 400, "id"),
		withdraw("bad consent id", base+"/consents/x/withdraw", reason, 400, "cid"),
		withdraw("unknown patient", "/v1/patients/"+unknownID+"/consents/"+cid+"/withdraw", reason, 404, ""),
		withdraw("unknown consent", base+"/consents/"+unknownID+"/withdraw", reason, 404, ""),
		withdraw("another patient's consent", "/v1/patients/"+otherID+"/consents/"+cid+"/withdraw", reason, 404, ""),
	)

	// Screenings.
	sc := nkScreening(false)
	answers := func(drop string, add map[string]any) map[string]any {
		a := maps.Clone(sc["answers"].(map[string]any))
		delete(a, drop)
		maps.Copy(a, add)
		return with(sc, "answers", a)
	}
	ind := func(system, code string) map[string]any {
		return with(sc, "indication", map[string]any{"system": system, "code": code})
	}
	screen := func(name, path string, body any, status int, field string, headers ...string) badCase {
		return badCase{name: "screening/" + name, method: http.MethodPost, path: path, body: body, headers: headers, status: status, field: field}
	}
	sp := base + "/screenings"
	cases = append(cases,
		screen("bad JSON", sp, `{"program":"nk-autologous"`, 400, ""),
		screen("empty body", sp, "", 400, ""),
		screen("unknown field", sp, with(sc, "weight_kg", 70), 400, "weight_kg"),
		screen("unknown indication field", sp, with(sc, "indication", map[string]any{"system": "ICD-10", "code": "M05", "version": "2019"}), 400, "indication.version"),
		screen("wrong type answers", sp, with(sc, "answers", "all no"), 400, "answers"),
		screen("wrong type answer", sp, answers("", map[string]any{"pregnant": "no"}), 400, "answers"),
		screen("wrong type indication", sp, with(sc, "indication", "M05.79"), 400, "indication"),
		screen("wrong type program", sp, with(sc, "program", []string{"nk-autologous"}), 400, "program"),
		screen("missing program", sp, with(sc, "program", nil), 422, "program"),
		screen("unknown program", sp, with(sc, "program", "no-such-program"), 422, "program"),
		screen("missing indication", sp, with(sc, "indication", nil), 422, "indication"),
		screen("not ICD-10", sp, ind("SNOMED-CT", "69896004"), 422, "indication.system"),
		screen("missing system", sp, ind("", "M05.79"), 422, "indication.system"),
		screen("bad ICD-10 code", sp, ind("ICD-10", "M0"), 422, "indication.code"),
		screen("bad ICD-10 shape", sp, ind("ICD-10", "05.79"), 422, "indication.code"),
		screen("empty ICD-10 code", sp, ind("ICD-10", ""), 422, "indication.code"),
		screen("missing answers", sp, with(sc, "answers", nil), 422, "answers"),
		screen("no answers", sp, with(sc, "answers", map[string]any{}), 422, "answers.active_infection"),
		screen("missing answer", sp, answers("pregnant", nil), 422, "answers.pregnant"),
		screen("unknown question", sp, answers("", map[string]any{"smoker": true}), 422, "answers.smoker"),
		screen("another program's question", sp, answers("", map[string]any{"active_malignancy": false}), 422, "answers.active_malignancy"),
		screen("text/plain", sp, sc, 415, "", textPlain...),
		screen("oversized", sp, with(sc, "program", huge), 413, ""),
		screen("bad patient id", "/v1/patients/"+pid+"0/screenings", sc, 400, "id"),
		screen("unknown patient", "/v1/patients/"+unknownID+"/screenings", sc, 404, ""),
	)

	// Course requests: the patient has consent and screening, so any of
	// these would be requested were the input good.
	cb := nkCourse()
	course := func(name, path string, body any, status int, field string, headers ...string) badCase {
		return badCase{name: "course/" + name, method: http.MethodPost, path: path, body: body, headers: headers, status: status, field: field}
	}
	cip := func(system, code string) map[string]any {
		return with(cb, "indication", map[string]any{"system": system, "code": code})
	}
	crp := base + "/courses"
	cases = append(cases,
		course("bad JSON", crp, `{"program":`, 400, ""),
		course("empty body", crp, "", 400, ""),
		course("unknown field", crp, with(cb, "priority", "high"), 400, "priority"),
		course("wrong type preferred_start", crp, with(cb, "preferred_start", 20260101), 400, "preferred_start"),
		course("wrong type notes", crp, with(cb, "notes", []string{"a"}), 400, "notes"),
		course("missing program", crp, with(cb, "program", nil), 422, "program"),
		course("unknown program", crp, with(cb, "program", "no-such-program"), 422, "program"),
		course("missing indication", crp, with(cb, "indication", nil), 422, "indication"),
		course("bad ICD-10", crp, cip("ICD-10", "M05.7.9"), 422, "indication.code"),
		course("not ICD-10", crp, cip("ICD-11", "FA20"), 422, "indication.system"),
		course("indication not of the program", crp, cip("ICD-10", "C61"), 422, "indication.code"),
		course("missing preferred_start", crp, with(cb, "preferred_start", nil), 422, "preferred_start"),
		course("preferred_start 30 February", crp, with(cb, "preferred_start", "2023-02-30"), 422, "preferred_start"),
		course("preferred_start not a date", crp, with(cb, "preferred_start", "next monday"), 422, "preferred_start"),
		course("preferred_start in the past", crp, with(cb, "preferred_start", dayFromToday(-2)), 422, "preferred_start"),
		course("notes too long", crp, with(cb, "notes", strings.Repeat("注", 2001)), 422, "notes"),
		course("text/plain", crp, cb, 415, "", textPlain...),
		course("oversized", crp, with(cb, "notes", huge), 413, ""),
		course("bad patient id", "/v1/patients/"+strings.ToUpper(pid)+"-1/courses", cb, 400, "id"),
		course("unknown patient", "/v1/patients/"+unknownID+"/courses", cb, 404, ""),
	)

	// Cancellations.
	cancel := func(name, path string, body any, status int, field string, headers ...string) badCase {
		return badCase{name: "cancel/" + name, method: http.MethodPost, path: path, body: body, headers: headers, status: status, field: field}
	}
	ccp := "/v1/courses/" + courseID + "/cancel"
	cases = append(cases,
		cancel("bad JSON", ccp, `{"reason"`, 400, ""),
		cancel("empty body", ccp, "", 400, ""),
		cancel("unknown field", ccp, with(reason, "refund", true), 400, "refund"),
		cancel("wrong type", ccp, one("reason", 3), 400, "reason"),
		cancel("missing reason", ccp, map[string]any{}, 422, "reason"),
		cancel("blank reason", ccp, one("reason", "\t"), 422, "reason"),
		cancel("text/plain", ccp, reason, 415, "", textPlain...),
		cancel("oversized", ccp, one("reason", huge), 413, ""),
		cancel("bad course id", "/v1/courses/%20/cancel", reason, 400, "id"),
		cancel("unknown course", "/v1/courses/"+unknownID+"/cancel", reason, 404, ""),
	)

	// Reads: bad paths and query parameters.
	get := func(name, path string, status int, field string) badCase {
		return badCase{name: "get/" + name, method: http.MethodGet, path: path, status: status, field: field}
	}
	q := "/v1/patients?q=" + url.QueryEscape("周")
	notJSONCursor := base64.RawURLEncoding.EncodeToString([]byte("nope"))
	cases = append(cases,
		get("search limit=0", q+"&limit=0", 400, "limit"),
		get("search limit=abc", q+"&limit=abc", 400, "limit"),
		get("search limit=-1", q+"&limit=-1", 400, "limit"),
		get("search limit=101", q+"&limit=101", 400, "limit"),
		get("search unknown parameter", q+"&name=x", 400, "name"),
		get("search without a filter", "/v1/patients", 400, "q"),
		get("search blank filter", "/v1/patients?q=%20", 400, "q"),
		get("search bad cursor", q+"&cursor=!!!", 400, "cursor"),
		get("search cursor not ours", q+"&cursor="+notJSONCursor, 400, "cursor"),
		get("search bad phone", "/v1/patients?phone=abc", 400, "phone"),
		get("search q too long", "/v1/patients?q="+strings.Repeat("a", 101), 400, "q"),
		get("patient bad id", "/v1/patients/not-a-uuid", 400, "id"),
		get("patient unknown", "/v1/patients/"+unknownID, 404, ""),
		get("consents bad id", "/v1/patients/x/consents", 400, "id"),
		get("consents unknown patient", "/v1/patients/"+unknownID+"/consents", 404, ""),
		get("screenings bad id", "/v1/patients/x/screenings", 400, "id"),
		get("screenings unknown patient", "/v1/patients/"+unknownID+"/screenings", 404, ""),
		get("courses bad id", "/v1/patients/x/courses", 400, "id"),
		get("courses unknown patient", "/v1/patients/"+unknownID+"/courses", 404, ""),
	)
	admin := func(name, path string, status int, field string) badCase {
		return badCase{name: "audit/" + name, role: httpx.RoleAdmin, method: http.MethodGet, path: path, status: status, field: field}
	}
	cases = append(cases,
		admin("no patient_id", "/v1/audit", 400, "patient_id"),
		admin("bad patient_id", "/v1/audit?patient_id=42", 400, "patient_id"),
		admin("bad cursor", "/v1/audit?patient_id="+pid+"&cursor=x", 400, "cursor"),
		admin("negative cursor", "/v1/audit?patient_id="+pid+"&cursor=-5", 400, "cursor"),
	)

	// Bad bytes (issue 6, section 9): text that is not UTF-8 or holds NUL,
	// wherever it comes in, is a 400 naming where, and never reaches the
	// database (NUL was a 500 there) or the events (invalid UTF-8 was stored
	// and published as U+FFFD).
	bytesCase := func(name, method, path string, body any, field string, headers ...string) badCase {
		return badCase{name: "bytes/" + name, method: method, path: path, body: body, headers: headers, status: 400, field: field}
	}
	rawPatient := `{"family_name":"孙","given_name":"%s","birth_date":"1988-06-15","sex":"female"}`
	cases = append(cases,
		bytesCase("NUL in q", http.MethodGet, "/v1/patients?q=%00", nil, "q"),
		bytesCase("NUL inside q", http.MethodGet, "/v1/patients?q=%E5%AD%99%00", nil, "q"),
		bytesCase("invalid UTF-8 in q", http.MethodGet, "/v1/patients?q=%E5%AD", nil, "q"),
		bytesCase("NUL in national_id", http.MethodGet, "/v1/patients?national_id=%00", nil, "national_id"),
		bytesCase("invalid UTF-8 in a parameter name", http.MethodGet, "/v1/patients?q=x&%FF=1", nil, "query"),
		bytesCase("bad escape in the query", http.MethodGet, "/v1/patients?q=%zz", nil, "q"),
		bytesCase("NUL in the patient id", http.MethodGet, "/v1/patients/%00", nil, "id"),
		bytesCase("invalid UTF-8 in the patient id", http.MethodGet, base+"%FF/consents", nil, "id"),
		bytesCase("invalid UTF-8 in the consent id", http.MethodPost, base+"/consents/%C3/withdraw", map[string]any{"reason": "x"}, "cid"),
		bytesCase("invalid UTF-8 in a header", http.MethodGet, base, nil, "X-Request-Id", "X-Request-ID", "caf\xe9"),
		bytesCase("invalid UTF-8 in Idempotency-Key", http.MethodPost, "/v1/patients", np, "Idempotency-Key", "Idempotency-Key", "k\xff"),
		bytesCase("invalid UTF-8 in a name", http.MethodPost, "/v1/patients", fmt.Sprintf(rawPatient, "丽\xff"), "given_name"),
		bytesCase("NUL escape in a name", http.MethodPost, "/v1/patients", fmt.Sprintf(rawPatient, `丽\u0000`), "given_name"),
		bytesCase("lone surrogate in a name", http.MethodPost, "/v1/patients", fmt.Sprintf(rawPatient, `\udc00`), "given_name"),
		bytesCase("invalid UTF-8 in a nested field", http.MethodPost, "/v1/patients",
			`{"family_name":"孙","given_name":"丽","birth_date":"1988-06-15","sex":"female","address":{"line1":"`+"\xc0\xaf"+`","country":"CN"}}`, "address.line1"),
		bytesCase("NUL escape in a PATCH", http.MethodPatch, base, `{"given_name":"\u0000"}`, "given_name", "If-Match", `"1"`),
		bytesCase("invalid UTF-8 in a consent", http.MethodPost, base+"/consents", `{"kind":"contact_sms","form_version":"`+"\xff"+`","signed_at":"2026-01-01T00:00:00Z","signed_by":"patient"}`, "form_version"),
		bytesCase("NUL escape in a cancellation reason", http.MethodPost, "/v1/courses/"+courseID+"/cancel", `{"reason":"\u0000"}`, "reason"),
	)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			role := tc.role
			if role == "" {
				role = fd
			}
			r := s.Do(t, role, tc.method, tc.path, tc.body, tc.headers...)
			requireProblem(t, r, tc.status, tc.field)
			require.Equal(t, before, snapshot(t, s), "this bad input changed what intake stores or publishes")
		})
	}

	require.Equal(t, before, snapshot(t, s), "bad input changed nothing")
	// The relay polls: a message enqueued and published in the meantime
	// would show in the stream count above; one still queued in the outbox.
	st, err := s.NATS.JS.Stream(t.Context(), "INTAKE")
	require.NoError(t, err)
	info, err := st.Info(t.Context())
	require.NoError(t, err)
	require.Equal(t, before.StreamMsgs, info.State.Msgs, "no event for bad input")
}

// TestConsentForUnknownProgramIsRefused: a treatment consent must name one
// of the clinic's programs ("references to unknown ... programs" are bad
// input), not merely something shaped like a program code.
func TestConsentForUnknownProgramIsRefused(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	pid := created(t, s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", validPatient()))["id"].(string)
	waitPublished(t, s, 1)
	before := snapshot(t, s)
	for _, kind := range []string{"treatment", "research"} {
		body := with(treatmentConsent("no-such-program"), "kind", kind)
		body["trial_id"] = "NCT01234567"
		r := s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients/"+pid+"/consents", body)
		requireProblem(t, r, http.StatusUnprocessableEntity, "program")
	}
	require.Equal(t, before, snapshot(t, s))
}

// TestAuditRejectsUnknownParameters: like the search, the audit query
// rejects parameters it does not know rather than ignoring them.
func TestAuditRejectsUnknownParameters(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	pid := created(t, s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", validPatient()))["id"].(string)
	for _, p := range []string{"&since=2026-01-01", "&limit=abc"} {
		r := s.Do(t, httpx.RoleAdmin, http.MethodGet, "/v1/audit?patient_id="+pid+p, nil)
		requireProblem(t, r, http.StatusBadRequest, strings.SplitN(p[1:], "=", 2)[0])
	}
}

// TestPatchIntoADuplicateIsA409: an update that would make the patient a
// duplicate of another is refused like a registration would be (409 naming
// existing_patient_id), never a 5xx, and changes nothing.
func TestPatchIntoADuplicateIsA409(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	fd := httpx.RoleFrontDesk
	a := newPatient("钱", "多", "1981-01-01", "+8613000000001")
	a["national_id"] = map[string]any{"type": "cn_resident", "value": cnResidentID(t, "1981-01-01", 1)}
	aID := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", a))["id"].(string)
	bID := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", newPatient("钱", "少", "1980-01-01", "+8613000000002")))["id"].(string)
	waitPublished(t, s, 2)
	before := snapshot(t, s)

	for name, patch := range map[string]map[string]any{
		"national id":                {"birth_date": "1981-01-01", "national_id": a["national_id"]},
		"name, birth date and phone": {"given_name": "多", "birth_date": "1981-01-01", "phone": "+8613000000001"},
	} {
		t.Run(name, func(t *testing.T) {
			r := s.Do(t, fd, http.MethodPatch, "/v1/patients/"+bID, patch, "If-Match", `"1"`)
			p := requireProblem(t, r, http.StatusConflict, "")
			require.Equal(t, aID, p["existing_patient_id"])
		})
	}
	require.Equal(t, before, snapshot(t, s))
}

// TestNullScreeningAnswerIsNotAnAnswer: every question must be answered; a
// null is no answer and must not count as "no" (here: not pregnant).
func TestNullScreeningAnswerIsNotAnAnswer(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	fd := httpx.RoleFrontDesk
	pid := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", validPatient()))["id"].(string)
	waitPublished(t, s, 1)
	before := snapshot(t, s)
	sc := nkScreening(false)
	sc["answers"].(map[string]any)["pregnant"] = nil
	r := s.Do(t, fd, http.MethodPost, "/v1/patients/"+pid+"/screenings", sc)
	require.Contains(t, []int{http.StatusBadRequest, http.StatusUnprocessableEntity}, r.Status, string(r.Body))
	require.Equal(t, httpx.ContentTypeProblem, r.Header.Get("Content-Type"))
	require.Contains(t, string(r.Body), `"field":"answers`)
	require.Equal(t, before, snapshot(t, s))
}

// TestEveryNationalIDThatCanBeRegisteredCanBeSearchedFor: the register limit
// counted characters and the search limit bytes, so an "other" id of 22
// Chinese characters (66 bytes) was stored but could never be found. Both
// count characters now.
func TestEveryNationalIDThatCanBeRegisteredCanBeSearchedFor(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	fd := httpx.RoleFrontDesk
	for _, n := range []int{22, 64} {
		value := strings.Repeat("证", n)
		p := newPatient("钱", "多", "1975-03-0"+fmt.Sprint(n%9+1), "")
		p["national_id"] = map[string]any{"type": "other", "value": value}
		id := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", p))["id"].(string)
		r := s.Do(t, fd, http.MethodGet, "/v1/patients?national_id="+url.QueryEscape(value), nil)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		items := r.JSON(t)["items"].([]any)
		require.Len(t, items, 1)
		require.Equal(t, id, items[0].(map[string]any)["id"])
	}
	// One character over the limit is refused by both, by the same rule.
	value := strings.Repeat("证", 65)
	p := newPatient("钱", "少", "1975-03-01", "")
	p["national_id"] = map[string]any{"type": "other", "value": value}
	requireProblem(t, s.Do(t, fd, http.MethodPost, "/v1/patients", p), http.StatusUnprocessableEntity, "national_id.value")
	requireProblem(t, s.Do(t, fd, http.MethodGet, "/v1/patients?national_id="+url.QueryEscape(value), nil), http.StatusBadRequest, "national_id")
}
