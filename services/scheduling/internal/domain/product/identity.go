package product

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
)

// Reason is why the chain-of-identity check refused an infusion. The codes
// are stable: they go into the 409 problem and the InfusionBlocked event.
type Reason string

// Reasons, in the order CheckInfusion checks them (ReasonUnknownProduct is
// the caller's, see IdentityRefused).
const (
	// ReasonMalformedID: the scanned text is not a DIN.
	ReasonMalformedID Reason = "malformed_id"
	// ReasonBadCheckCharacter: the scanned DIN's check character does not
	// match it (mistyped or misread).
	ReasonBadCheckCharacter Reason = "bad_check_character"
	// ReasonUnknownProduct: no product has the scanned DIN. The caller
	// returns it when its lookup finds nothing; CheckInfusion returns it
	// when the scanned DIN is not the DIN of the product it is called on
	// (the caller loaded another product than the one scanned).
	ReasonUnknownProduct Reason = "unknown_product"
	// ReasonWrongPatient: the product is not this patient's (including a
	// donor dose not allocated, or allocated to someone else), or the
	// patient identified at the bedside is not the appointment's.
	ReasonWrongPatient Reason = "wrong_patient"
	// ReasonWrongBirthDate: the birth date read from the wristband is not
	// the patient's recorded birth date (the second identifier).
	ReasonWrongBirthDate Reason = "wrong_birth_date"
	// ReasonWrongCourse: the product is the patient's but for another
	// course.
	ReasonWrongCourse Reason = "wrong_course"
	// ReasonWrongCycle: the product is for another cycle of this course.
	ReasonWrongCycle Reason = "wrong_cycle"
	// ReasonAlreadyInfused: the product has been given already.
	ReasonAlreadyInfused Reason = "already_infused"
	// ReasonNotReleased: the product is collected, culturing or failed.
	ReasonNotReleased Reason = "not_released"
	// ReasonExpired: now is at or after the end of the product's viability
	// window.
	ReasonExpired Reason = "expired"
)

// IdentityRefused is a refused chain-of-identity check: the infusion must
// not be completed. The caller answers 409 naming Reason, and records and
// publishes InfusionBlocked on the appointment.
type IdentityRefused struct{ Reason Reason }

func (e *IdentityRefused) Error() string { return "infusion refused: " + string(e.Reason) }

// Scan is what the nurse scanned and read at the bedside, with what the
// caller knows of the appointment and the patient's record.
type Scan struct {
	// ProductID is the product id as scanned or typed: a DIN, 13
	// characters, or 14 with the check character, which must then match
	// (the ISBT 128 bar code does not carry the check character; the label
	// prints it for keyboard entry).
	ProductID string
	// PatientID is the patient id the nurse identified (wristband).
	PatientID uuid.UUID
	// AppointmentPatientID is the infusion appointment's patient.
	AppointmentPatientID uuid.UUID
	// BirthDate is the birth date the nurse read from the wristband;
	// RecordedBirthDate is the patient's as registered. Only the calendar
	// dates are compared.
	BirthDate         time.Time
	RecordedBirthDate time.Time
	// CourseID and Cycle are the infusion appointment's.
	CourseID uuid.UUID
	Cycle    int
	// Now is when the infusion is to be completed (the clinic's clock).
	Now time.Time
}

// ScannedDIN reads a scanned product id; the caller looks the product up
// by the DIN it returns. A bad id is an *IdentityRefused with
// ReasonMalformedID or ReasonBadCheckCharacter.
func ScannedDIN(text string) (DIN, error) {
	d, err := ParseDIN(text)
	switch {
	case errors.Is(err, ErrCheckCharacter):
		return DIN{}, &IdentityRefused{Reason: ReasonBadCheckCharacter}
	case err != nil:
		return DIN{}, &IdentityRefused{Reason: ReasonMalformedID}
	}
	return d, nil
}

// CheckInfusion checks that the product may be infused into the patient of
// the scan, returning nil or an *IdentityRefused naming the first reason
// found, in this order:
//
//  1. the scanned id: malformed_id, bad_check_character, then
//     unknown_product if it is not this product's DIN;
//  2. identity, before anything about the product's state, so that a
//     product for someone else is reported as such even when it is also
//     expired or not released: wrong_patient (the product's patient, the
//     identified patient and the appointment's patient must be one; an
//     unallocated donor dose is nobody's), wrong_birth_date, wrong_course,
//     wrong_cycle;
//  3. status: already_infused, not_released (collected, culturing,
//     failed);
//  4. expired: s.Now at or after ExpiresAt.
//
// It changes nothing.
func (p *Product) CheckInfusion(s Scan) error {
	din, err := ScannedDIN(s.ProductID)
	if err != nil {
		return err
	}
	refuse := func(r Reason) error { return &IdentityRefused{Reason: r} }
	switch {
	case din != p.din:
		return refuse(ReasonUnknownProduct)
	case p.patientID == uuid.Nil || s.PatientID != p.patientID || s.AppointmentPatientID != p.patientID:
		return refuse(ReasonWrongPatient)
	case s.RecordedBirthDate.IsZero() || !sameDate(s.BirthDate, s.RecordedBirthDate):
		return refuse(ReasonWrongBirthDate)
	case s.CourseID != p.courseID:
		return refuse(ReasonWrongCourse)
	case s.Cycle != p.cycle:
		return refuse(ReasonWrongCycle)
	case p.status == StatusInfused:
		return refuse(ReasonAlreadyInfused)
	case p.status != StatusReleased:
		return refuse(ReasonNotReleased)
	case p.expiresAt.IsZero() || !s.Now.Before(p.expiresAt):
		return refuse(ReasonExpired)
	}
	return nil
}

// Infuse completes the infusion of the product in appointment
// appointmentID with the dose actually given: it runs CheckInfusion (with
// scan.Now set to now) and, if it passes, marks the product infused and
// records Infused. Bad input (appointment_id required, dose_cells
// positive) is a *validation.Error, checked first; a refusal is the
// *IdentityRefused of CheckInfusion. Either way nothing changes and nothing
// is recorded: the caller records InfusionBlocked on the appointment.
func (p *Product) Infuse(appointmentID uuid.UUID, doseCells int64, scan Scan, now time.Time) error {
	var l validation.List
	if appointmentID == uuid.Nil {
		l.Add("appointment_id", "is required")
	}
	if doseCells <= 0 {
		l.Add("dose_cells", "must be a positive number of cells")
	}
	if err := l.Err(); err != nil {
		return err
	}
	scan.Now = now
	if err := p.CheckInfusion(scan); err != nil {
		return fmt.Errorf("infuse product %s: %w", p.id, err)
	}
	p.status = StatusInfused
	p.infusedAt = now
	p.appointmentID = appointmentID
	p.doseCells = doseCells
	p.change(now)
	p.events = append(p.events, Infused{ProductID: p.id, DIN: p.din, LotID: p.lotID, PatientID: p.patientID,
		CourseID: p.courseID, Cycle: p.cycle, AppointmentID: appointmentID, DoseCells: doseCells,
		Version: p.version, At: now})
	return nil
}

// sameDate compares two birth dates as calendar dates, each in its own
// location: a birth date is a date, not an instant.
func sameDate(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
