package service_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/service"
)

// Fixed ids: each fuzz worker process has its own database, and the seeds
// must name the same patient in all of them.
const (
	fuzzPatient = "01939a6e-0000-7000-8000-000000000001"
	fuzzCourse  = "01939a6e-0000-7000-8000-000000000002"
)

// FuzzMoneyWrites sends arbitrary bodies to billing's money writes -
// payments, refunds, credit notes and voids - through the real service
// (strict decoding, validation, the use cases, Postgres). Whatever the
// body: never a 5xx; a refusal is a 4xx problem+json; and a refusal
// changes nothing (no payment, refund, credit note, posting or event).
func FuzzMoneyWrites(f *testing.F) {
	s := testharness.StartService(f, service.Service)
	require.NoError(f, service.Service.Seed(context.Background(), s.Runtime))
	registered(f, s, fuzzPatient)
	planned(f, s, fuzzPatient, fuzzCourse)
	var invoice string
	require.NoError(f, s.DB.Get(&invoice, `SELECT id FROM invoices WHERE course_id = $1 ORDER BY cycle, kind LIMIT 1`, fuzzCourse))

	routes := []string{"/v1/payments", "/v1/refunds", "/v1/credit-notes", "/v1/invoices/" + invoice + "/void"}
	cny := func(v int64) string { return fmt.Sprintf(`{"value":%d,"currency":"CNY"}`, v) }
	for _, seed := range []struct {
		route uint8
		body  string
	}{
		{0, `{"patient_id":"` + fuzzPatient + `","amount":` + cny(300_000) + `,"method":"card","external_reference":"POS-1","received_at":"2026-12-04T09:30:00+08:00"}`},
		{0, `{"patient_id":"` + fuzzPatient + `","amount":` + cny(100) + `,"method":"cash","external_reference":"POS-2","received_at":"2026-12-04T09:30:00Z","allocations":[{"invoice_id":"` + invoice + `","amount":` + cny(100) + `}]}`},
		{0, `{"patient_id":"` + fuzzPatient + `","amount":{"value":-5,"currency":"XXX"},"method":"barter","external_reference":"","received_at":"yesterday"}`},
		{1, `{"patient_id":"` + fuzzPatient + `","invoice_id":"` + invoice + `","amount":` + cny(50) + `,"reason":"goodwill"}`},
		{1, `{"patient_id":"` + fuzzPatient + `","amount":` + cny(9_223_372_036_854_775_807) + `,"reason":"all of it"}`},
		{2, `{"patient_id":"` + fuzzPatient + `","invoice_id":"` + invoice + `","total":` + cny(100) + `,"reduce_owed":` + cny(100) + `,"reason":"goodwill"}`},
		{2, `{"patient_id":"` + fuzzPatient + `","invoice_id":"` + invoice + `","total":` + cny(100) + `,"refund":{"value":100,"currency":"USD"},"reason":"x"}`},
		{3, `{"reason":"planned twice"}`},
		{3, `{"reason":""}`},
		{0, `{"amount":{"value":1.5}}`}, {1, `[]`}, {2, `null`}, {3, `{"reason":"x","extra":1}`},
	} {
		f.Add(seed.route, []byte(seed.body))
	}
	var keys atomic.Int64
	counts := `SELECT (SELECT count(*) FROM payments) + (SELECT count(*) FROM refunds) + (SELECT count(*) FROM credit_notes)
		+ (SELECT count(*) FROM postings) + (SELECT count(*) FROM outbox) + (SELECT count(*) FROM invoices WHERE status = 'void')`
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		before := s.Count(t, counts)
		path := routes[int(route)%len(routes)]
		r := s.Do(t, httpx.RoleAdmin, http.MethodPost, path, body, "Idempotency-Key", fmt.Sprintf("fuzz-%d", keys.Add(1)))
		if r.Status >= 500 {
			t.Fatalf("%s answered %d to %q: %s", path, r.Status, body, r.Body)
		}
		if r.Status >= 400 {
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("%s answered %d as %q", path, r.Status, ct)
			}
			// The relay may have drained the outbox meanwhile, but only of
			// events committed before this request: a refusal adds nothing.
			if after := s.Count(t, counts); after > before {
				t.Fatalf("%s refused %q with %d but changed something (%d rows, was %d)", path, body, r.Status, after, before)
			}
		}
	})
}
