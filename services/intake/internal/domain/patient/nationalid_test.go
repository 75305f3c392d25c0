package patient_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation/validationtest"

	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
)

func TestCNResidentCheckChar(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"11010519491231002X", "440304200002291236", cnID("310101", "19991231", "123")} {
		c, ok := patient.CNResidentCheckChar(id[:17])
		require.True(t, ok)
		require.Equal(t, id[17], c, id)
	}
	_, ok := patient.CNResidentCheckChar("1101051949123100")
	require.False(t, ok)
	_, ok = patient.CNResidentCheckChar("1101051949123100A")
	require.False(t, ok)
}

func TestParseNationalID(t *testing.T) {
	t.Parallel()
	birth := func(s string) time.Time {
		d, err := time.Parse("20060102", s)
		require.NoError(t, err)
		return d
	}
	tests := []struct {
		name    string
		typ     string
		value   string
		birth   time.Time
		want    string // normalised value when valid
		field   string
		message string
	}{
		{"cn sample with X", "cn_resident", "11010519491231002X", birth("19491231"), "11010519491231002X", "", ""},
		{"cn lower-case x, spaces", "cn_resident", " 11010519491231002x ", birth("19491231"), "11010519491231002X", "", ""},
		{"cn born on Feb 29", "cn_resident", "440304200002291236", birth("20000229"), "440304200002291236", "", ""},
		{"cn computed", "cn_resident", cnID("310101", "19991231", "123"), birth("19991231"), cnID("310101", "19991231", "123"), "", ""},
		{"cn birth date in another zone", "cn_resident", "11010519491231002X",
			time.Date(1949, 12, 31, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)), "11010519491231002X", "", ""},
		{"cn without birth date to compare", "cn_resident", "11010519491231002X", time.Time{}, "11010519491231002X", "", ""},
		{"cn wrong check digit", "cn_resident", "110105194912310021", birth("19491231"), "", "national_id.value", "check digit does not match"},
		{"cn wrong check X", "cn_resident", wrongCheck("440304200002291236")[:17] + "X", birth("20000229"), "", "national_id.value", "check digit does not match"},
		{"cn other birth date", "cn_resident", "11010519491231002X", birth("19500101"), "", "national_id.value",
			"embedded birth date does not match birth_date"},
		{"cn impossible date", "cn_resident", cnID("110105", "19490230", "002"), birth("19490228"), "", "national_id.value",
			"embedded birth date is not a valid date"},
		{"cn Feb 29 of a common year", "cn_resident", cnID("110105", "19490229", "002"), birth("19490228"), "", "national_id.value",
			"embedded birth date is not a valid date"},
		{"cn 17 chars", "cn_resident", "11010519491231002", birth("19491231"), "", "national_id.value",
			"must be 18 characters: 17 digits and a check digit (0-9 or X)"},
		{"cn 19 chars", "cn_resident", "11010519491231002X1", birth("19491231"), "", "national_id.value",
			"must be 18 characters: 17 digits and a check digit (0-9 or X)"},
		{"cn letter inside", "cn_resident", "1101051949123100AX", birth("19491231"), "", "national_id.value",
			"must be 18 characters: 17 digits and a check digit (0-9 or X)"},
		{"cn 15-digit old format", "cn_resident", "110105491231002", birth("19491231"), "", "national_id.value",
			"must be 18 characters: 17 digits and a check digit (0-9 or X)"},
		{"hk with parentheses", "hk_id", "A123456(7)", time.Time{}, "A123456(7)", "", ""},
		{"hk without parentheses", "hk_id", "a1234567", time.Time{}, "A123456(7)", "", ""},
		{"hk two letters, check A", "hk_id", "XY987654(A)", time.Time{}, "XY987654(A)", "", ""},
		{"hk unbalanced", "hk_id", "Z654321(0", time.Time{}, "", "national_id.value", ""},
		{"hk three letters", "hk_id", "ABC123456(7)", time.Time{}, "", "national_id.value", ""},
		{"hk five digits", "hk_id", "A12345(7)", time.Time{}, "", "national_id.value", ""},
		{"hk check B", "hk_id", "A123456(B)", time.Time{}, "", "national_id.value", ""},
		{"passport", "passport", " e12345678 ", time.Time{}, "E12345678", "", ""},
		{"passport 5", "passport", "AB123", time.Time{}, "AB123", "", ""},
		{"passport 4", "passport", "AB12", time.Time{}, "", "national_id.value", "must be 5 to 20 letters or digits"},
		{"passport 21", "passport", strings.Repeat("A", 21), time.Time{}, "", "national_id.value", "must be 5 to 20 letters or digits"},
		{"passport dash", "passport", "E123-4567", time.Time{}, "", "national_id.value", "must be 5 to 20 letters or digits"},
		{"other", "other", "tw-a123456789", time.Time{}, "TW-A123456789", "", ""},
		{"other unicode", "other", "澳门 1234567(8)", time.Time{}, "澳门 1234567(8)", "", ""},
		{"other 64", "other", strings.Repeat("9", 64), time.Time{}, strings.Repeat("9", 64), "", ""},
		{"other 65", "other", strings.Repeat("9", 65), time.Time{}, "", "national_id.value", "is longer than 64 characters"},
		{"other control", "other", "12\t34", time.Time{}, "", "national_id.value", "contains characters that are not printable"},
		{"empty", "passport", "   ", time.Time{}, "", "national_id.value", "is required"},
		{"invalid utf-8", "other", "\xff\xfe", time.Time{}, "", "national_id.value", "is not valid UTF-8"},
		{"no type", "", "E12345678", time.Time{}, "", "national_id.type", "is required"},
		{"unknown type", "ssn", "E12345678", time.Time{}, "", "national_id.type", "must be one of cn_resident, hk_id, passport, other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := patient.ParseNationalID(tc.typ, tc.value, tc.birth)
			if tc.field == "" {
				require.NoError(t, err)
				require.Equal(t, patient.NationalIDType(tc.typ), n.Type)
				require.Equal(t, tc.want, n.Value)
				return
			}
			ve := validationtest.RequireValidation(t, err, tc.field)
			if tc.message != "" {
				require.Equal(t, tc.message, ve.Fields[0].Message)
			}
			if v := strings.TrimSpace(tc.value); len(v) > 3 {
				require.NotContains(t, ve.Error(), v)
			}
		})
	}
}

