package patient_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation/validationtest"

	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
)

func valid() patient.Details {
	return patient.Details{
		FamilyName: "王", GivenName: "小明",
		BirthDate: time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC),
		Sex:       patient.SexMale, Phone: "+8613800138000", Email: "xm@example.cn", PreferredLanguage: "zh-CN",
	}
}

func full() patient.Details {
	d := valid()
	d.NationalID = &patient.NationalID{Type: patient.NationalIDCNResident, Value: cnID("110105", "19800517", "001")}
	d.Address = &patient.Address{Line1: "朝阳区建国路 88 号", City: "北京", PostalCode: "100022", Country: "CN"}
	d.EmergencyContact = &patient.EmergencyContact{Name: "李华", Relationship: "spouse", Phone: "+8613900139000"}
	return d
}

// cnID builds an 18-character PRC resident id with a correct check character,
// computed here independently of the code under test.
func cnID(region, birth, seq string) string {
	body := region + birth + seq
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(body[i]-'0') * w
	}
	return body + string("10X98765432"[sum%11])
}

// wrongCheck replaces the check character of id with a wrong one.
func wrongCheck(id string) string {
	c := byte('0')
	if id[17] == '0' {
		c = '1'
	}
	return id[:17] + string(c)
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
		{"valid with id, address and contact", func(d *patient.Details) { *d = full() }, ""},
		{"chinese names trimmed", func(d *patient.Details) { d.FamilyName = " 欧阳 " }, ""},
		{"no phone", func(d *patient.Details) { d.Phone = "" }, ""},
		{"no email", func(d *patient.Details) { d.Email = "" }, ""},
		{"missing family name", func(d *patient.Details) { d.FamilyName = "  " }, "family_name"},
		{"missing given name", func(d *patient.Details) { d.GivenName = "" }, "given_name"},
		{"long given name", func(d *patient.Details) { d.GivenName = strings.Repeat("明", 101) }, "given_name"},
		{"invalid utf-8 name", func(d *patient.Details) { d.GivenName = "a\xffb" }, "given_name"},
		{"control char", func(d *patient.Details) { d.GivenName = "a\x00b" }, "given_name"},
		{"future birth", func(d *patient.Details) { d.BirthDate = now.AddDate(0, 0, 1) }, "birth_date"},
		{"no birth date", func(d *patient.Details) { d.BirthDate = time.Time{} }, "birth_date"},
		{"birth before 1900", func(d *patient.Details) { d.BirthDate = time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC) }, "birth_date"},
		{"bad sex", func(d *patient.Details) { d.Sex = "x" }, "sex"},
		{"bad phone", func(d *patient.Details) { d.Phone = "13800138000" }, "phone"},
		{"phone leading zero", func(d *patient.Details) { d.Phone = "+0861380013800" }, "phone"},
		{"bad email", func(d *patient.Details) { d.Email = "a@" }, "email"},
		{"email with display name", func(d *patient.Details) { d.Email = "Wang <xm@example.cn>" }, "email"},
		{"long email", func(d *patient.Details) { d.Email = strings.Repeat("a", 250) + "@x.cn" }, "email"},
		{"bad language", func(d *patient.Details) { d.PreferredLanguage = "chinese!" }, "preferred_language"},
		{"time zone", func(d *patient.Details) { d.TimeZone = "Europe/Berlin" }, ""},
		{"bad time zone", func(d *patient.Details) { d.TimeZone = "Mars/Olympus_Mons" }, "time_zone"},
		{"bad national id type", func(d *patient.Details) {
			d.NationalID = &patient.NationalID{Type: "ssn", Value: "123456789"}
		}, "national_id.type"},
		{"national id check digit", func(d *patient.Details) {
			d.NationalID = &patient.NationalID{Type: patient.NationalIDCNResident, Value: wrongCheck(cnID("110105", "19800517", "001"))}
		}, "national_id.value"},
		{"national id birth date differs", func(d *patient.Details) {
			d.NationalID = &patient.NationalID{Type: patient.NationalIDCNResident, Value: cnID("110105", "19800518", "001")}
		}, "national_id.value"},
		{"address without line1", func(d *patient.Details) {
			d.Address = &patient.Address{City: "北京", Country: "CN"}
		}, "address.line1"},
		{"address without country", func(d *patient.Details) {
			d.Address = &patient.Address{Line1: "建国路 88 号"}
		}, "address.country"},
		{"address unknown country", func(d *patient.Details) {
			d.Address = &patient.Address{Line1: "建国路 88 号", Country: "XX"}
		}, "address.country"},
		{"address alpha-3 country", func(d *patient.Details) {
			d.Address = &patient.Address{Line1: "建国路 88 号", Country: "CHN"}
		}, "address.country"},
		{"address long city", func(d *patient.Details) {
			d.Address = &patient.Address{Line1: "x", City: strings.Repeat("c", 201), Country: "CN"}
		}, "address.city"},
		{"address long postal code", func(d *patient.Details) {
			d.Address = &patient.Address{Line1: "x", PostalCode: strings.Repeat("1", 201), Country: "CN"}
		}, "address.postal_code"},
		{"contact without name", func(d *patient.Details) {
			d.EmergencyContact = &patient.EmergencyContact{Phone: "+8613900139000"}
		}, "emergency_contact.name"},
		{"contact without phone", func(d *patient.Details) {
			d.EmergencyContact = &patient.EmergencyContact{Name: "李华"}
		}, "emergency_contact.phone"},
		{"contact bad phone", func(d *patient.Details) {
			d.EmergencyContact = &patient.EmergencyContact{Name: "李华", Phone: "139-0013-9000"}
		}, "emergency_contact.phone"},
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
				require.Equal(t, now, p.CreatedAt())
				require.Equal(t, now, p.UpdatedAt())
				return
			}
			validationtest.RequireFields(t, err, tc.field)
		})
	}
}

