package service_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	intakev1 "github.com/clinicops/clinicops/pkg/events/clinicops/intake/v1"
	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// traced are the headers of a request whose events we follow.
func traced(name string) []string {
	return []string{"X-Correlation-ID", "corr-" + name, "X-Request-ID", "req-" + name}
}

// readEvent waits for the seq-th INTAKE message, checks its envelope and
// decodes it into ev. aggregateID is the id the event is about; name the
// traced request that caused it.
func readEvent(t *testing.T, s *testharness.Service, seq uint64, ev proto.Message, aggregateID, name string) *jetstream.RawStreamMsg {
	t.Helper()
	m := streamMsg(t, s.NATS.JS, seq)
	subject := string(ev.ProtoReflect().Descriptor().FullName())
	require.Equal(t, subject, m.Subject, "message %d", seq)
	require.Equal(t, subject, m.Header.Get("ce-type"), "the type is the subject")
	require.Equal(t, aggregateID, m.Header.Get("ce-subject"), "the subject is the aggregate")
	require.Equal(t, "/clinicops/intake", m.Header.Get("ce-source"))
	require.Equal(t, "1.0", m.Header.Get("ce-specversion"))
	require.Equal(t, "application/protobuf", m.Header.Get("content-type"))
	require.NotEmpty(t, m.Header.Get("ce-id"))
	require.Equal(t, m.Header.Get("ce-id"), m.Header.Get("Nats-Msg-Id"), "JetStream de-duplicates by event id")
	at, err := time.Parse(time.RFC3339Nano, m.Header.Get("ce-time"))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), at, time.Minute)
	require.Equal(t, "corr-"+name, m.Header.Get("ce-correlationid"))
	require.Equal(t, "req-"+name, m.Header.Get("ce-causationid"))
	require.NoError(t, proto.Unmarshal(m.Data, ev))
	require.Empty(t, ev.ProtoReflect().GetUnknown(), "nothing on the wire beyond the schema")
	return m
}

