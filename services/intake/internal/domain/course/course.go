// Package course holds treatment course requests: the front desk asks for a
// course of a program once the patient has consented and been screened
// eligible. Scheduling takes it from there. Pure Go, no I/O.
package course

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/intake/internal/domain/consent"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
	"github.com/clinicops/clinicops/services/intake/internal/domain/screening"
)

// Status of a course request.
type Status string

// Statuses.
const (
	StatusRequested Status = "requested"
	StatusCancelled Status = "cancelled"
)

// DefaultMaxScreeningAge is how old an eligible screening may be when the
// caller does not configure it.
const DefaultMaxScreeningAge = 90 * 24 * time.Hour

// Missing precondition codes.
const (
	MissingTreatmentConsent  = "treatment_consent"
	MissingEligibleScreening = "eligible_screening"
)

const (
	maxNotes  = 2000
	maxReason = 500
)

var (
	// ErrNotFound is returned when a course does not exist.
	ErrNotFound = errors.New("course not found")
	// ErrAlreadyCancelled is returned when cancelling a cancelled course.
	ErrAlreadyCancelled = errors.New("course already cancelled")
)

// Missing is one precondition a course request lacks.
type Missing struct {
	Code    string // MissingTreatmentConsent or MissingEligibleScreening
	Message string
}

// PreconditionError lists every precondition a course request lacks.
type PreconditionError struct{ Missing []Missing }

func (e *PreconditionError) Error() string {
	codes := make([]string, len(e.Missing))
	for i, m := range e.Missing {
		codes[i] = m.Code
	}
	return "course preconditions not met: " + strings.Join(codes, ", ")
}

// Input is a course request as the front desk makes it.
type Input struct {
	Program        string // program code
	Indication     program.Indication
	PreferredStart time.Time // a date
	Notes          string
}

// Course is the aggregate.
type Course struct {
	id                 uuid.UUID
	patientID          uuid.UUID
	in                 Input
	protocolVersion    string
	consentID          uuid.UUID
	screeningID        uuid.UUID
	status             Status
	cancelledAt        time.Time
	cancellationReason string
	version            int64
	createdAt          time.Time
	updatedAt          time.Time
	events             []Event
}

// Request validates a course request and checks its preconditions, returning
// a requested course at version 1 that records the program's protocol
// version and the consent and screening it relied on, and has recorded
// Requested.
//
// Bad input is a *validation.Error listing every problem: program (required,
// and the code of prog), preferred_start (required, not before today, a date
// in the clinic's zone chosen by the caller), notes (at most 2000
// characters), indication.system and indication.code (valid ICD-10, allowed
// by the program).
//
// Valid input lacking preconditions is a *PreconditionError listing all of
// them:
//   - treatment_consent: no active treatment consent of the patient for the
//     program;
//   - eligible_screening: no eligible screening of the patient for the
//     program's current screening version completed within maxScreeningAge
//     before now (DefaultMaxScreeningAge when maxScreeningAge <= 0).
//
// Consents and screenings of other patients are ignored.
func Request(
	id, patientID uuid.UUID, in Input, consents []*consent.Consent, screenings []*screening.Screening,
	prog program.Program, maxScreeningAge time.Duration, now, today time.Time,
) (*Course, error) {
	in, err := validate(in, prog, today)
	if err != nil {
		return nil, err
	}
	if maxScreeningAge <= 0 {
		maxScreeningAge = DefaultMaxScreeningAge
	}
	var missing []Missing
	var own []*consent.Consent
	for _, c := range consents {
		if c != nil && c.PatientID() == patientID {
			own = append(own, c)
		}
	}
	cons := consent.ActiveTreatmentFor(own, prog.Code)
	if cons == nil {
		missing = append(missing, Missing{MissingTreatmentConsent,
			"no active treatment consent for this program"})
	}
	scr := latestEligible(screenings, patientID, prog, now.Add(-maxScreeningAge))
	if scr == nil {
		missing = append(missing, Missing{MissingEligibleScreening, fmt.Sprintf(
			"no eligible screening for this program's current screening version in the last %d days",
			int(maxScreeningAge/(24*time.Hour)))})
	}
	if len(missing) > 0 {
		return nil, &PreconditionError{Missing: missing}
	}
	c := &Course{
		id: id, patientID: patientID, in: in, protocolVersion: prog.ProtocolVersion,
		consentID: cons.ID(), screeningID: scr.ID(), status: StatusRequested,
		version: 1, createdAt: now, updatedAt: now,
	}
	c.events = append(c.events, Requested{CourseID: id, PatientID: patientID, Version: 1, At: now,
		Input: in, ProtocolVersion: prog.ProtocolVersion})
	return c, nil
}

