package ports

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/clinicops/clinicops/pkg/validation"
)

func decodeStrict(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

// FuzzRequestBodies feeds arbitrary bodies through every request DTO's
// conversion: it must never panic, and every rejection after decoding must
// be a validation error (a 4xx), never something that would be a 500.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"patient_id":"0192f3c4-0000-7000-8000-000000000001","kind":"consultation","resource_id":"0192f3c4-0000-7000-8000-000000000002","start":"2026-12-01T09:00:00+08:00","end":"2026-12-01T09:30:00+08:00"}`,
		`{"start":"2026-12-01T09:00:00Z","scope":"following"}`, `{"reason":"patient request"}`,
		`{"product_id":"G123426000001W","patient_id":"0192f3c4-0000-7000-8000-000000000001","birth_date":"1970-01-02","dose_cells":100000000}`,
		`{"viability_pct":95,"purity_pct":93,"endotoxin_eu_per_ml":1,"sterility":"negative","mycoplasma":"negative"}`,
		`{"program":"msc","din":"G123426900001R","donor_id":"D-1","doses":3,"collected_at":"2026-11-20T08:00:00+08:00","infection_tests_on":"2026-11-01","expires_at":"2027-05-01T00:00:00Z"}`,
		`{"hours":[{"weekday":"mon","opens":"08:30","closes":"17:30"}]}`, `{"date":"2027-02-06","reason":"x"}`,
		`{"kind":"infusion_chair","name":"Chair 9"}`, `{}`, `{"start":"2026-02-30T09:00:00Z"}`,
	} {
		f.Add([]byte(seed))
	}
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var errs []error
		var book bookRequest
		if decodeStrict(body, &book) == nil {
			_, err := book.toAdHoc()
			errs = append(errs, err)
		}
		var rs rescheduleRequest
		if decodeStrict(body, &rs) == nil {
			_, _, err := rs.parse()
			errs = append(errs, err)
		}
		var reason reasonRequest
		if decodeStrict(body, &reason) == nil {
			_, err := reason.parse()
			errs = append(errs, err)
		}
		var done completeRequest
		if decodeStrict(body, &done) == nil {
			_, err := done.toInfusion()
			errs = append(errs, err)
		}
		var qc releaseRequest
		if decodeStrict(body, &qc) == nil {
			_, err := qc.toQC()
			errs = append(errs, err)
		}
		var lot lotRequest
		if decodeStrict(body, &lot) == nil {
			_, err := lot.toLot(loc)
			errs = append(errs, err)
		}
		var hours hoursRequest
		if decodeStrict(body, &hours) == nil {
			_, err := hours.toHours(loc)
			errs = append(errs, err)
		}
		var closure closureRequest
		if decodeStrict(body, &closure) == nil {
			_, err := closure.toClosure()
			errs = append(errs, err)
		}
		var res resourceRequest
		if decodeStrict(body, &res) == nil {
			_, _, _, err := res.parse()
			errs = append(errs, err)
		}
		for _, err := range errs {
			var ve *validation.Error
			if err != nil && !errors.As(err, &ve) {
				t.Fatalf("non-validation error for %q: %v", body, err)
			}
		}
	})
}

// TestClinicDayAcrossDST: the list's date filter is local midnight to the
// next local midnight, 23 hours on Berlin's spring-forward day.
func TestClinicDayAcrossDST(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	from, to := clinicDay(time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), berlin)
	if want := time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC); !from.Equal(want) {
		t.Fatalf("from %s, want %s", from, want)
	}
	if got := to.Sub(from); got != 23*time.Hour {
		t.Fatalf("the day lasts %s, want 23h", got)
	}
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	from, to = clinicDay(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), shanghai)
	if want := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC); !from.Equal(want) || to.Sub(from) != 24*time.Hour {
		t.Fatalf("Shanghai day %s-%s", from, to)
	}
}
