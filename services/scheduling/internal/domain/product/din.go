// Package product is a cell product and its identity: the ISBT 128 Donation
// Identification Number (DIN) that ties an autologous product to the patient
// it was collected from.
package product

import (
	"errors"
	"fmt"
	"strings"
)

// A DIN is the ISBT 128 Donation Identification Number: a facility
// identification number (one letter and four digits, assigned to the clinic
// by ICCBBA), the year of collection (two digits) and a sequence number (six
// digits) unique within the facility and year. On labels and scanners it is
// followed by its ISO/IEC 7064 MOD 37-2 check character.
type DIN struct {
	facility string
	year     int
	sequence int
}

// Errors of ParseDIN and NewDIN.
var (
	// ErrMalformedDIN: not 13 characters (14 with the check character) of
	// the DIN's shape.
	ErrMalformedDIN = errors.New("not an ISBT 128 donation identification number")
	// ErrCheckCharacter: the check character does not match the DIN, so it
	// was mistyped or misread.
	ErrCheckCharacter = errors.New("the DIN's check character does not match")
)

// NewDIN builds the DIN of a facility's sequence number in a year (0-99).
func NewDIN(facility string, year, sequence int) (DIN, error) {
	if !validFacility(facility) {
		return DIN{}, fmt.Errorf("%w: facility %q is not a letter and four digits", ErrMalformedDIN, facility)
	}
	if year < 0 || year > 99 {
		return DIN{}, fmt.Errorf("%w: year %d is not two digits", ErrMalformedDIN, year)
	}
	if sequence < 1 || sequence > 999999 {
		return DIN{}, fmt.Errorf("%w: sequence %d is not 1 to 999999", ErrMalformedDIN, sequence)
	}
	return DIN{facility: facility, year: year, sequence: sequence}, nil
}

// ParseDIN reads a DIN as scanned or typed: 13 characters, or 14 with the
// check character, which must then match. Spaces are ignored and letters
// may be lower case ("g1234 89 654321 y").
func ParseDIN(s string) (DIN, error) {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if len(s) != 13 && len(s) != 14 {
		return DIN{}, ErrMalformedDIN
	}
	data := s[:13]
	if !validFacility(data[:5]) || !digits(data[5:]) {
		return DIN{}, ErrMalformedDIN
	}
	if len(s) == 14 {
		check, err := CheckCharacter(data)
		if err != nil {
			return DIN{}, err
		}
		if s[13] != check {
			return DIN{}, ErrCheckCharacter
		}
	}
	year := atoi(data[5:7])
	seq := atoi(data[7:])
	return NewDIN(data[:5], year, seq)
}

// String is the 13 characters of the DIN, without the check character.
func (d DIN) String() string { return fmt.Sprintf("%s%02d%06d", d.facility, d.year, d.sequence) }

// Check is the DIN's check character.
func (d DIN) Check() byte {
	c, _ := CheckCharacter(d.String()) // a built DIN is always alphanumeric
	return c
}

// Label is the DIN as printed under its bar code: "G1234 89 654321 Y".
func (d DIN) Label() string {
	s := d.String()
	return s[:5] + " " + s[5:7] + " " + s[7:] + " " + string(d.Check())
}

// Facility, Year and Sequence are the DIN's parts.
func (d DIN) Facility() string { return d.facility }

// Year is the two-digit year of collection.
func (d DIN) Year() int { return d.year }

// Sequence is the facility's sequence number within the year.
func (d DIN) Sequence() int { return d.sequence }

// IsZero reports whether d is the zero DIN.
func (d DIN) IsZero() bool { return d.facility == "" }

// mod37 is ISO/IEC 7064 MOD 37-2's modulus; its check characters are 0-9,
// A-Z and '*' for 36.
const mod37 = 37

// CheckCharacter computes the ISO/IEC 7064 MOD 37-2 check character of an
// upper-case alphanumeric string (the pure system with radix 2: the string
// followed by its check character has a weighted sum of 1 modulo 37).
func CheckCharacter(data string) (byte, error) {
	p := 0
	for i := 0; i < len(data); i++ {
		v, ok := value(data[i])
		if !ok {
			return 0, fmt.Errorf("%w: %q is not a digit or capital letter", ErrMalformedDIN, data[i])
		}
		p = (p + v) * 2 % mod37
	}
	c := (mod37 + 1 - p) % mod37
	switch {
	case c < 10:
		return byte('0' + c), nil
	case c < 36:
		return byte('A' + c - 10), nil
	default:
		return '*', nil
	}
}

func value(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10, true
	}
	return 0, false
}

func validFacility(s string) bool {
	return len(s) == 5 && s[0] >= 'A' && s[0] <= 'Z' && digits(s[1:])
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
