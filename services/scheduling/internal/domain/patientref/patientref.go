// Package patientref is scheduling's view of a patient registered by intake.
package patientref

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// ErrNotFound: scheduling has not heard of this patient.
var ErrNotFound = errors.New("patient not known to scheduling")

// Patient is the reference scheduling keeps: the id and the two identifiers
// used to confirm a product belongs to the patient.
type Patient struct {
	ID         uuid.UUID
	FamilyName string
	GivenName  string
	BirthDate  time.Time
	// Version is intake's aggregate version; an older one never overwrites a newer.
	Version   int64
	UpdatedAt time.Time
}

// NewPatient validates a reference built from an event.
func NewPatient(id uuid.UUID, family, given string, birth time.Time, version int64, at time.Time) (Patient, error) {
	if id == uuid.Nil || version < 1 || birth.IsZero() {
		return Patient{}, errors.New("patient reference needs an id, a version and a birth date")
	}
	return Patient{ID: id, FamilyName: family, GivenName: given, BirthDate: birth, Version: version, UpdatedAt: at}, nil
}
