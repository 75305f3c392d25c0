package ports

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/clinicops/clinicops/pkg/httpx"
)

// FuzzReferenceRequests feeds arbitrary bodies through the price list and
// policy requests' conversion: it must never panic, and every rejection
// after decoding must map to a 4xx problem, never to something that would
// be a 500.
func FuzzReferenceRequests(f *testing.F) {
	for _, seed := range []string{
		`{"program":"msc","protocol_version":"MSC-2027.1","valid_from":"2027-01-01","currency":"CNY","course_price":{"value":3000000,"currency":"CNY"},"deposit":{"value":1000000,"currency":"CNY"},"instalments":[{"phase":"treatment","amount":{"value":1000000,"currency":"CNY"},"count":2}],"lab_fee":{"value":0,"currency":"CNY"},"per_infusion":{"value":300000,"currency":"CNY"},"tax_rate_bp":600,"supersedes":"2026-01-01"}`,
		`{"program":"msc","protocol_version":"v","valid_from":"2027-01-01","valid_to":"2026-01-01","currency":"XXX","course_price":{"value":-1,"currency":"USD"},"deposit":{"value":9223372036854775807,"currency":"CNY"},"lab_fee":{"value":9223372036854775807,"currency":"CNY"},"per_infusion":{"value":9223372036854775807,"currency":"CNY"},"instalments":[{"phase":"a","amount":{"value":9223372036854775807,"currency":"CNY"},"count":2147483647},{"phase":"a","amount":{"value":1,"currency":"CNY"},"count":0}]}`,
		`{"before_culture":{"refund_share_bp":10000},"culture_started":{"forfeit_lab_fee":true,"refund_share_bp":9000,"rest_to":"forfeit"},"infusions_given":{"keep_infusions":true,"refund_share_bp":5000,"rest_to":"account_credit"},"keep_lab_fee_on_product_failure":true}`,
		`{"program":"other","before_culture":{"refund_share_bp":-1,"rest_to":"x"},"culture_started":{},"keep_lab_fee_on_product_failure":false}`,
		`{"program":"msc","protocol_version":"v","valid_from":"2027-01-01","currency":"CNY","course_price":{"value":100,"currency":"CNY"},"deposit":{"value":200,"currency":"CNY"},"lab_fee":{"value":0,"currency":"CNY"},"per_infusion":{"value":0,"currency":"CNY"}}`,
		`{"before_culture":{"refund_share_bp":5000,"rest_to":"charity"},"culture_started":{"refund_share_bp":10000},"infusions_given":{"refund_share_bp":10000},"keep_lab_fee_on_product_failure":true}`,
		`{"valid_to":"2027-02-30"}`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var errs []error
		var pl priceListRequest
		if decodeReferenceStrict(body, &pl) == nil {
			_, _, err := pl.toDomain()
			errs = append(errs, err)
		}
		var p policyRequest
		if decodeReferenceStrict(body, &p) == nil {
			_, err := p.toDomain("msc")
			errs = append(errs, err)
		}
		for _, err := range errs {
			if err == nil {
				continue
			}
			var prob *httpx.Problem
			if !errors.As(referenceProblem(err, "valid_from"), &prob) || prob.Status < 400 || prob.Status > 499 {
				t.Fatalf("%v is not a 4xx problem", err)
			}
		}
	})
}

func decodeReferenceStrict(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}
