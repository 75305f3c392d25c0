// Package patient holds the patient aggregate of the front desk: who the
// patient is and how to reach them. Pure Go, no I/O.
package patient

import (
	"errors"
	"fmt"
	"net/mail"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
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

// FieldError names the input field a rule rejected. It is the shared
// validation.FieldError.
type FieldError = validation.FieldError

// ValidationError lists every rejected field of one input. It is the shared
// validation.Error, so every intake domain package returns the same type.
type ValidationError = validation.Error

// ErrNotFound is returned when a patient does not exist.
var ErrNotFound = errors.New("patient not found")

// ErrVersionMismatch is returned by Update when the caller's expected version
// is not the current one (a stale If-Match).
var ErrVersionMismatch = errors.New("patient version mismatch")

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
	Phone             string // E.164, optional
	Email             string // optional
	PreferredLanguage string // BCP 47; zh-CN when empty
	TimeZone          string // IANA, where the patient lives; the clinic's zone when empty
	NationalID        *NationalID
	Address           *Address
	EmergencyContact  *EmergencyContact
}

// Patient is the aggregate.
type Patient struct {
	id        uuid.UUID
	details   Details
	version   int64
	createdAt time.Time
	updatedAt time.Time
	events    []Event
}

// NewPatient validates details and returns a patient at version 1 that has
// recorded Registered.
func NewPatient(id uuid.UUID, d Details, now time.Time) (*Patient, error) {
	d, err := validate(d, now)
	if err != nil {
		return nil, err
	}
	p := &Patient{id: id, details: d, version: 1, createdAt: now, updatedAt: now}
	p.events = append(p.events, Registered{PatientID: id, Version: 1, At: now, Details: d.clone()})
	return p, nil
}

// UnmarshalPatientFromDatabase rebuilds a stored patient; for repositories only.
func UnmarshalPatientFromDatabase(id uuid.UUID, d Details, version int64, createdAt, updatedAt time.Time) *Patient {
	return &Patient{id: id, details: d.clone(), version: version, createdAt: createdAt, updatedAt: updatedAt}
}

// Update replaces the details. expectedVersion is the version the caller read
// (If-Match); a different one gives ErrVersionMismatch and changes nothing, as
// does invalid input (*ValidationError). The version grows by one, and
// Updated is recorded, only when the normalised details differ from the
// current ones.
func (p *Patient) Update(d Details, expectedVersion int64, now time.Time) error {
	if expectedVersion != p.version {
		return ErrVersionMismatch
	}
	d, err := validate(d, now)
	if err != nil {
		return err
	}
	if reflect.DeepEqual(d, p.details) {
		return nil // nothing changed once normalised: same version, no event
	}
	p.details = d
	p.version++
	p.updatedAt = now
	p.events = append(p.events, Updated{PatientID: p.id, Version: p.version, At: now, Details: d.clone()})
	return nil
}

// ID is the patient's id.
func (p *Patient) ID() uuid.UUID { return p.id }

// Details returns a copy of the patient's details.
func (p *Patient) Details() Details { return p.details.clone() }

// Version grows with every change.
func (p *Patient) Version() int64 { return p.version }

// CreatedAt is when the patient was registered.
func (p *Patient) CreatedAt() time.Time { return p.createdAt }

// UpdatedAt is when the patient last changed.
func (p *Patient) UpdatedAt() time.Time { return p.updatedAt }

// AgeOn is the patient's age in completed years on day; see CompletedYears.
func (p *Patient) AgeOn(day time.Time) int { return CompletedYears(p.details.BirthDate, day) }

// clone copies the optional parts so callers cannot change the aggregate
// through shared pointers.
func (d Details) clone() Details {
	if d.NationalID != nil {
		n := *d.NationalID
		d.NationalID = &n
	}
	if d.Address != nil {
		a := *d.Address
		d.Address = &a
	}
	if d.EmergencyContact != nil {
		c := *d.EmergencyContact
		d.EmergencyContact = &c
	}
	return d
}

var (
	e164      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	bcp47     = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	maxName   = 100
	maxEmail  = 254
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

// ValidPhone reports whether s is an E.164 number such as +8613800138000.
func ValidPhone(s string) bool { return e164.MatchString(s) }

const phoneMessage = "must be E.164, e.g. +8613800138000"

// ianaZone is the shape of an IANA time zone name (Europe/Berlin,
// America/Argentina/Buenos_Aires, Etc/GMT+8). It keeps out what
// time.LoadLocation would read as a path (./Europe/Berlin, Europe//Berlin)
// and what it resolves without the database ("" and "Local"), so a stored
// zone means the same to every consumer that loads it.
var ianaZone = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`)

const (
	maxTimeZone     = 64 // the longest IANA name has 32 characters
	timeZoneMessage = "must be an IANA time zone, e.g. Asia/Shanghai"
)

// ValidTimeZone reports whether s names a zone of the IANA database that
// time.LoadLocation loads. "Local" is refused: it is this machine's zone,
// not the patient's.
func ValidTimeZone(s string) bool {
	if s == "Local" || len(s) > maxTimeZone || !ianaZone.MatchString(s) {
		return false
	}
	_, err := time.LoadLocation(s)
	return err == nil
}

// validate normalises d (trimming, upper-casing ids and country codes) and
// checks every rule, listing all rejected fields at once.
func validate(d Details, now time.Time) (Details, error) {
	d = d.clone()
	var l validation.List
	d.FamilyName = l.CheckText("family_name", d.FamilyName, true, maxName, false)
	d.GivenName = l.CheckText("given_name", d.GivenName, true, maxName, false)
	switch {
	case d.BirthDate.IsZero():
		l.Add("birth_date", "is required")
	case d.BirthDate.After(now):
		l.Add("birth_date", "is in the future")
	case d.BirthDate.Before(dateLimit):
		l.Add("birth_date", "is before 1900")
	}
	if _, err := ParseSex(string(d.Sex)); err != nil {
		l.Add("sex", err.Error())
	}
	d.Phone = strings.TrimSpace(d.Phone)
	if d.Phone != "" && !ValidPhone(d.Phone) {
		l.Add("phone", phoneMessage)
	}
	d.Email = strings.TrimSpace(d.Email)
	if d.Email != "" {
		if validation.TooLong(d.Email, maxEmail) {
			l.Add("email", fmt.Sprintf("is longer than %d characters", maxEmail))
		} else if a, err := mail.ParseAddress(d.Email); err != nil || a.Address != d.Email {
			l.Add("email", "is not an e-mail address")
		}
	}
	d.PreferredLanguage = strings.TrimSpace(d.PreferredLanguage)
	if d.PreferredLanguage == "" {
		d.PreferredLanguage = "zh-CN"
	} else if !bcp47.MatchString(d.PreferredLanguage) {
		l.Add("preferred_language", "must be a BCP 47 tag, e.g. zh-CN")
	}
	d.TimeZone = strings.TrimSpace(d.TimeZone)
	if d.TimeZone != "" && !ValidTimeZone(d.TimeZone) {
		l.Add("time_zone", timeZoneMessage)
	}
	if d.NationalID != nil {
		n, err := ParseNationalID(string(d.NationalID.Type), d.NationalID.Value, d.BirthDate)
		if err := l.Merge(err); err != nil {
			return d, err
		}
		if n.Type != "" {
			d.NationalID = &n
		}
	}
	if d.Address != nil {
		*d.Address = d.Address.validate(&l)
	}
	if d.EmergencyContact != nil {
		*d.EmergencyContact = d.EmergencyContact.validate(&l)
	}
	return d, l.Err()
}