func TestNewPatientListsEveryField(t *testing.T) {
	t.Parallel()
	d := full()
	d.FamilyName = ""
	d.Phone = "123"
	d.Address.Country = ""
	d.EmergencyContact.Phone = ""
	_, err := patient.NewPatient(uuid.New(), d, time.Now())
	validationtest.RequireFields(t, err, "family_name", "phone", "address.country", "emergency_contact.phone")
}

func TestNewPatientNormalises(t *testing.T) {
	t.Parallel()
	d := full()
	d.NationalID.Value = " " + strings.ToLower(d.NationalID.Value) + " "
	d.Address.Country = " cn "
	d.Phone = " +8613800138000 "
	p, err := patient.NewPatient(uuid.New(), d, time.Now())
	require.NoError(t, err)
	got := p.Details()
	require.Equal(t, cnID("110105", "19800517", "001"), got.NationalID.Value)
	require.Equal(t, "CN", got.Address.Country)
	require.Equal(t, "+8613800138000", got.Phone)

	// The aggregate does not share pointers with its callers.
	d.Address.Line1 = "changed"
	got.EmergencyContact.Name = "changed"
	require.Equal(t, "朝阳区建国路 88 号", p.Details().Address.Line1)
	require.Equal(t, "李华", p.Details().EmergencyContact.Name)
}

func TestDefaultLanguage(t *testing.T) {
	t.Parallel()
	d := valid()
	d.PreferredLanguage = ""
	p, err := patient.NewPatient(uuid.New(), d, time.Now())
	require.NoError(t, err)
	require.Equal(t, "zh-CN", p.Details().PreferredLanguage)
}

func TestTimeZone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"empty: the clinic's zone", "", "", true},
		{"blank: the clinic's zone", "  ", "", true},
		{"region/city", "Asia/Shanghai", "Asia/Shanghai", true},
		{"trimmed", " Europe/Berlin ", "Europe/Berlin", true},
		{"three parts", "America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires", true},
		{"offset zone", "Etc/GMT+8", "Etc/GMT+8", true},
		{"UTC", "UTC", "UTC", true},
		{"Local is the server's zone", "Local", "", false},
		{"unknown zone", "Europe/Atlantis", "", false},
		{"wrong case", "europe/berlin", "", false},
		{"abbreviation", "CEST", "", false},
		{"offset", "+08:00", "", false},
		{"absolute path", "/etc/localtime", "", false},
		{"relative path", "../zoneinfo/Europe/Berlin", "", false},
		{"dot segment", "./Europe/Berlin", "", false},
		{"empty segment", "Europe//Berlin", "", false},
		{"trailing slash", "Europe/Berlin/", "", false},
		{"directory", "Europe", "", false},
		{"not a zone file", "zone1970.tab", "", false},
		{"too long", "Europe/" + strings.Repeat("B", 64), "", false},
		{"control char", "Europe/Berlin\x00", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := valid()
			d.TimeZone = tc.in
			p, err := patient.NewPatient(uuid.New(), d, time.Now())
			if !tc.ok {
				validationtest.RequireFields(t, err, "time_zone")
				require.False(t, patient.ValidTimeZone(tc.in))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, p.Details().TimeZone)
		})
	}
}

