package ports

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
)

func decodeStrict(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

// FuzzPatientRequest feeds arbitrary bodies through the registration
// decoder, the DTO conversion and the domain: it must never panic, and
// every rejection after decoding must be a validation error (a 4xx).
func FuzzPatientRequest(f *testing.F) {
	for _, seed := range []string{
		`{"family_name":"王","given_name":"小明","birth_date":"1980-05-17","sex":"male","phone":"+8613800138000"}`,
		`{"family_name":"诸葛","given_name":"孔明","birth_date":"1949-12-31","sex":"male","national_id":{"type":"cn_resident","value":"11010519491231002X"}}`,
		`{"family_name":"A","given_name":"B","birth_date":"2000-02-29","sex":"other","address":{"line1":"1 Road","country":"CN"},"emergency_contact":{"name":"C","phone":"+85291234567"}}`,
		`{"family_name":"A","given_name":"B","birth_date":"2000-02-29","sex":"other","time_zone":"Europe/Berlin"}`,
		`{"birth_date":"2023-02-30"}`, `{}`, `null`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req patientRequest
		if err := decodeStrict(body, &req); err != nil {
			return // the strict decoder answers 400; fuzzed in pkg/httpx
		}
		d, err := req.toDetails()
		if err == nil {
			_, err = patient.NewPatient(uuid.New(), d, now)
		}
		var ve *validation.Error
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("non-validation error for %q: %v", body, err)
		}
	})
}

// FuzzPatientPatch does the same for PATCH bodies applied to a patient.
func FuzzPatientPatch(f *testing.F) {
	for _, seed := range []string{`{"phone":null}`, `{"address":{"line1":"x","country":"cn"}}`, `{"national_id":null,"sex":"female"}`, `{"birth_date":"x"}`, `{"time_zone":"Local"}`, `{"time_zone":null}`} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	base, err := patient.NewPatient(uuid.New(), patient.Details{FamilyName: "王", GivenName: "芳", Sex: patient.SexFemale,
		BirthDate: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Phone: "+8613800138000"}, now)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p patientPatch
		if err := decodeStrict(body, &p); err != nil {
			return
		}
		d, err := p.apply(base.Details())
		if err == nil {
			cp := patient.UnmarshalPatientFromDatabase(base.ID(), base.Details(), base.Version(), base.CreatedAt(), base.UpdatedAt())
			err = cp.Update(d, base.Version(), now)
		}
		var ve *validation.Error
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("non-validation error for %q: %v", body, err)
		}
	})
}
