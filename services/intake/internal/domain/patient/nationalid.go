package patient

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clinicops/clinicops/pkg/validation"
)

// NationalIDType says which document a national id comes from.
type NationalIDType string

// Accepted national id types.
const (
	NationalIDCNResident NationalIDType = "cn_resident" // PRC resident identity card, 18 characters
	NationalIDHKID       NationalIDType = "hk_id"       // Hong Kong identity card
	NationalIDPassport   NationalIDType = "passport"
	NationalIDOther      NationalIDType = "other"
)

// ParseNationalIDType accepts cn_resident, hk_id, passport or other.
func ParseNationalIDType(s string) (NationalIDType, error) {
	switch t := NationalIDType(strings.TrimSpace(s)); t {
	case NationalIDCNResident, NationalIDHKID, NationalIDPassport, NationalIDOther:
		return t, nil
	case "":
		return "", validation.Field("national_id.type", "is required")
	}
	return "", validation.Field("national_id.type", "must be one of cn_resident, hk_id, passport, other")
}

// NationalID is an identity document number, normalised by ParseNationalID.
type NationalID struct {
	Type  NationalIDType
	Value string
}

var (
	cnResidentShape = regexp.MustCompile(`^[0-9]{17}[0-9X]$`)
	hkIDShape       = regexp.MustCompile(`^([A-Z]{1,2}[0-9]{6})\(?([0-9A])\)?$`)
	passportShape   = regexp.MustCompile(`^[A-Z0-9]{5,20}$`)
	cnWeights       = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
)

const (
	cnCheckChars = "10X98765432"
	maxOtherID   = 64
)

// CNResidentCheckChar is the ISO 7064 MOD 11-2 check character of the first
// 17 digits of a PRC resident id. ok is false when first17 is not 17 digits.
func CNResidentCheckChar(first17 string) (c byte, ok bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := range 17 {
		d := first17[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		sum += int(d-'0') * cnWeights[i]
	}
	return cnCheckChars[sum%11], true
}

// ParseNationalID normalises value (trimmed, upper-cased) and checks it
// against the rules of typ. Errors are *ValidationError on national_id.type
// or national_id.value; messages never repeat the value.
//
//   - cn_resident: 18 characters, 17 digits and an ISO 7064 MOD 11-2 check
//     character (0-9 or X). Characters 7-14 are the birth date YYYYMMDD: it
//     must be a real date and, unless birthDate is zero, equal birthDate's
//     calendar date.
//   - hk_id: one or two letters, six digits and a check character (0-9 or A),
//     with or without parentheses around it; stored as A123456(7).
//   - passport: 5 to 20 letters or digits.
//   - other: 1 to 64 printable characters.
func ParseNationalID(typ, value string, birthDate time.Time) (NationalID, error) {
	t, err := ParseNationalIDType(typ)
	if err != nil {
		return NationalID{}, err
	}
	const field = "national_id.value"
	v := strings.TrimSpace(value)
	if !utf8.ValidString(v) {
		return NationalID{}, validation.Field(field, "is not valid UTF-8")
	}
	v = strings.ToUpper(v)
	if v == "" {
		return NationalID{}, validation.Field(field, "is required")
	}
	var l validation.List
	switch t {
	case NationalIDCNResident:
		checkCNResident(&l, field, v, birthDate)
	case NationalIDHKID:
		m := hkIDShape.FindStringSubmatch(v)
		if m == nil || (strings.Contains(v, "(") != strings.Contains(v, ")")) {
			l.Add(field, "must be one or two letters, six digits and a check character, e.g. A123456(7)")
		} else {
			v = m[1] + "(" + m[2] + ")"
		}
	case NationalIDPassport:
		if !passportShape.MatchString(v) {
			l.Add(field, "must be 5 to 20 letters or digits")
		}
	case NationalIDOther:
		switch {
		case utf8.RuneCountInString(v) > maxOtherID:
			l.Add(field, "is longer than 64 characters")
		case strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
			l.Add(field, "contains characters that are not printable")
		}
	}
	if err := l.Err(); err != nil {
		return NationalID{}, err
	}
	return NationalID{Type: t, Value: v}, nil
}

func checkCNResident(l *validation.List, field, v string, birthDate time.Time) {
	if !cnResidentShape.MatchString(v) {
		l.Add(field, "must be 18 characters: 17 digits and a check digit (0-9 or X)")
		return
	}
	if c, _ := CNResidentCheckChar(v[:17]); c != v[17] {
		l.Add(field, "check digit does not match")
	}
	embedded, err := time.Parse("20060102", v[6:14])
	if err != nil {
		l.Add(field, "embedded birth date is not a valid date")
		return
	}
	if birthDate.IsZero() {
		return
	}
	by, bm, bd := birthDate.Date()
	if ey, em, ed := embedded.Date(); ey != by || em != bm || ed != bd {
		l.Add(field, "embedded birth date does not match birth_date")
	}
}
