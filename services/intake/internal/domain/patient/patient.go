// Package patient holds the patient aggregate of the front desk: who the
// patient is and how to reach them. Pure Go, no I/O.
package patient

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Sex as recorded at registration.
type Sex string

// Recorded sexes.
const (
	SexFemale  Sex = "female"
	SexMale    Sex = "male"
	SexOther   Sex = "other"
	SexUnknown Sex = "unknown"
)

// ParseSex accepts female, male, other or unknown.
func ParseSex(s string) (Sex, error) {
	switch Sex(s) {
	case SexFemale, SexMale, SexOther, SexUnknown:
		return Sex(s), nil
	}
	return "", errors.New("must be one of female, male, other, unknown")
}

// FieldError names the input field a rule rejected.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every rejected field of one input.
type ValidationError struct{ Fields []FieldError }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid patient: " + strings.Join(parts, "; ")
}

// ErrNotFound is returned when a patient does not exist.
var ErrNotFound = errors.New("patient not found")

// DuplicateError says the patient is already registered.
type DuplicateError struct {
	ExistingID uuid.UUID
	// Rule is "national_id" or "name_birth_date_phone".
	Rule string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("patient already registered as %s (%s)", e.ExistingID, e.Rule)
}

// Details are the editable facts about a patient.
type Details struct {
	FamilyName        string
	GivenName         string
	BirthDate         time.Time // a date: midnight UTC
	Sex               Sex
	Phone             string // E.164
	Email             string
	PreferredLanguage string // BCP 47
}

// Patient is the aggregate.
type Patient struct {
	id        uuid.UUID
	details   Details
	version   int64
	createdAt time.Time
	updatedAt time.Time
}

// NewPatient validates details and returns a patient at version 1.
func NewPatient(id uuid.UUID, d Details, now time.Time) (*Patient, error) {
	d, err := validate(d, now)
	if err != nil {
		return nil, err
	}
	return &Patient{id: id, details: d, version: 1, createdAt: now, updatedAt: now}, nil
}

// UnmarshalPatientFromDatabase rebuilds a stored patient; for repositories only.
func UnmarshalPatientFromDatabase(id uuid.UUID, d Details, version int64, createdAt, updatedAt time.Time) *Patient {
	return &Patient{id: id, details: d, version: version, createdAt: createdAt, updatedAt: updatedAt}
}

// ID is the patient's id.
func (p *Patient) ID() uuid.UUID { return p.id }

// Details returns a copy of the patient's details.
func (p *Patient) Details() Details { return p.details }

// Version grows with every change.
func (p *Patient) Version() int64 { return p.version }

// CreatedAt is when the patient was registered.
func (p *Patient) CreatedAt() time.Time { return p.createdAt }

// UpdatedAt is when the patient last changed.
func (p *Patient) UpdatedAt() time.Time { return p.updatedAt }

var (
	e164      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	bcp47     = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	maxName   = 100
	dateLimit = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, errors.New("must be a date YYYY-MM-DD")
	}
	return t, nil
}

func validate(d Details, now time.Time) (Details, error) {
	var fields []FieldError
	bad := func(field, msg string) { fields = append(fields, FieldError{field, msg}) }
	d.FamilyName = strings.TrimSpace(d.FamilyName)
	d.GivenName = strings.TrimSpace(d.GivenName)
	for _, f := range []struct{ name, v string }{{"family_name", d.FamilyName}, {"given_name", d.GivenName}} {
		switch {
		case f.v == "":
			bad(f.name, "is required")
		case utf8.RuneCountInString(f.v) > maxName:
			bad(f.name, fmt.Sprintf("is longer than %d characters", maxName))
		case strings.IndexFunc(f.v, func(r rune) bool { return unicode.IsControl(r) }) >= 0:
			bad(f.name, "contains control characters")
		}
	}
	switch {
	case d.BirthDate.IsZero():
		bad("birth_date", "is required")
	case d.BirthDate.After(now):
		bad("birth_date", "is in the future")
	case d.BirthDate.Before(dateLimit):
		bad("birth_date", "is before 1900")
	}
	if _, err := ParseSex(string(d.Sex)); err != nil {
		bad("sex", err.Error())
	}
	if d.Phone != "" && !e164.MatchString(d.Phone) {
		bad("phone", "must be E.164, e.g. +8613800138000")
	}
	if d.Email != "" {
		if a, err := mail.ParseAddress(d.Email); err != nil || a.Address != d.Email {
			bad("email", "is not an e-mail address")
		}
	}
	if d.PreferredLanguage == "" {
		d.PreferredLanguage = "zh-CN"
	} else if !bcp47.MatchString(d.PreferredLanguage) {
		bad("preferred_language", "must be a BCP 47 tag, e.g. zh-CN")
	}
	if len(fields) > 0 {
		return d, &ValidationError{Fields: fields}
	}
	return d, nil
}
