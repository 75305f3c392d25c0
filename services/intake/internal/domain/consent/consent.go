// Package consent holds the consents a patient signs: to treatment under a
// protocol or trial, to data processing, to research, and to be contacted by
// SMS or e-mail. A withdrawal stops future use; it never deletes the record.
// Pure Go, no I/O.
package consent

import (
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
)

// Kind is what the patient consents to.
type Kind string

// Consent kinds.
const (
	KindTreatment      Kind = "treatment"
	KindDataProcessing Kind = "data_processing"
	KindResearch       Kind = "research"
	KindContactSMS     Kind = "contact_sms"
	KindContactEmail   Kind = "contact_email"
)

const kindMessage = "must be one of treatment, data_processing, research, contact_sms, contact_email"

// ParseKind accepts treatment, data_processing, research, contact_sms or
// contact_email; errors are *validation.Error on field kind.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case KindTreatment, KindDataProcessing, KindResearch, KindContactSMS, KindContactEmail:
		return k, nil
	case "":
		return "", validation.Field("kind", "is required")
	}
	return "", validation.Field("kind", kindMessage)
}

// SignedBy is who signed the form.
type SignedBy string

// Signers.
const (
	SignedByPatient  SignedBy = "patient"
	SignedByGuardian SignedBy = "guardian"
)

// ParseSignedBy accepts patient or guardian; errors are *validation.Error on
// field signed_by.
func ParseSignedBy(s string) (SignedBy, error) {
	switch b := SignedBy(s); b {
	case SignedByPatient, SignedByGuardian:
		return b, nil
	case "":
		return "", validation.Field("signed_by", "is required")
	}
	return "", validation.Field("signed_by", "must be one of patient, guardian")
}

// Status of a consent.
type Status string

// Statuses.
const (
	StatusActive    Status = "active"
	StatusWithdrawn Status = "withdrawn"
)

var (
	// ErrNotFound is returned when a consent does not exist.
	ErrNotFound = errors.New("consent not found")
	// ErrAlreadyWithdrawn is returned when withdrawing a withdrawn consent.
	ErrAlreadyWithdrawn = errors.New("consent already withdrawn")
)

// Limits.
const (
	// ClockSkew is how far in the future signed_at may be, for desks whose
	// clocks run ahead.
	ClockSkew      = 5 * time.Minute
	maxFormVersion = 50
	maxReference   = 100
	maxReason      = 500
)

// Input is a consent as the front desk records it.
type Input struct {
	Kind        Kind
	Program     string // program code; required for treatment
	FormVersion string // the version of the form signed
	SignedAt    time.Time
	SignedBy    SignedBy
	ProtocolID  string // approved protocol; treatment needs it or TrialID
	TrialID     string // registered clinical trial; research needs it
}

// Consent is the aggregate.
type Consent struct {
	id               uuid.UUID
	patientID        uuid.UUID
	in               Input
	status           Status
	withdrawnAt      time.Time
	withdrawalReason string
	version          int64
	createdAt        time.Time
	updatedAt        time.Time
	events           []Event
}

// New validates in and returns an active consent at version 1 that has
// recorded Recorded. Every rejected field is listed in one *validation.Error:
//   - kind: one of the kinds;
//   - program: a program code, required for treatment, empty for
//     data_processing, contact_sms and contact_email, optional for research;
//   - form_version: required, at most 50 characters;
//   - signed_at: required, not after now plus ClockSkew;
//   - signed_by: patient or guardian;
//   - protocol_id: treatment needs a protocol_id or a trial_id;
//   - trial_id: research needs a trial_id.
func New(id, patientID uuid.UUID, in Input, now time.Time) (*Consent, error) {
	in, err := validate(in, now)
	if err != nil {
		return nil, err
	}
	c := &Consent{
		id: id, patientID: patientID, in: in, status: StatusActive,
		version: 1, createdAt: now, updatedAt: now,
	}
	c.events = append(c.events, Recorded{ConsentID: id, PatientID: patientID, Version: 1, At: now, Input: in})
	return c, nil
}

