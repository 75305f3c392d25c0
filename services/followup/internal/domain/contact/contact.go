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
	SMSConsent        bool
	EmailConsent      bool
	// Version is intake's aggregate version; an older one never overwrites a newer.
	Version   int64
	UpdatedAt time.Time
}

// New validates contact details built from an event.
func New(c Contact) (Contact, error) {
	if c.PatientID == uuid.Nil || c.Version < 1 {
		return Contact{}, errors.New("contact needs a patient id and a version")
	}
	if c.PreferredLanguage == "" {
		c.PreferredLanguage = "zh-CN"
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