func validate(in Input, prog program.Program, today time.Time) (Input, error) {
	var l validation.List
	in.Program = strings.TrimSpace(in.Program)
	switch {
	case in.Program == "":
		l.Add("program", "is required")
	case in.Program != prog.Code:
		l.Add("program", "is not the program requested")
	}
	if in.PreferredStart.IsZero() {
		l.Add("preferred_start", "is required")
	} else {
		in.PreferredStart = date(in.PreferredStart)
		if in.PreferredStart.Before(date(today)) {
			l.Add("preferred_start", "is in the past")
		}
	}
	in.Notes = l.CheckText("notes", in.Notes, false, maxNotes, true)
	ind, err := program.ParseICD10(in.Indication.System, in.Indication.Code)
	if err := l.Merge(err); err != nil {
		return in, err
	}
	if err == nil {
		in.Indication = ind
		if !prog.Screening.Allows(ind.Code) {
			l.Add("indication.code", "is not an indication of this program")
		}
	}
	return in, l.Err()
}

// latestEligible is the most recent eligible screening of the patient for the
// program's current screening version completed at or after since.
func latestEligible(screenings []*screening.Screening, patientID uuid.UUID, prog program.Program, since time.Time) *screening.Screening {
	var found *screening.Screening
	for _, s := range screenings {
		if s == nil || s.PatientID() != patientID || s.Program() != prog.Code ||
			s.ScreeningVersion() != prog.Screening.Version || !s.Eligible() || s.CompletedAt().Before(since) {
			continue
		}
		if found == nil || s.CompletedAt().After(found.CompletedAt()) {
			found = s
		}
	}
	return found
}

// date is t's calendar date at midnight UTC.
func date(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// UnmarshalCourseFromDatabase rebuilds a stored course; for repositories
// only. cancelledAt and cancellationReason are zero unless cancelled.
func UnmarshalCourseFromDatabase(
	id, patientID uuid.UUID, in Input, protocolVersion string, consentID, screeningID uuid.UUID,
	status Status, cancelledAt time.Time, cancellationReason string,
	version int64, createdAt, updatedAt time.Time,
) *Course {
	return &Course{
		id: id, patientID: patientID, in: in, protocolVersion: protocolVersion,
		consentID: consentID, screeningID: screeningID, status: status,
		cancelledAt: cancelledAt, cancellationReason: cancellationReason,
		version: version, createdAt: createdAt, updatedAt: updatedAt,
	}
}

// Cancel asks to cancel the course. reason is required (at most 500
// characters; *validation.Error on field reason); a cancelled course gives
// ErrAlreadyCancelled. The version grows by one and CancellationRequested
// is recorded.
func (c *Course) Cancel(reason string, now time.Time) error {
	if c.status == StatusCancelled {
		return ErrAlreadyCancelled
	}
	reason, msg := validation.Text(reason, true, maxReason, true)
	if msg != "" {
		return validation.Field("reason", msg)
	}
	c.status = StatusCancelled
	c.cancelledAt = now
	c.cancellationReason = reason
	c.version++
	c.updatedAt = now
	c.events = append(c.events, CancellationRequested{CourseID: c.id, PatientID: c.patientID, Version: c.version,
		At: now, Reason: reason})
	return nil
}

// ID is the course's id.
func (c *Course) ID() uuid.UUID { return c.id }

// PatientID is the patient to treat.
func (c *Course) PatientID() uuid.UUID { return c.patientID }

// Input returns the request as recorded (normalised).
func (c *Course) Input() Input { return c.in }

// Program is the program code.
func (c *Course) Program() string { return c.in.Program }

// Indication is the normalised indication.
func (c *Course) Indication() program.Indication { return c.in.Indication }

// PreferredStart is the preferred first day, midnight UTC.
func (c *Course) PreferredStart() time.Time { return c.in.PreferredStart }

// Notes are the front desk's notes.
func (c *Course) Notes() string { return c.in.Notes }

// ProtocolVersion is the program's protocol version when requested.
func (c *Course) ProtocolVersion() string { return c.protocolVersion }

// ConsentID is the treatment consent the request relied on.
func (c *Course) ConsentID() uuid.UUID { return c.consentID }

// ScreeningID is the eligible screening the request relied on.
func (c *Course) ScreeningID() uuid.UUID { return c.screeningID }

// Status is requested or cancelled.
func (c *Course) Status() Status { return c.status }

// CancelledAt is when cancellation was requested; zero otherwise.
func (c *Course) CancelledAt() time.Time { return c.cancelledAt }

// CancellationReason is why; empty unless cancelled.
func (c *Course) CancellationReason() string { return c.cancellationReason }

// Version grows with every change.
func (c *Course) Version() int64 { return c.version }

// CreatedAt is when the course was requested.
func (c *Course) CreatedAt() time.Time { return c.createdAt }

// UpdatedAt is when the course last changed.
func (c *Course) UpdatedAt() time.Time { return c.updatedAt }
