package screening

import (
	"time"

	"github.com/google/uuid"
)

// Event is something that happened to a screening. The aggregate records its
// events; the repository writes them to the outbox in the transaction that
// stores the screening.
type Event interface{ screeningEvent() }

// Completed: a checklist was evaluated; Result says eligible or why not.
type Completed struct {
	ScreeningID      uuid.UUID
	PatientID        uuid.UUID
	Version          int64
	At               time.Time
	Program          string
	ScreeningVersion string
	Result           Result
}

func (Completed) screeningEvent() {}

// Events returns what happened to the screening since it was created or
// loaded; nothing for a stored screening. The events are copies.
func (s *Screening) Events() []Event {
	var out []Event
	for _, ev := range s.events {
		if e, ok := ev.(Completed); ok {
			e.Result = cloneResult(e.Result)
			ev = e
		}
		out = append(out, ev)
	}
	return out
}
