// Package contact is how followup reaches a patient.
package contact

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// ErrNotFound: followup has no contact details for this patient.
var ErrNotFound = errors.New("contact not found")

// Channel is a way to reach a patient.
type Channel string

// Channels.
const (
	ChannelSMS   Channel = "sms"
	ChannelEmail Channel = "email"
)

// Contact is a patient's contact details and channel consents.
type Contact struct {
	PatientID         uuid.UUID
	Phone             string
	Email             string
	PreferredLanguage string
	// TimeZone is the IANA zone the patient lives in, as intake recorded
	// it; "" for the clinic's. Quiet hours are kept there.
	TimeZone     string
	SMSConsent   bool
	EmailConsent bool
	// Version is intake's aggregate version; an older one never overwrites a newer.
	Version   int64
	UpdatedAt time.Time
}

// InvalidError says an event's contact details cannot be kept.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return "invalid contact: " + e.Reason }

// New validates contact details built from an event.
func New(c Contact) (Contact, error) {
	if c.PatientID == uuid.Nil || c.Version < 1 {
		return Contact{}, &InvalidError{Reason: "needs a patient id and a version"}
	}
	if c.PreferredLanguage == "" {
		c.PreferredLanguage = "zh-CN"
	}
	if c.TimeZone != "" {
		// Intake validates the zone; one this machine does not know (an
		// older time zone database) falls back to the clinic's rather than
		// losing the patient's contact details.
		if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "Local" {
			c.TimeZone = ""
		}
	}
	return c, nil
}

// Channels are the channels a reminder may use: those with an address and
// the patient's consent.
func (c Contact) Channels() []Channel {
	var out []Channel
	if c.SMSConsent && c.Phone != "" {
		out = append(out, ChannelSMS)
	}
	if c.EmailConsent && c.Email != "" {
		out = append(out, ChannelEmail)
	}
	return out
}

// ChannelConsent is a patient's consent to be contacted on one channel, as
// intake recorded or withdrew it.
type ChannelConsent struct {
	ConsentID uuid.UUID
	PatientID uuid.UUID
	Channel   Channel
	Active    bool
	// Version is the consent's version in intake (1 recorded, 2 withdrawn).
	Version   int64
	UpdatedAt time.Time
}

// ChannelOfConsentKind maps intake's consent kinds to channels; ok is false
// for kinds that are not about contact.
func ChannelOfConsentKind(kind string) (Channel, bool) {
	switch kind {
	case "contact_sms":
		return ChannelSMS, true
	case "contact_email":
		return ChannelEmail, true
	}
	return "", false
}