func TestParseNationalIDReportsBothCNRules(t *testing.T) {
	t.Parallel()
	_, err := patient.ParseNationalID("cn_resident", "110105194912310021", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC))
	ve := validationtest.RequireValidation(t, err, "national_id.value", "national_id.value")
	require.Equal(t, "check digit does not match", ve.Fields[0].Message)
	require.Equal(t, "embedded birth date does not match birth_date", ve.Fields[1].Message)
}

func FuzzParseNationalID(f *testing.F) {
	for _, s := range []struct{ typ, value string }{
		{"cn_resident", "11010519491231002X"}, {"cn_resident", "110105194912310021"}, {"cn_resident", "11010519490230002X"},
		{"hk_id", "A123456(7)"}, {"hk_id", "AB1234567"}, {"passport", "E12345678"}, {"other", "澳门 1234567(8)"},
		{"other", "\xff"}, {"", ""}, {"cn_resident", " 11010519491231002x "},
	} {
		f.Add(s.typ, s.value, int64(-639_000_000))
	}
	f.Fuzz(func(t *testing.T, typ, value string, birthUnix int64) {
		birth := time.Unix(birthUnix%(400*365*86400), 0).UTC().Truncate(24 * time.Hour)
		n, err := patient.ParseNationalID(typ, value, birth)
		if err != nil {
			var ve *patient.ValidationError
			require.True(t, errors.As(err, &ve), "not a validation error: %v", err)
			require.NotEmpty(t, ve.Fields)
			for _, fe := range ve.Fields {
				require.Contains(t, []string{"national_id.type", "national_id.value"}, fe.Field)
				require.NotEmpty(t, fe.Message)
			}
			return
		}
		require.True(t, utf8.ValidString(n.Value))
		require.NotEmpty(t, n.Value)
		require.Equal(t, strings.ToUpper(n.Value), n.Value)
		// Normalisation is idempotent: a stored id parses to itself.
		again, err := patient.ParseNationalID(string(n.Type), n.Value, birth)
		require.NoError(t, err)
		require.Equal(t, n, again)
		if n.Type == patient.NationalIDCNResident {
			c, ok := patient.CNResidentCheckChar(n.Value[:17])
			require.True(t, ok)
			require.Equal(t, c, n.Value[17])
		}
	})
}