func TestMessagesDoNotLeakInput(t *testing.T) {
	t.Parallel()
	secret := "+86SECRET13800"
	d := full()
	d.FamilyName = strings.Repeat("秘", 101)
	d.Phone = secret
	d.Email = "secret-mail@"
	d.NationalID.Value = wrongCheck(d.NationalID.Value)
	d.Address.Country = "ZZ"
	d.EmergencyContact.Phone = secret
	d.TimeZone = "Secret/Hideout"
	_, err := patient.NewPatient(uuid.New(), d, time.Now())
	ve := validationtest.RequireValidation(t, err, "family_name", "phone", "email", "time_zone", "national_id.value", "address.country", "emergency_contact.phone")
	for _, v := range []string{"秘秘", secret, "secret-mail", d.NationalID.Value, "ZZ", "Hideout"} {
		require.NotContains(t, ve.Error(), v)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	later := created.Add(time.Hour)
	tests := []struct {
		name     string
		expected int64
		modify   func(*patient.Details)
		wantErr  func(*testing.T, error)
	}{
		{"applies", 1, func(d *patient.Details) { d.Phone = "+8613911112222" }, nil},
		{"stale version", 0, func(d *patient.Details) { d.Phone = "+8613911112222" }, func(t *testing.T, err error) {
			require.ErrorIs(t, err, patient.ErrVersionMismatch)
		}},
		{"future version", 2, func(*patient.Details) {}, func(t *testing.T, err error) {
			require.ErrorIs(t, err, patient.ErrVersionMismatch)
		}},
		{"invalid", 1, func(d *patient.Details) { d.Email = "nope" }, func(t *testing.T, err error) {
			validationtest.RequireFields(t, err, "email")
		}},
		{"invalid time zone", 1, func(d *patient.Details) { d.Phone, d.TimeZone = "+8613911112222", "Local" }, func(t *testing.T, err error) {
			validationtest.RequireFields(t, err, "time_zone")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := patient.NewPatient(uuid.New(), full(), created)
			require.NoError(t, err)
			before := p.Details()
			d := p.Details()
			tc.modify(&d)
			err = p.Update(d, tc.expected, later)
			if tc.wantErr != nil {
				tc.wantErr(t, err)
				require.Equal(t, int64(1), p.Version())
				require.Equal(t, created, p.UpdatedAt())
				require.Equal(t, before, p.Details())
				return
			}
			require.NoError(t, err)
			require.Equal(t, int64(2), p.Version())
			require.Equal(t, later, p.UpdatedAt())
			require.Equal(t, created, p.CreatedAt())
			require.Equal(t, "+8613911112222", p.Details().Phone)
		})
	}
}

func TestAgeOn(t *testing.T) {
	t.Parallel()
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name      string
		birth, on time.Time
		want      int
	}{
		{"day before birthday", day(1980, 5, 17), day(2026, 5, 16), 45},
		{"on birthday", day(1980, 5, 17), day(2026, 5, 17), 46},
		{"day of birth", day(1980, 5, 17), day(1980, 5, 17), 0},
		{"before birth", day(1980, 5, 17), day(1980, 5, 16), -1},
		{"leap birthday, Feb 28 of a common year", day(2000, 2, 29), day(2026, 2, 28), 25},
		{"leap birthday, Mar 1 of a common year", day(2000, 2, 29), day(2026, 3, 1), 26},
		{"leap birthday, Feb 28 of a leap year", day(2000, 2, 29), day(2028, 2, 28), 27},
		{"leap birthday, Feb 29 of a leap year", day(2000, 2, 29), day(2028, 2, 29), 28},
		{"eighteenth birthday", day(2008, 2, 29), day(2026, 3, 1), 18},
		{"not yet eighteen", day(2008, 2, 29), day(2026, 2, 28), 17},
		{"new year's eve birth", day(1990, 12, 31), day(2026, 12, 30), 35},
		{
			"calendar date read in its own zone", day(1980, 5, 17),
			time.Date(2026, 5, 17, 0, 30, 0, 0, time.FixedZone("CST", 8*3600)), 46,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := valid()
			d.BirthDate = tc.birth
			p := patient.UnmarshalPatientFromDatabase(uuid.New(), d, 1, tc.birth, tc.birth)
			require.Equal(t, tc.want, p.AgeOn(tc.on))
			require.Equal(t, tc.want, patient.CompletedYears(tc.birth, tc.on))
		})
	}
}

func TestDuplicateRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*patient.Details)
		rule   string
	}{
		{"same national id", func(d *patient.Details) { d.FamilyName, d.Phone = "李", "" }, patient.DuplicateRuleNationalID},
		{"same national id and name", func(*patient.Details) {}, patient.DuplicateRuleNationalID},
		{"same name, birth date and phone", func(d *patient.Details) { d.NationalID = nil }, patient.DuplicateRuleNameBirthDatePhone},
		{"same type, other value", func(d *patient.Details) {
			d.NationalID = &patient.NationalID{Type: patient.NationalIDCNResident, Value: cnID("110105", "19800517", "002")}
			d.Phone = "+8613911112222"
		}, ""},
		{"same value, other type", func(d *patient.Details) {
			d.NationalID = &patient.NationalID{Type: patient.NationalIDOther, Value: d.NationalID.Value}
			d.Phone = "+8613911112222"
		}, ""},
		{"other phone", func(d *patient.Details) { d.NationalID, d.Phone = nil, "+8613911112222" }, ""},
		{"no phones", func(d *patient.Details) { d.NationalID, d.Phone = nil, "" }, ""},
		{"other given name", func(d *patient.Details) { d.NationalID, d.GivenName = nil, "小红" }, ""},
		{"other birth date", func(d *patient.Details) { d.NationalID, d.BirthDate = nil, d.BirthDate.AddDate(0, 0, 1) }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			existing := full()
			candidate := full()
			tc.modify(&candidate)
			if tc.name == "no phones" {
				existing.Phone = ""
			}
			rule, ok := patient.DuplicateRule(candidate, existing)
			require.Equal(t, tc.rule, rule)
			require.Equal(t, tc.rule != "", ok)
		})
	}
}

func TestCheckDuplicate(t *testing.T) {
	t.Parallel()
	now := time.Now()
	other := valid()
	other.FamilyName = "李"
	a, err := patient.NewPatient(uuid.New(), other, now)
	require.NoError(t, err)
	b, err := patient.NewPatient(uuid.New(), full(), now)
	require.NoError(t, err)

	err = patient.CheckDuplicate(full(), []*patient.Patient{nil, a, b}, uuid.Nil)
	var dup *patient.DuplicateError
	require.ErrorAs(t, err, &dup)
	require.Equal(t, b.ID(), dup.ExistingID)
	require.Equal(t, patient.DuplicateRuleNationalID, dup.Rule)

	// A patient being updated does not duplicate itself.
	require.NoError(t, patient.CheckDuplicate(b.Details(), []*patient.Patient{a, b}, b.ID()))
}

func TestUpdateThatChangesNothingKeepsTheVersion(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	p, err := patient.NewPatient(uuid.New(), valid(), now)
	require.NoError(t, err)
	d := p.Details()
	d.FamilyName = "  " + d.FamilyName + " " // the same once normalised
	require.NoError(t, p.Update(d, 1, now.Add(time.Hour)))
	require.Equal(t, int64(1), p.Version())
	require.Equal(t, now, p.UpdatedAt())
	d.GivenName = "大明"
	require.NoError(t, p.Update(d, 1, now.Add(time.Hour)))
	require.Equal(t, int64(2), p.Version())
}