// TestEventsPublished follows a patient through the front desk and reads
// every event intake publishes back from the INTAKE stream.
func TestEventsPublished(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	fd := httpx.RoleFrontDesk

	birth := "1979-10-01"
	nid := cnResidentID(t, birth, 88)
	body := newPatient("陈", "静", birth, "+8613200000001")
	body["email"] = "jing.chen@example.cn"
	body["sex"] = "female"
	body["national_id"] = map[string]any{"type": "cn_resident", "value": nid}
	body["address"] = map[string]any{"line1": "浦东新区世纪大道100号", "city": "上海", "country": "CN"}
	body["emergency_contact"] = map[string]any{"name": "陈刚", "phone": "+8613200000009"}
	pid := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", body, traced("register")...))["id"].(string)
	base := "/v1/patients/" + pid

	var reg intakev1.PatientRegistered
	m := readEvent(t, s, 1, &reg, pid, "register")
	require.Equal(t, pid, reg.GetPatientId())
	require.EqualValues(t, 1, reg.GetVersion())
	require.NotNil(t, reg.GetOccurredAt())
	require.Equal(t, "陈", reg.GetFamilyName())
	require.Equal(t, "静", reg.GetGivenName())
	require.Equal(t, birth, reg.GetBirthDate())
	require.Equal(t, "female", reg.GetSex())
	require.Equal(t, "+8613200000001", reg.GetPhone())
	require.Equal(t, "jing.chen@example.cn", reg.GetEmail())
	require.Equal(t, "zh-CN", reg.GetPreferredLanguage())
	for _, private := range []string{nid, "浦东新区", "陈刚", "+8613200000009"} {
		require.NotContains(t, string(m.Data), private, "only the personal data a consumer needs")
	}

	// Consents.
	sms := created(t, s.Do(t, fd, http.MethodPost, base+"/consents", smsConsent(), traced("sms")...))
	var smsEv intakev1.ConsentRecorded
	readEvent(t, s, 2, &smsEv, sms["id"].(string), "sms")
	require.Equal(t, pid, smsEv.GetPatientId())
	require.Equal(t, sms["id"], smsEv.GetConsentId())
	require.EqualValues(t, 1, smsEv.GetVersion())
	require.Equal(t, "contact_sms", smsEv.GetKind())
	require.Empty(t, smsEv.GetProgram())
	require.Equal(t, "SMS-2026.1", smsEv.GetFormVersion())

	tcBody := treatmentConsent("nk-autologous")
	tc := created(t, s.Do(t, fd, http.MethodPost, base+"/consents", tcBody, traced("treatment")...))
	var tcEv intakev1.ConsentRecorded
	readEvent(t, s, 3, &tcEv, tc["id"].(string), "treatment")
	require.Equal(t, pid, tcEv.GetPatientId())
	require.Equal(t, tc["id"], tcEv.GetConsentId())
	require.Equal(t, "treatment", tcEv.GetKind())
	require.Equal(t, "nk-autologous", tcEv.GetProgram())
	require.Equal(t, "ICF-2026.1", tcEv.GetFormVersion())
	require.Equal(t, "NK-AUTO-2026.1", tcEv.GetProtocolId())
	require.Empty(t, tcEv.GetTrialId())
	require.Equal(t, tcBody["signed_at"], tcEv.GetSignedAt().AsTime().UTC().Format(time.RFC3339))

	// An update.
	upd := s.Do(t, fd, http.MethodPatch, base, map[string]any{"phone": "+8613200000002", "preferred_language": "en"},
		append(traced("update"), "If-Match", `"1"`)...)
	require.Equal(t, http.StatusOK, upd.Status, string(upd.Body))
	var updEv intakev1.PatientUpdated
	readEvent(t, s, 4, &updEv, pid, "update")
	require.Equal(t, pid, updEv.GetPatientId())
	require.EqualValues(t, 2, updEv.GetVersion())
	require.Equal(t, "+8613200000002", updEv.GetPhone())
	require.Equal(t, "en", updEv.GetPreferredLanguage())
	require.Equal(t, "jing.chen@example.cn", updEv.GetEmail(), "the whole current contact record")
	require.Equal(t, "陈", updEv.GetFamilyName())
	require.True(t, updEv.GetOccurredAt().AsTime().After(reg.GetOccurredAt().AsTime()) ||
		updEv.GetOccurredAt().AsTime().Equal(reg.GetOccurredAt().AsTime()))

	// Screenings: codes only, never the answers.
	bad := nkScreening(true)
	bad["indication"] = map[string]any{"system": "ICD-10", "code": "C61"}
	no := created(t, s.Do(t, httpx.RoleClinician, http.MethodPost, base+"/screenings", bad, traced("screen-no")...))
	var noEv intakev1.ScreeningCompleted
	m = readEvent(t, s, 5, &noEv, no["id"].(string), "screen-no")
	require.Equal(t, pid, noEv.GetPatientId())
	require.Equal(t, no["id"], noEv.GetScreeningId())
	require.Equal(t, "nk-autologous", noEv.GetProgram())
	require.Equal(t, "2026-01", noEv.GetScreeningVersion())
	require.False(t, noEv.GetEligible())
	require.Equal(t, []string{"indication_not_allowed", "disqualifying_answer"}, noEv.GetReasonCodes())
	requireNoAnswers(t, m.Data)

	yes := created(t, s.Do(t, fd, http.MethodPost, base+"/screenings", nkScreening(false), traced("screen-yes")...))
	var yesEv intakev1.ScreeningCompleted
	m = readEvent(t, s, 6, &yesEv, yes["id"].(string), "screen-yes")
	require.True(t, yesEv.GetEligible())
	require.Empty(t, yesEv.GetReasonCodes())
	require.Equal(t, yes["id"], yesEv.GetScreeningId())
	requireNoAnswers(t, m.Data)
	fields := yesEv.ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		name := string(fields.Get(i).Name())
		require.NotContains(t, name, "answer", "ScreeningCompleted has no field for answers")
	}

	// A course, then its cancellation.
	course := created(t, s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse(), traced("course")...))
	cid := course["id"].(string)
	var crEv intakev1.CourseRequested
	m = readEvent(t, s, 7, &crEv, cid, "course")
	require.Equal(t, cid, crEv.GetCourseId())
	require.Equal(t, pid, crEv.GetPatientId())
	require.EqualValues(t, 1, crEv.GetVersion())
	require.Equal(t, "nk-autologous", crEv.GetProgram())
	require.Equal(t, "ICD-10", crEv.GetIndicationSystem())
	require.Equal(t, "M05.79", crEv.GetIndicationCode())
	require.Equal(t, dayFromToday(14), crEv.GetPreferredStart())
	require.Equal(t, "NK-AUTO-2026.1", crEv.GetProtocolVersion())
	require.NotContains(t, string(m.Data), "上午优先", "the desk's notes stay in intake")

	cc := s.Do(t, fd, http.MethodPost, "/v1/courses/"+cid+"/cancel", map[string]any{"reason": "schedule conflict"}, traced("cancel")...)
	require.Equal(t, http.StatusOK, cc.Status, string(cc.Body))
	var ccEv intakev1.CourseCancellationRequested
	readEvent(t, s, 8, &ccEv, cid, "cancel")
	require.Equal(t, cid, ccEv.GetCourseId())
	require.Equal(t, pid, ccEv.GetPatientId())
	require.EqualValues(t, 2, ccEv.GetVersion())
	require.Equal(t, "schedule conflict", ccEv.GetReason())

	// Withdrawing the treatment consent.
	wd := s.Do(t, fd, http.MethodPost, base+"/consents/"+tc["id"].(string)+"/withdraw", map[string]any{"reason": "moved"}, traced("withdraw")...)
	require.Equal(t, http.StatusOK, wd.Status, string(wd.Body))
	var wdEv intakev1.ConsentWithdrawn
	readEvent(t, s, 9, &wdEv, tc["id"].(string), "withdraw")
	require.Equal(t, pid, wdEv.GetPatientId())
	require.Equal(t, tc["id"], wdEv.GetConsentId())
	require.EqualValues(t, 2, wdEv.GetVersion())
	require.Equal(t, "treatment", wdEv.GetKind())
	require.Equal(t, "nk-autologous", wdEv.GetProgram())
	require.Equal(t, "moved", wdEv.GetReason())

	// Refusals and reads publish nothing.
	requireProblem(t, s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse()), http.StatusUnprocessableEntity, "")
	items(t, s.Do(t, fd, http.MethodGet, base+"/consents", nil))
	waitPublished(t, s, 9)
	requireOnceAfterIdle(t, s, 9, map[string]int{
		`SELECT count(*) FROM patients WHERE version = 2`:                              1,
		`SELECT count(*) FROM consents`:                                                2,
		`SELECT count(*) FROM screenings`:                                              2,
		`SELECT count(*) FROM courses WHERE version = 2`:                               1,
		`SELECT count(*) FROM consents WHERE withdrawn_at IS NOT NULL AND version = 2`: 1,
	})
}

// TestCorrelationDefaultsToTheRequestID: without X-Correlation-ID the
// request id names the flow.
func TestCorrelationDefaultsToTheRequestID(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	r := s.Do(t, httpx.RoleFrontDesk, http.MethodPost, "/v1/patients", validPatient(), "X-Request-ID", "desk-7")
	id := created(t, r)["id"].(string)
	m := streamMsg(t, s.NATS.JS, 1)
	require.Equal(t, id, m.Header.Get("ce-subject"))
	require.Equal(t, "desk-7", m.Header.Get("ce-correlationid"))
	require.Equal(t, "desk-7", m.Header.Get("ce-causationid"))
	require.Equal(t, "desk-7", r.Header.Get("X-Correlation-ID"))
}

// requireNoAnswers: a screening event names no question and no answer.
func requireNoAnswers(t *testing.T, data []byte) {
	t.Helper()
	for _, q := range []string{"active_infection", "pregnant", "prior_severe_reaction", "adequate_veins", "answers"} {
		require.False(t, strings.Contains(string(data), q), "the event carries the answer to %s", q)
	}
}