func validate(in Input, now time.Time) (Input, error) {
	var l validation.List
	kind, err := ParseKind(string(in.Kind))
	if err := l.Merge(err); err != nil {
		return in, err
	}
	in.Program = strings.TrimSpace(in.Program)
	switch {
	case in.Program == "" && kind == KindTreatment:
		l.Add("program", "is required for a treatment consent")
	case in.Program != "" && (kind == KindDataProcessing || kind == KindContactSMS || kind == KindContactEmail):
		l.Add("program", "must be empty for a "+string(kind)+" consent")
	case in.Program != "" && !program.ValidCode(in.Program):
		l.Add("program", "is not a program code")
	}
	in.FormVersion = l.CheckText("form_version", in.FormVersion, true, maxFormVersion, false)
	switch {
	case in.SignedAt.IsZero():
		l.Add("signed_at", "is required")
	case in.SignedAt.After(now.Add(ClockSkew)):
		l.Add("signed_at", "is in the future")
	}
	_, err = ParseSignedBy(string(in.SignedBy))
	if err := l.Merge(err); err != nil {
		return in, err
	}
	in.ProtocolID = l.CheckText("protocol_id", in.ProtocolID, false, maxReference, false)
	in.TrialID = l.CheckText("trial_id", in.TrialID, false, maxReference, false)
	switch {
	case kind == KindTreatment && in.ProtocolID == "" && in.TrialID == "":
		l.Add("protocol_id", "a protocol_id or a trial_id is required for a treatment consent")
	case kind == KindResearch && in.TrialID == "":
		l.Add("trial_id", "is required for a research consent")
	}
	return in, l.Err()
}

// UnmarshalConsentFromDatabase rebuilds a stored consent; for repositories
// only. withdrawnAt and withdrawalReason are zero for an active consent.
func UnmarshalConsentFromDatabase(
	id, patientID uuid.UUID, in Input, status Status, withdrawnAt time.Time, withdrawalReason string,
	version int64, createdAt, updatedAt time.Time,
) *Consent {
	return &Consent{
		id: id, patientID: patientID, in: in, status: status,
		withdrawnAt: withdrawnAt, withdrawalReason: withdrawalReason,
		version: version, createdAt: createdAt, updatedAt: updatedAt,
	}
}

// Withdraw ends the consent. reason is required (at most 500 characters;
// *validation.Error on field reason); a withdrawn consent gives
// ErrAlreadyWithdrawn. The version grows by one and Withdrawn is recorded.
func (c *Consent) Withdraw(reason string, now time.Time) error {
	if c.status == StatusWithdrawn {
		return ErrAlreadyWithdrawn
	}
	reason, msg := validation.Text(reason, true, maxReason, true)
	if msg != "" {
		return validation.Field("reason", msg)
	}
	c.status = StatusWithdrawn
	c.withdrawnAt = now
	c.withdrawalReason = reason
	c.version++
	c.updatedAt = now
	c.events = append(c.events, Withdrawn{ConsentID: c.id, PatientID: c.patientID, Version: c.version, At: now,
		Kind: c.in.Kind, Program: c.in.Program, Reason: reason})
	return nil
}

// ID is the consent's id.
func (c *Consent) ID() uuid.UUID { return c.id }

// PatientID is the patient who consented.
func (c *Consent) PatientID() uuid.UUID { return c.patientID }

// Input returns the consent as recorded (normalised).
func (c *Consent) Input() Input { return c.in }

// Kind is what was consented to.
func (c *Consent) Kind() Kind { return c.in.Kind }

// Program is the program code of a treatment (or research) consent.
func (c *Consent) Program() string { return c.in.Program }

// FormVersion is the version of the form signed.
func (c *Consent) FormVersion() string { return c.in.FormVersion }

// SignedAt is when the form was signed.
func (c *Consent) SignedAt() time.Time { return c.in.SignedAt }

// SignedBy is who signed.
func (c *Consent) SignedBy() SignedBy { return c.in.SignedBy }

// ProtocolID is the approved protocol, if any.
func (c *Consent) ProtocolID() string { return c.in.ProtocolID }

// TrialID is the registered clinical trial, if any.
func (c *Consent) TrialID() string { return c.in.TrialID }

// Status is active or withdrawn.
func (c *Consent) Status() Status { return c.status }

// Active reports whether the consent is in force.
func (c *Consent) Active() bool { return c.status == StatusActive }

// WithdrawnAt is when the consent was withdrawn; zero while active.
func (c *Consent) WithdrawnAt() time.Time { return c.withdrawnAt }

// WithdrawalReason is why the consent was withdrawn; empty while active.
func (c *Consent) WithdrawalReason() string { return c.withdrawalReason }

// Version grows with every change.
func (c *Consent) Version() int64 { return c.version }

// CreatedAt is when the consent was recorded.
func (c *Consent) CreatedAt() time.Time { return c.createdAt }

// UpdatedAt is when the consent last changed.
func (c *Consent) UpdatedAt() time.Time { return c.updatedAt }

// ActiveTreatmentFor returns the active treatment consent for the program
// code, the most recently signed one when there are several, or nil.
func ActiveTreatmentFor(consents []*Consent, programCode string) *Consent {
	var found *Consent
	for _, c := range consents {
		if c == nil || !c.Active() || c.in.Kind != KindTreatment || c.in.Program != programCode {
			continue
		}
		if found == nil || c.in.SignedAt.After(found.in.SignedAt) {
			found = c
		}
	}
	return found
}
