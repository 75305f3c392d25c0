package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
)

const replayedHeader = "Idempotent-Replayed"

// requireReplay checks that again is first answered once more from the store.
func requireReplay(t *testing.T, first, again testharness.Response) {
	t.Helper()
	require.Equal(t, first.Status, again.Status, string(again.Body))
	require.Equal(t, "true", again.Header.Get(replayedHeader))
	require.JSONEq(t, string(first.Body), string(again.Body), "the first answer, byte for byte")
	require.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))
	require.Equal(t, first.Header.Get("ETag"), again.Header.Get("ETag"))
}

// TestIdempotencyKeys: on every creating POST the same key and body return
// the first answer (one row, one event), the same key with another body is
// a 422, and keys belong to the caller.
func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	fd := httpx.RoleFrontDesk
	key := func(k string) []string { return []string{"Idempotency-Key", k} }

	// Register.
	reg := newPatient("郑", "秀英", "1960-12-12", "+8613300000001")
	first := s.Do(t, fd, http.MethodPost, "/v1/patients", reg, key("reg-1")...)
	p := created(t, first)
	require.Empty(t, first.Header.Get(replayedHeader))
	requireReplay(t, first, s.Do(t, fd, http.MethodPost, "/v1/patients", reg, key("reg-1")...))
	other := s.Do(t, fd, http.MethodPost, "/v1/patients", with(reg, "given_name", "秀兰"), key("reg-1")...)
	requireProblem(t, other, http.StatusUnprocessableEntity, "Idempotency-Key")
	base := "/v1/patients/" + p["id"].(string)

	// Consent.
	// One body, sent twice: a body rebuilt later could differ in its time.
	consentBody := treatmentConsent("nk-autologous")
	first = s.Do(t, fd, http.MethodPost, base+"/consents", consentBody, key("consent-1")...)
	created(t, first)
	requireReplay(t, first, s.Do(t, fd, http.MethodPost, base+"/consents", consentBody, key("consent-1")...))
	requireProblem(t, s.Do(t, fd, http.MethodPost, base+"/consents", smsConsent(), key("consent-1")...),
		http.StatusUnprocessableEntity, "Idempotency-Key")

	// Screening: the front desk and a clinician may use the same key
	// without meeting each other.
	first = s.Do(t, fd, http.MethodPost, base+"/screenings", nkScreening(false), key("screen-1")...)
	fdScreening := created(t, first)
	requireReplay(t, first, s.Do(t, fd, http.MethodPost, base+"/screenings", nkScreening(false), key("screen-1")...))
	requireProblem(t, s.Do(t, fd, http.MethodPost, base+"/screenings", nkScreening(true), key("screen-1")...),
		http.StatusUnprocessableEntity, "Idempotency-Key")
	clin := s.Do(t, httpx.RoleClinician, http.MethodPost, base+"/screenings", nkScreening(false), key("screen-1")...)
	clinScreening := created(t, clin)
	require.Empty(t, clin.Header.Get(replayedHeader), "another principal's key is independent")
	require.NotEqual(t, fdScreening["id"], clinScreening["id"])
	requireReplay(t, clin, s.Do(t, httpx.RoleClinician, http.MethodPost, base+"/screenings", nkScreening(false), key("screen-1")...))
	// A clinician's different body under that key is judged against the
	// clinician's own first request only.
	requireProblem(t, s.Do(t, httpx.RoleClinician, http.MethodPost, base+"/screenings", nkScreening(true), key("screen-1")...),
		http.StatusUnprocessableEntity, "Idempotency-Key")

	// Course.
	first = s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse(), key("course-1")...)
	course := created(t, first)
	require.Equal(t, "requested", course["status"])
	requireReplay(t, first, s.Do(t, fd, http.MethodPost, base+"/courses", nkCourse(), key("course-1")...))
	requireProblem(t, s.Do(t, fd, http.MethodPost, base+"/courses", with(nkCourse(), "notes", "下午"), key("course-1")...),
		http.StatusUnprocessableEntity, "Idempotency-Key")

	// A refusal is replayed as well, and stays a refusal once the key is spent.
	dup := s.Do(t, fd, http.MethodPost, "/v1/patients", reg, key("reg-2")...)
	requireProblem(t, dup, http.StatusConflict, "")
	requireReplay(t, dup, s.Do(t, fd, http.MethodPost, "/v1/patients", reg, key("reg-2")...))

	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM patients`))
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM consents`))
	require.Equal(t, 2, s.Count(t, `SELECT count(*) FROM screenings`), "the front desk's and the clinician's")
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM courses`))
	waitPublished(t, s, 5) // registered, consent, two screenings, course
	requireOnceAfterIdle(t, s, 5, map[string]int{
		`SELECT count(*) FROM patients`:   1,
		`SELECT count(*) FROM consents`:   1,
		`SELECT count(*) FROM screenings`: 2,
		`SELECT count(*) FROM courses`:    1,
		// Every key's answer is stored: none left in progress.
		`SELECT count(*) FROM idempotency_keys WHERE status = 0`: 0,
	})

	// Without a key nothing is deduplicated: that is what keys are for.
	created(t, s.Do(t, fd, http.MethodPost, base+"/consents", smsConsent()))
	created(t, s.Do(t, fd, http.MethodPost, base+"/consents", smsConsent()))
	require.Equal(t, 3, s.Count(t, `SELECT count(*) FROM consents`))
}

// TestIdempotencyKeyUnderConcurrentRetries: retries racing each other with
// one key register the patient once and all get the first answer; the key
// is stored by the registration's own transaction (one commit).
func TestIdempotencyKeyUnderConcurrentRetries(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	body, err := json.Marshal(newPatient("冯", "刚", "1958-03-03", "+8613300000002"))
	require.NoError(t, err)

	ids := map[string]bool{}
	for _, a := range sendAtOnce(t, s, httpx.RoleFrontDesk, "/v1/patients", body, "desk-retry", 8) {
		switch a.Status {
		case http.StatusCreated:
			// The key rides in the registration's transaction: a
			// concurrent retry waits for it and replays its answer, so
			// every retry gets the 201 (no "in progress" 409).
			var p map[string]any
			require.NoError(t, json.Unmarshal(a.Body, &p))
			ids[p["id"].(string)] = true
		default:
			require.Failf(t, "unexpected answer", "%d %s", a.Status, a.Body)
		}
	}
	require.Len(t, ids, 1, "every success names the same patient")
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM patients`))
	// The key row and the patient row were written by one transaction: the
	// idempotency record rides in the business commit.
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM patients p JOIN idempotency_keys k
		ON k.key = 'desk-retry' AND p.xmin = k.xmin`))
	waitPublished(t, s, 1)
	requireOnceAfterIdle(t, s, 1, map[string]int{
		`SELECT count(*) FROM patients`: 1,
		`SELECT count(*) FROM idempotency_keys WHERE key = 'desk-retry' AND status = 201`: 1,
	})
}

// TestCourseRequestKeyUnderConcurrentRetries: eight retries of one course
// request (the same key and body) sent at once request the course once,
// publish its event once, and all get the same answer, seven of them marked
// as replays; the key is stored by the course's own transaction.
func TestCourseRequestKeyUnderConcurrentRetries(t *testing.T) {
	t.Parallel()
	s := startSeededIntake(t)
	fd := httpx.RoleFrontDesk
	p := created(t, s.Do(t, fd, http.MethodPost, "/v1/patients", newPatient("褚", "建国", "1961-07-07", "+8613300000003")))
	base := "/v1/patients/" + p["id"].(string)
	created(t, s.Do(t, fd, http.MethodPost, base+"/consents", treatmentConsent("nk-autologous")))
	created(t, s.Do(t, fd, http.MethodPost, base+"/screenings", nkScreening(false)))
	body, err := json.Marshal(nkCourse())
	require.NoError(t, err)

	const n = 8
	answers := sendAtOnce(t, s, fd, base+"/courses", body, "course-retry", n)
	first, replays := -1, 0
	for i, a := range answers {
		require.Equal(t, http.StatusCreated, a.Status, "a retry waits for the first and replays it (no 409): %s", a.Body)
		if a.Header.Get(replayedHeader) == "true" {
			replays++
		} else {
			require.Equal(t, -1, first, "only one answer is not a replay")
			first = i
		}
	}
	require.NotEqual(t, -1, first, "one request did the work")
	require.Equal(t, n-1, replays, "every other request is answered by a replay")
	for _, a := range answers {
		require.Equal(t, string(answers[first].Body), string(a.Body), "the first answer, byte for byte")
		for _, h := range []string{"Content-Type", "Location", "ETag", "X-Content-Type-Options"} {
			require.Equal(t, answers[first].Header.Get(h), a.Header.Get(h), h)
		}
	}
	// The stored answer is the one the handler writes without a key: the
	// course as stored, as JSON, without Location or ETag.
	var c map[string]any
	require.NoError(t, json.Unmarshal(answers[first].Body, &c))
	require.Equal(t, "requested", c["status"])
	require.Equal(t, []map[string]any{c}, items(t, s.Do(t, fd, http.MethodGet, base+"/courses", nil)))
	require.Equal(t, "application/json", answers[first].Header.Get("Content-Type"))
	require.Empty(t, answers[first].Header.Get("Location"))
	require.Empty(t, answers[first].Header.Get("ETag"))

	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM courses`))
	// The key row and the course row were written by one transaction.
	require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM courses c JOIN idempotency_keys k
		ON k.key = 'course-retry' AND c.xmin = k.xmin`))
	waitPublished(t, s, 4) // registered, consent, screening, course
	requireOnceAfterIdle(t, s, 4, map[string]int{
		`SELECT count(*) FROM courses`: 1,
		`SELECT count(*) FROM idempotency_keys WHERE key = 'course-retry' AND status = 201`: 1,
	})
}

// sendAtOnce sends n copies of one POST with the same Idempotency-Key, all
// released together, and returns their answers.
func sendAtOnce(t *testing.T, s *testharness.Service, role httpx.Role, path string, body []byte, key string, n int) []testharness.Response {
	t.Helper()
	answers := make([]testharness.Response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, "http://"+s.Runtime.Addr()+path, bytes.NewReader(body))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+s.Tokens[role])
			req.Header.Set("Idempotency-Key", key)
			<-start
			resp, err := s.HTTP.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer func() { _ = resp.Body.Close() }()
			answers[i].Status, answers[i].Header = resp.StatusCode, resp.Header
			answers[i].Body, errs[i] = io.ReadAll(resp.Body)
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return answers
}

// relayIdle is how long the outbox must stay empty before a "once" check is
// repeated: more than two of the relay's 1 s fallback polls, so a late or
// repeated publish has had its chance to show.
const relayIdle = 2500 * time.Millisecond

// requireOnceAfterIdle repeats the "applied once" checks after the relay has
// been idle a while, instead of only at the first moment they held: a
// republish (a lost outbox delete) or a second application would appear
// later. It checks that the INTAKE stream holds exactly want messages, each
// with its own event id, and that each query still counts what it should.
func requireOnceAfterIdle(t *testing.T, s *testharness.Service, want uint64, counts map[string]int) {
	t.Helper()
	idleSince := time.Now()
	testharness.Eventually(t, 20*time.Second, func() bool {
		if s.Count(t, `SELECT count(*) FROM outbox`) != 0 {
			idleSince = time.Now()
		}
		return time.Since(idleSince) >= relayIdle
	}, "the outbox never stayed empty")
	require.Equal(t, want, intakeStreamMsgs(t, s), "exactly %d events, after idle", want)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.NATS.JS.Stream(ctx, "INTAKE")
	require.NoError(t, err)
	seen := map[string]bool{}
	for seq := uint64(1); seq <= want; seq++ {
		m, err := st.GetMsg(ctx, seq)
		require.NoError(t, err)
		id := m.Header.Get("ce-id")
		require.False(t, seen[id], "event %s published twice", id)
		seen[id] = true
	}
	for q, n := range counts {
		require.Equal(t, n, s.Count(t, q), "after idle: %s", q)
	}
}
