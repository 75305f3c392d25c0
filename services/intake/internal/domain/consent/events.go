package consent

import (
	"time"

	"github.com/google/uuid"
)

// Event is something that happened to a consent. The aggregate records its
// events as it changes; the repository writes them to the outbox in the
// transaction that stores the consent.
type Event interface{ consentEvent() }

// Recorded: a signed consent, active at version 1; Input is as normalised.
type Recorded struct {
	ConsentID uuid.UUID
	PatientID uuid.UUID
	Version   int64
	At        time.Time
	Input     Input
}

// Withdrawn: the consent ended; its record stays.
type Withdrawn struct {
	ConsentID uuid.UUID
	PatientID uuid.UUID
	Version   int64
	At        time.Time
	Kind      Kind
	Program   string
	Reason    string
}

func (Recorded) consentEvent()  {}
func (Withdrawn) consentEvent() {}

// Events returns what happened to the consent since it was created or
// loaded, oldest first; nothing for a consent loaded and left unchanged.
func (c *Consent) Events() []Event { return append([]Event(nil), c.events...) }
