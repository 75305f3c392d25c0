package service_test

// The OpenAPI document (api/openapi.yaml, served at GET /openapi.yaml) and
// the handlers must agree: testharness.CheckOpenAPI drives billing through
// real HTTP and checks every exchange against the document, the routes and
// the roles (see its doc comment). This journey: an account, a course
// invoiced from scheduling's plan, the deposit paid (allocated), the rest
// paid with an overpayment, and the refusals.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
	"github.com/clinicops/clinicops/services/billing/api"
	"github.com/clinicops/clinicops/services/billing/service"
)

func TestOpenAPIDocumentAgreesWithTheHandlers(t *testing.T) {
	t.Parallel()
	s := testharness.StartService(t, service.Service)
	require.NoError(t, service.Service.Seed(context.Background(), s.Runtime))
	id, course := uuid.NewString(), uuid.NewString()
	registered(t, s, id)
	planned(t, s, id, course)

	testharness.CheckOpenAPI(t, s, api.OpenAPI, func(c *testharness.OpenAPIContract) {
		const (
			bill  = httpx.RoleBilling
			fd    = httpx.RoleFrontDesk
			admin = httpx.RoleAdmin
			nurse = httpx.RoleNurse
		)
		get, post := http.MethodGet, http.MethodPost
		call := func(role httpx.Role, method, path string, body any, status int, header ...string) testharness.Response {
			return c.Do(t, testharness.Call{Role: role, Method: method, Path: path, Body: body, Status: status, Header: header})
		}
		bad := func(role httpx.Role, method, path string, body any, status int, header ...string) {
			c.Do(t, testharness.Call{Role: role, Method: method, Path: path, Body: body, Status: status, Header: header, Request: testharness.RequestInvalid})
		}

		// ---- the account ----
		path := "/v1/accounts/" + id
		got := call(bill, get, path, nil, 200).JSON(t)
		require.Equal(t, "CNY", got["currency"], "the default currency")
		require.EqualValues(t, 5_200_000, got["balance"].(map[string]any)["owed"].(map[string]any)["value"], "the course is invoiced")
		bad(fd, get, "/v1/accounts/42", nil, 400)
		call(admin, get, "/v1/accounts/"+uuid.NewString(), nil, 404)
		call(nurse, get, path, nil, 403)
		c.Do(t, testharness.Call{Method: get, Path: path, Request: testharness.RequestInvalid, Status: 401})
		c.Do(t, testharness.Call{Auth: "Bearer cop_not-a-token", Method: get, Path: path, Status: 401})

		// ---- invoices ----
		list := call(fd, get, "/v1/invoices?course_id="+course, nil, 200).JSON(t)["items"].([]any)
		require.Len(t, list, 6)
		deposit := list[0].(map[string]any)
		require.Equal(t, "deposit", deposit["kind"])
		require.Equal(t, "issued", deposit["status"])
		require.Regexp(t, `^INV-\d{4}-\d{6}$`, deposit["number"])
		call(bill, get, "/v1/invoices?patient_id="+id+"&status=paid", nil, 200)
		bad(bill, get, "/v1/invoices?status=lost&patient_id="+id, nil, 400)
		call(bill, get, "/v1/invoices", nil, 400)
		depositID := deposit["id"].(string)
		one := call(admin, get, "/v1/invoices/"+depositID, nil, 200).JSON(t)
		require.EqualValues(t, 1_200_000, one["amount_due"].(map[string]any)["value"])
		bad(bill, get, "/v1/invoices/x", nil, 400)
		call(bill, get, "/v1/invoices/"+uuid.NewString(), nil, 404)

		priceListJourney(t, c, course) // price lists and cancellation policies (prices_test.go)

		// ---- payments ----
		cny := func(v int64) map[string]any { return map[string]any{"value": v, "currency": "CNY"} }
		payment := func(ref string, v int64) map[string]any {
			return map[string]any{"patient_id": id, "amount": cny(v), "method": "card", "external_reference": ref,
				"received_at": time.Now().UTC().Format(time.RFC3339)}
		}
		dep := payment("POS-1", 1_200_000)
		dep["allocations"] = []any{map[string]any{"invoice_id": depositID, "amount": cny(1_200_000)}}
		paid := call(bill, post, "/v1/payments", dep, 201, "Idempotency-Key", "pay-1").JSON(t)
		require.Equal(t, "INV-", paid["allocations"].([]any)[0].(map[string]any)["number"].(string)[:4])
		replay := call(bill, post, "/v1/payments", dep, 201, "Idempotency-Key", "pay-1")
		require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
		call(bill, post, "/v1/payments", dep, 409, "Idempotency-Key", "pay-1-again") // the same reference
		bad(bill, post, "/v1/payments", payment("POS-2", 100), 400)                  // no Idempotency-Key
		call(bill, post, "/v1/payments", payment("POS-3", 0), 422, "Idempotency-Key", "pay-3")
		call(bill, post, "/v1/payments", payment("POS-4", -500), 422, "Idempotency-Key", "pay-4")
		usd := payment("POS-5", 100)
		usd["amount"] = map[string]any{"value": 100, "currency": "USD"}
		call(bill, post, "/v1/payments", usd, 422, "Idempotency-Key", "pay-5")
		fraction := payment("POS-6", 100)
		fraction["amount"] = map[string]any{"value": 1.5, "currency": "CNY"}
		bad(bill, post, "/v1/payments", fraction, 400, "Idempotency-Key", "pay-6")
		rest := call(bill, post, "/v1/payments", payment("POS-7", 4_100_000), 201, "Idempotency-Key", "pay-7").JSON(t)
		require.EqualValues(t, 100_000, rest["to_account_credit"].(map[string]any)["value"])
		require.Equal(t, "paid", call(bill, get, "/v1/invoices/"+depositID, nil, 200).JSON(t)["status"])
		balance := call(fd, get, path, nil, 200).JSON(t)["balance"].(map[string]any)
		require.EqualValues(t, 0, balance["owed"].(map[string]any)["value"])
		require.EqualValues(t, 100_000, balance["account_credit"].(map[string]any)["value"])
		call(fd, post, "/v1/payments", payment("POS-8", 100), 403, "Idempotency-Key", "pay-8")

		// ---- refunds ----
		refund := func(v int64, reason string) map[string]any {
			return map[string]any{"patient_id": id, "invoice_id": depositID, "amount": cny(v), "reason": reason}
		}
		issued := call(bill, post, "/v1/refunds", refund(50_000, "goodwill"), 201, "Idempotency-Key", "ref-1").JSON(t)
		require.Equal(t, "issued", issued["status"])
		call(bill, post, "/v1/refunds", refund(100, "goodwill"), 409, "Idempotency-Key", "ref-2")       // the same reason
		call(bill, post, "/v1/refunds", refund(5_000_000, "too much"), 409, "Idempotency-Key", "ref-3") // above what was paid
		pending := call(bill, post, "/v1/refunds", refund(1_100_000, "patient_request"), 201, "Idempotency-Key", "ref-4").JSON(t)
		require.Equal(t, "pending_approval", pending["status"], "above the approval limit")
		approved := call(admin, post, "/v1/refunds/"+pending["id"].(string)+"/approve", nil, 200).JSON(t)
		require.Equal(t, "issued", approved["status"])
		call(admin, post, "/v1/refunds/"+pending["id"].(string)+"/approve", nil, 409)
		call(admin, post, "/v1/refunds/"+uuid.NewString()+"/approve", nil, 404)
		bad(admin, post, "/v1/refunds/x/approve", nil, 400)
		bad(bill, post, "/v1/refunds", map[string]any{"patient_id": id, "invoice_id": "x", "amount": cny(1), "reason": "r"}, 422, "Idempotency-Key", "ref-5")

		// ---- credit notes ----
		last := list[5].(map[string]any)["id"].(string) // cycle 6's instalment, paid by POS-7
		note := func(total, reduce, back, toCredit int64, reason string) map[string]any {
			return map[string]any{"patient_id": id, "invoice_id": last, "total": cny(total), "reduce_owed": cny(reduce),
				"refund": cny(back), "to_account_credit": cny(toCredit), "reason": reason}
		}
		cn := call(bill, post, "/v1/credit-notes", note(300_000, 0, 100_000, 200_000, "goodwill"), 201, "Idempotency-Key", "cn-1").JSON(t)
		require.Regexp(t, `^CN-\d{4}-\d{6}$`, cn["number"])
		require.Equal(t, list[5].(map[string]any)["number"], cn["invoice_number"])
		call(bill, post, "/v1/credit-notes", note(300_000, 0, 100_000, 100_000, "parts"), 422, "Idempotency-Key", "cn-2") // do not add up
		call(bill, post, "/v1/credit-notes", note(100, 0, 100, 0, "goodwill"), 409, "Idempotency-Key", "cn-3")            // the same reason
		call(bill, post, "/v1/credit-notes", note(100, 100, 0, 0, "owed"), 409, "Idempotency-Key", "cn-4")                // nothing is owed
		call(admin, post, "/v1/credit-notes", note(600_000, 0, 600_000, 0, "too much"), 409, "Idempotency-Key", "cn-5")   // above what is held
		call(fd, post, "/v1/credit-notes", note(100, 0, 100, 0, "front desk"), 403, "Idempotency-Key", "cn-6")            // not the desk's
		bad(bill, post, "/v1/credit-notes", map[string]any{"patient_id": id, "invoice_id": last, "reason": "r"}, 422, "Idempotency-Key", "cn-7")
		notes := call(fd, get, "/v1/credit-notes?patient_id="+id, nil, 200).JSON(t)["items"].([]any)
		require.Len(t, notes, 1)
		call(bill, get, "/v1/credit-notes", nil, 400)
		bad(bill, get, "/v1/credit-notes?course_id=x", nil, 400)
		inv := call(bill, get, "/v1/invoices/"+last, nil, 200).JSON(t)
		require.EqualValues(t, 100_000, inv["refunded"].(map[string]any)["value"])
		require.EqualValues(t, 200_000, inv["moved_to_account_credit"].(map[string]any)["value"])

		// ---- a refund of account credit (100.00 overpaid + 2,000.00 from the note) ----
		fromCredit := func(v int64, reason string) map[string]any {
			return map[string]any{"patient_id": id, "amount": cny(v), "reason": reason}
		}
		paidOut := call(bill, post, "/v1/refunds", fromCredit(250_000, "credit paid out"), 201, "Idempotency-Key", "ref-6").JSON(t)
		require.Nil(t, paidOut["invoice_id"])
		call(bill, post, "/v1/refunds", fromCredit(100_000, "the rest"), 409, "Idempotency-Key", "ref-7") // 500.00 left
		require.EqualValues(t, 50_000, call(fd, get, path, nil, 200).JSON(t)["balance"].(map[string]any)["account_credit"].(map[string]any)["value"])

		// ---- voiding: a second course's unpaid deposit ----
		second := uuid.NewString()
		planned(t, s, id, second)
		unpaid := call(fd, get, "/v1/invoices?course_id="+second, nil, 200).JSON(t)["items"].([]any)[0].(map[string]any)
		voidPath := "/v1/invoices/" + unpaid["id"].(string) + "/void"
		call(fd, post, voidPath, map[string]any{"reason": "front desk"}, 403)
		bad(bill, post, voidPath, map[string]any{"reason": ""}, 422)
		bad(bill, post, voidPath, map[string]any{"why": "r"}, 400)
		voided := call(bill, post, voidPath, map[string]any{"reason": "planned twice"}, 200, "Idempotency-Key", "void-1").JSON(t)
		require.Equal(t, "void", voided["status"])
		require.Equal(t, unpaid["number"], voided["number"], "a voided invoice keeps its number")
		require.Equal(t, unpaid["amount_due"], voided["amount_voided"])
		require.Equal(t, "true", call(bill, post, voidPath, map[string]any{"reason": "planned twice"}, 200, "Idempotency-Key", "void-1").
			Header.Get("Idempotent-Replayed"))
		call(bill, post, voidPath, map[string]any{"reason": "again"}, 409)                                // void already
		call(admin, post, "/v1/invoices/"+depositID+"/void", map[string]any{"reason": "paid"}, 409)       // paid
		call(bill, post, "/v1/invoices/"+uuid.NewString()+"/void", map[string]any{"reason": "none"}, 404) // no such invoice
		bad(bill, post, "/v1/invoices/x/void", map[string]any{"reason": "r"}, 400)
		require.Equal(t, "void", call(fd, get, "/v1/invoices/"+unpaid["id"].(string), nil, 200).JSON(t)["status"])

		// ---- the ledger check ----
		check := call(admin, get, "/v1/ledger/check", nil, 200).JSON(t)
		require.Equal(t, true, check["ok"], "%v", check["violations"])
		require.EqualValues(t, 23, check["postings"], "twelve invoices, two payments, three refunds granted and paid out, "+
			"a credit note and its refund paid out, a void")
	})
}
