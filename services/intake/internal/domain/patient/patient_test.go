package patient_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
)

func valid() patient.Details {
	return patient.Details{
		FamilyName: "王", GivenName: "小明",
		BirthDate: time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC),
		Sex:       patient.SexMale, Phone: "+8613800138000", Email: "xm@example.cn", PreferredLanguage: "zh-CN",
	}
}

func TestNewPatient(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		modify func(*patient.Details)
		field  string
	}{
		{"valid", func(*patient.Details) {}, ""},
		{"chinese names trimmed", func(d *patient.Details) { d.FamilyName = " 欧阳 " }, ""},
		{"missing family name", func(d *patient.Details) { d.FamilyName = "  " }, "family_name"},
		{"missing given name", func(d *patient.Details) { d.GivenName = "" }, "given_name"},
		{"control char", func(d *patient.Details) { d.GivenName = "a\x00b" }, "given_name"},
		{"future birth", func(d *patient.Details) { d.BirthDate = now.AddDate(0, 0, 1) }, "birth_date"},
		{"no birth date", func(d *patient.Details) { d.BirthDate = time.Time{} }, "birth_date"},
		{"bad sex", func(d *patient.Details) { d.Sex = "x" }, "sex"},
		{"bad phone", func(d *patient.Details) { d.Phone = "13800138000" }, "phone"},
		{"bad email", func(d *patient.Details) { d.Email = "a@" }, "email"},
		{"bad language", func(d *patient.Details) { d.PreferredLanguage = "chinese!" }, "preferred_language"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := valid()
			tc.modify(&d)
			p, err := patient.NewPatient(uuid.New(), d, now)
			if tc.field == "" {
				require.NoError(t, err)
				require.Equal(t, int64(1), p.Version())
				return
			}
			var ve *patient.ValidationError
			require.True(t, errors.As(err, &ve), "want a validation error, got %v", err)
			require.Equal(t, tc.field, ve.Fields[0].Field)
		})
	}
}

func TestDefaultLanguage(t *testing.T) {
	t.Parallel()
	d := valid()
	d.PreferredLanguage = ""
	p, err := patient.NewPatient(uuid.New(), d, time.Now())
	require.NoError(t, err)
	require.Equal(t, "zh-CN", p.Details().PreferredLanguage)
}
