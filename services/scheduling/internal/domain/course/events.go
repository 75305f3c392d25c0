package course

import (
	"time"

	"github.com/google/uuid"
)

// Event is something that happened to a course. The aggregate records its
// events as it changes; the repository writes them to the outbox in the
// transaction that stores the course.
type Event interface{ courseEvent() }

// Snapshot is what every course event carries about the course.
type Snapshot struct {
	ID              uuid.UUID
	PatientID       uuid.UUID
	Program         string
	ProtocolVersion string
	Version         int64
	At              time.Time
}

func (c *Course) snapshot() Snapshot {
	return Snapshot{ID: c.id, PatientID: c.patientID, Program: c.program, ProtocolVersion: c.protocolVersion,
		Version: c.version, At: c.updatedAt}
}

// PlannedEvent: the course was planned (or re-planned).
type PlannedEvent struct {
	Course    Snapshot
	Cycles    []Cycle
	DoseCells int64
	Replanned bool
	Reason    string
}

// UnplannedEvent: nothing fits within the horizon.
type UnplannedEvent struct {
	Course Snapshot
	Reason string
	Detail string
}

// HeldEvent: the course was put on hold.
type HeldEvent struct {
	Course         Snapshot
	Reason         string
	PreviousStatus Status
}

// ResumedEvent: a held course was resumed.
type ResumedEvent struct {
	Course Snapshot
	Status Status
}

// CompletedEvent: the course's last infusion was given.
type CompletedEvent struct {
	Course    Snapshot
	Infusions int
}

// CancelledEvent: the course was cancelled.
type CancelledEvent struct {
	Course         Snapshot
	Reason         string
	PreviousStatus Status
	CultureStarted bool
	InfusionsGiven int
}

// FundedEvent: billing's deposit arrived; the culture may start. It stays
// inside scheduling (billing announced the payment): the course's timeline
// records it.
type FundedEvent struct {
	Course Snapshot
}

func (FundedEvent) courseEvent()    {}
func (PlannedEvent) courseEvent()   {}
func (UnplannedEvent) courseEvent() {}
func (HeldEvent) courseEvent()      {}
func (ResumedEvent) courseEvent()   {}
func (CompletedEvent) courseEvent() {}
func (CancelledEvent) courseEvent() {}

// Events returns what happened to the course since it was created or
// loaded, oldest first.
func (c *Course) Events() []Event { return append([]Event(nil), c.events...) }

// TakeEvents returns the events recorded since the last call (or the load)
// and forgets them: the repository writes each event exactly once, however
// often the aggregate is saved in one transaction.
func (c *Course) TakeEvents() []Event {
	out := c.events
	c.events = nil
	return out
}
