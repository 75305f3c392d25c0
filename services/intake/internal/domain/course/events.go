package course

import (
	"time"

	"github.com/google/uuid"
)

// Event is something that happened to a course request. The aggregate
// records its events as it changes; the repository writes them to the
// outbox in the transaction that stores the course.
type Event interface{ courseEvent() }

// Requested: a new course request at version 1; Input is as normalised.
type Requested struct {
	CourseID        uuid.UUID
	PatientID       uuid.UUID
	Version         int64
	At              time.Time
	Input           Input
	ProtocolVersion string
}

// CancellationRequested: the front desk asked to cancel the course.
type CancellationRequested struct {
	CourseID  uuid.UUID
	PatientID uuid.UUID
	Version   int64
	At        time.Time
	Reason    string
}

func (Requested) courseEvent()             {}
func (CancellationRequested) courseEvent() {}

// Events returns what happened to the course since it was requested or
// loaded, oldest first; nothing for a course loaded and left unchanged.
func (c *Course) Events() []Event { return append([]Event(nil), c.events...) }
