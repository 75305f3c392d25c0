package patient

import (
	"time"

	"github.com/google/uuid"
)

// Event is something that happened to a patient. The aggregate records its
// events as it changes; the repository writes them to the outbox in the
// transaction that stores the patient, so the domain, not the storage,
// decides which events a change causes.
type Event interface{ patientEvent() }

// Registered: a new patient at version 1.
type Registered struct {
	PatientID uuid.UUID
	Version   int64
	At        time.Time
	Details   Details
}

// Updated: the patient's details changed; Details are the new ones.
type Updated struct {
	PatientID uuid.UUID
	Version   int64
	At        time.Time
	Details   Details
}

func (Registered) patientEvent() {}
func (Updated) patientEvent()    {}

// Events returns what happened to the patient since it was created or
// loaded, oldest first; nothing for a patient loaded and left unchanged.
// The events are copies: changing them changes nothing recorded.
func (p *Patient) Events() []Event {
	var out []Event
	for _, ev := range p.events {
		switch e := ev.(type) {
		case Registered:
			e.Details = e.Details.clone()
			ev = e
		case Updated:
			e.Details = e.Details.clone()
			ev = e
		}
		out = append(out, ev)
	}
	return out
}
