package program

import (
	"regexp"
	"strings"

	"github.com/clinicops/clinicops/pkg/validation"
)

// Code systems accepted for indications.
const (
	SystemICD10   = "ICD-10"
	SystemICD10CM = "ICD-10-CM"
)

// Indication is a diagnosis code in a code system, normalised by ParseICD10.
type Indication struct {
	System string // SystemICD10 or SystemICD10CM
	Code   string // upper case, dotted after the category: M05.79, G35.A, K50
}

var (
	// codeDotless: a letter, two digits or a digit and a letter (ICD-10-CM
	// categories such as M1A), then up to four characters of subcategory.
	codeDotless   = regexp.MustCompile(`^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$`)
	prefixDotless = regexp.MustCompile(`^[A-Z][0-9][0-9A-Z]{0,5}$`)
)

// ParseICD10 normalises and checks an indication. The system ("ICD-10" or
// "ICD-10-CM", any case) is rejected on field indication.system; the code
// (trimmed, upper-cased; "M0579" is read as "M05.79") on indication.code.
// Errors are *validation.Error and never repeat the input.
func ParseICD10(system, code string) (Indication, error) {
	var l validation.List
	sys := strings.ToUpper(strings.TrimSpace(system))
	switch sys {
	case SystemICD10, SystemICD10CM:
	case "":
		l.Add("indication.system", "is required")
	default:
		l.Add("indication.system", `must be "ICD-10" or "ICD-10-CM"`)
	}
	c, ok := dotless(code)
	switch {
	case ok && c == "":
		l.Add("indication.code", "is required")
	case !ok || !codeDotless.MatchString(c):
		l.Add("indication.code", "must be an ICD-10 code, e.g. M05.79 or G35.A")
	}
	if err := l.Err(); err != nil {
		return Indication{}, err
	}
	return Indication{System: sys, Code: dotted(c)}, nil
}

// Dotless is the code without its dot, as Screening.Allows compares it.
func (i Indication) Dotless() string { return strings.Replace(i.Code, ".", "", 1) }

// String is "system code", e.g. "ICD-10 M05.79".
func (i Indication) String() string { return i.System + " " + i.Code }

// dotless trims and upper-cases s and removes its dot, which may only follow
// the three-character category and must be followed by something.
func dotless(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return s, true
	}
	if i != 3 || i == len(s)-1 || strings.Count(s, ".") > 1 {
		return "", false
	}
	return s[:3] + s[4:], true
}

func dotted(c string) string {
	if len(c) <= 3 {
		return c
	}
	return c[:3] + "." + c[3:]
}

// parsePrefix reads a listed indication: an ICD-10 code or the start of one
// (at least a letter and a digit), returned dotless.
func parsePrefix(s string) (string, bool) {
	p, ok := dotless(s)
	if !ok || !prefixDotless.MatchString(p) {
		return "", false
	}
	return p, true
}
