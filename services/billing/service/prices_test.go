package service_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/httpx"
	"github.com/clinicops/clinicops/pkg/testharness"
)

// priceListJourney is the contract journey's part for the price lists and
// cancellation policies (TestOpenAPIDocumentAgreesWithTheHandlers):
// created, an overlap refused naming the other list, superseded, closed,
// read back, non-admins refused, bad input a 4xx problem; and course, the
// journey's invoiced course, keeps its invoices when its list is
// superseded. Dates keep clear of today, so that the clinic's midnight
// passing during the run changes nothing.
func priceListJourney(t *testing.T, c *testharness.OpenAPIContract, course string) {
	t.Helper()
	const (
		bill  = httpx.RoleBilling
		fd    = httpx.RoleFrontDesk
		admin = httpx.RoleAdmin
	)
	get, post, put := http.MethodGet, http.MethodPost, http.MethodPut
	call := func(role httpx.Role, method, path string, body any, status int, header ...string) testharness.Response {
		return c.Do(t, testharness.Call{Role: role, Method: method, Path: path, Body: body, Status: status, Header: header})
	}
	bad := func(role httpx.Role, method, path string, body any, status int, header ...string) testharness.Response {
		return c.Do(t, testharness.Call{Role: role, Method: method, Path: path, Body: body, Status: status, Header: header, Request: testharness.RequestInvalid})
	}
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	now := time.Now().In(shanghai)
	day := func(n int) string { return now.AddDate(0, 0, n).Format(time.DateOnly) }
	cny := func(v int64) map[string]any { return map[string]any{"value": v, "currency": "CNY"} }
	list := func(program, version, from string) map[string]any {
		return map[string]any{"program": program, "protocol_version": version, "valid_from": from, "currency": "CNY",
			"course_price": cny(3_000_000), "deposit": cny(1_000_000),
			"instalments": []any{map[string]any{"phase": "treatment", "amount": cny(1_000_000), "count": 2}},
			"lab_fee":     cny(200_000), "per_infusion": cny(300_000), "tax_rate_bp": 0}
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	without := func(m map[string]any, k string) map[string]any { out := with(m); delete(out, k); return out }

	// ---- price lists ----
	all := call(fd, get, "/v1/price-lists", nil, 200).JSON(t)["items"].([]any)
	require.Len(t, all, 4, "the seeded lists")
	require.Nil(t, all[0].(map[string]any)["valid_to"])
	require.Len(t, call(bill, get, "/v1/price-lists?program=msc&valid_on="+day(0), nil, 200).JSON(t)["items"], 1)
	require.Empty(t, call(bill, get, "/v1/price-lists?program=msc&valid_on=2025-12-31", nil, 200).JSON(t)["items"])
	bad(bill, get, "/v1/price-lists?valid_on=soon", nil, 400)
	bad(bill, get, "/v1/price-lists?colour=red", nil, 400)

	first := list("contract", "C-1", day(2))
	keyed := call(admin, post, "/v1/price-lists", first, 201, "Idempotency-Key", "pl-1")
	got := keyed.JSON(t)
	require.Equal(t, day(2), got["valid_from"])
	require.Nil(t, got["valid_to"])
	require.EqualValues(t, 1_000_000, got["instalments"].([]any)[0].(map[string]any)["amount"].(map[string]any)["value"])
	// The answer stored with the key (in the edit's transaction) is the list
	// as stored, as a GET shows it, to the update time's last digit.
	require.Equal(t, call(fd, get, "/v1/price-lists/contract/C-1/"+day(2), nil, 200).JSON(t), got)
	replay := call(admin, post, "/v1/price-lists", first, 201, "Idempotency-Key", "pl-1")
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.Equal(t, string(keyed.Body), string(replay.Body), "the first answer, byte for byte")
	call(fd, post, "/v1/price-lists", list("contract", "C-1", day(9)), 403)
	call(bill, post, "/v1/price-lists", list("contract", "C-1", day(9)), 403)

	overlap := call(admin, post, "/v1/price-lists", list("contract", "C-1", day(5)), 409).JSON(t)
	require.Equal(t, map[string]any{"program": "contract", "protocol_version": "C-1", "valid_from": day(2), "valid_to": nil},
		overlap["conflicts_with"], "names the other list")
	call(admin, post, "/v1/price-lists", with(list("contract", "C-1", day(5)), "supersedes", day(3)), 422) // no list from then
	second := call(admin, post, "/v1/price-lists", with(list("contract", "C-1", day(5)), "supersedes", day(2),
		"course_price", cny(3_300_000), "deposit", cny(1_300_000)), 201).JSON(t)
	require.EqualValues(t, 3_300_000, second["course_price"].(map[string]any)["value"])
	path := func(from string) string { return "/v1/price-lists/contract/C-1/" + from }
	closed := call(fd, get, path(day(2)), nil, 200).JSON(t)
	require.Equal(t, day(4), closed["valid_to"], "superseded: closed the day before")
	require.EqualValues(t, 3_000_000, closed["course_price"].(map[string]any)["value"], "its prices as they were")
	call(bill, get, path(day(3)), nil, 404)
	bad(bill, get, "/v1/price-lists/contract/C-1/someday", nil, 400)

	// Bad lists: a 4xx problem each, and nothing stored.
	call(admin, post, "/v1/price-lists", with(list("contract", "C-2", day(2)), "deposit", cny(4_000_000)), 422)
	call(admin, post, "/v1/price-lists", with(list("contract", "C-2", day(2)), "lab_fee", map[string]any{"value": 1, "currency": "USD"}), 422)
	call(admin, post, "/v1/price-lists", with(list("contract", "C-2", day(-1))), 422) // history
	call(admin, post, "/v1/price-lists", with(list("contract", "C-2", day(2)), "valid_to", day(1)), 422)
	bad(admin, post, "/v1/price-lists", without(list("contract", "C-2", day(2)), "course_price"), 422)
	bad(admin, post, "/v1/price-lists", with(list("contract", "C-2", day(2)), "deposit", map[string]any{"value": 1.5, "currency": "CNY"}), 400)
	bad(admin, post, "/v1/price-lists", with(list("contract/x", "C-2", day(2))), 422)
	bad(admin, post, "/v1/price-lists", with(list("contract", "C-2", "1 May")), 422)
	bad(admin, post, "/v1/price-lists", with(list("contract", "C-2", day(2)), "discount", 5), 400)
	require.Empty(t, call(admin, get, "/v1/price-lists?protocol_version=C-2", nil, 200).JSON(t)["items"])

	// Closing: only sooner, never into the days up to today.
	end := call(admin, post, path(day(5))+"/close", map[string]any{"valid_to": day(40)}, 200).JSON(t)
	require.Equal(t, day(40), end["valid_to"])
	call(admin, post, path(day(5))+"/close", map[string]any{"valid_to": day(40)}, 200) // again: nothing changes
	call(admin, post, path(day(5))+"/close", map[string]any{"valid_to": day(50)}, 409)
	call(admin, post, path(day(5))+"/close", map[string]any{"valid_to": day(3)}, 422) // before it starts
	call(admin, post, "/v1/price-lists/nk-autologous/NK-AUTO-2026.1/2026-01-01/close", map[string]any{"valid_to": day(-1)}, 422)
	call(admin, post, path(day(6))+"/close", map[string]any{"valid_to": day(40)}, 404)
	bad(admin, post, path(day(5))+"/close", map[string]any{"valid_to": "never"}, 422)
	call(fd, post, path(day(5))+"/close", map[string]any{"valid_to": day(30)}, 403)

	// The journey's course keeps its invoices when its list is superseded.
	owed := func() int64 {
		var sum int64
		for _, inv := range call(bill, get, "/v1/invoices?course_id="+course, nil, 200).JSON(t)["items"].([]any) {
			sum += int64(inv.(map[string]any)["total"].(map[string]any)["value"].(float64))
		}
		return sum
	}
	require.EqualValues(t, 5_200_000, owed())
	nk := call(admin, get, "/v1/price-lists/nk-autologous/NK-AUTO-2026.1/2026-01-01", nil, 200).JSON(t)
	dearer := with(nk, "valid_from", day(3), "supersedes", "2026-01-01", "course_price", cny(6_200_000), "deposit", cny(2_200_000))
	delete(dearer, "valid_to")
	delete(dearer, "updated_at")
	call(admin, post, "/v1/price-lists", dearer, 201)
	require.Equal(t, day(2), call(fd, get, "/v1/price-lists/nk-autologous/NK-AUTO-2026.1/2026-01-01", nil, 200).JSON(t)["valid_to"])
	require.EqualValues(t, 5_200_000, owed(), "an invoice keeps the prices it was issued with")

	// ---- cancellation policies ----
	policies := call(fd, get, "/v1/cancellation-policies", nil, 200).JSON(t)["items"].([]any)
	require.Len(t, policies, 4)
	msc := call(bill, get, "/v1/cancellation-policies/msc", nil, 200).JSON(t)
	require.EqualValues(t, 10_000, msc["before_culture"].(map[string]any)["refund_share_bp"])
	call(bill, get, "/v1/cancellation-policies/no-such-program", nil, 404)
	rule := func(share int, rest any) map[string]any {
		return map[string]any{"forfeit_lab_fee": true, "keep_infusions": true, "refund_share_bp": share, "rest_to": rest}
	}
	pol := map[string]any{"before_culture": rule(10_000, nil), "culture_started": rule(9_000, "forfeit"),
		"infusions_given": rule(5_000, "account_credit"), "keep_lab_fee_on_product_failure": true}
	created := call(admin, put, "/v1/cancellation-policies/contract", pol, 201).JSON(t)
	require.Equal(t, "contract", created["program"])
	require.Equal(t, "forfeit", created["culture_started"].(map[string]any)["rest_to"])
	pol["keep_lab_fee_on_product_failure"] = false
	replaced := call(admin, put, "/v1/cancellation-policies/contract", with(pol, "program", "contract"), 200).JSON(t)
	require.Equal(t, false, replaced["keep_lab_fee_on_product_failure"])
	require.Equal(t, replaced, call(fd, get, "/v1/cancellation-policies/contract", nil, 200).JSON(t))
	call(admin, put, "/v1/cancellation-policies/no-prices", pol, 422) // no price list of the program
	call(admin, put, "/v1/cancellation-policies/contract", with(pol, "program", "msc"), 422)
	call(admin, put, "/v1/cancellation-policies/contract", with(pol, "culture_started", rule(9_000, nil)), 422) // the rest goes nowhere
	bad(admin, put, "/v1/cancellation-policies/contract", with(pol, "before_culture", rule(20_000, nil)), 422)
	bad(admin, put, "/v1/cancellation-policies/contract", with(pol, "before_culture", rule(5_000, "charity")), 422)
	bad(admin, put, "/v1/cancellation-policies/contract", without(pol, "infusions_given"), 422)
	bad(admin, put, "/v1/cancellation-policies/contract", with(pol, "before_culture", map[string]any{"forfeit_lab_fee": true}), 422)
	call(bill, put, "/v1/cancellation-policies/contract", pol, 403)
	call(fd, put, "/v1/cancellation-policies/contract", pol, 403)
	require.Equal(t, false, call(fd, get, "/v1/cancellation-policies/contract", nil, 200).JSON(t)["keep_lab_fee_on_product_failure"],
		"the refused puts changed nothing")
}
