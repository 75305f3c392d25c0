package appointment

import (
	"time"
)

// Event is something that happened to an appointment. The aggregate records
// its events; the repository writes them to the outbox in the transaction
// that stores it.
type Event interface{ appointmentEvent() }

// Snapshot is the appointment as an event carries it.
type Snapshot struct {
	Details
	Version int64
	At      time.Time
}

func (a *Appointment) snapshot() Snapshot {
	return Snapshot{Details: a.d, Version: a.version, At: a.updatedAt}
}

// BookedEvent: a new appointment.
type BookedEvent struct{ Appointment Snapshot }

// RescheduledEvent: it moved (or a suspended one was re-booked).
type RescheduledEvent struct {
	Appointment                Snapshot
	PreviousStart, PreviousEnd time.Time
}

// CancelledEvent: cancelled, or suspended while its course is on hold.
type CancelledEvent struct {
	Appointment Snapshot
	Reason      string
	Suspended   bool
}

// CheckedInEvent: the patient was checked in.
type CheckedInEvent struct{ Appointment Snapshot }

// CompletedEvent: completed, with the product and dose.
type CompletedEvent struct {
	Appointment  Snapshot
	DoseCells    int64
	LastInfusion bool
}

// MissedEvent: missed (grace period) or a no-show (staff).
type MissedEvent struct {
	Appointment Snapshot
	NoShow      bool
}

// InfusionBlockedEvent: the chain-of-identity check refused the infusion.
type InfusionBlockedEvent struct {
	Appointment Snapshot
	Scanned     string
	Reason      string
}

func (BookedEvent) appointmentEvent()          {}
func (RescheduledEvent) appointmentEvent()     {}
func (CancelledEvent) appointmentEvent()       {}
func (CheckedInEvent) appointmentEvent()       {}
func (CompletedEvent) appointmentEvent()       {}
func (MissedEvent) appointmentEvent()          {}
func (InfusionBlockedEvent) appointmentEvent() {}

// Events returns what happened since it was booked or loaded, oldest first.
func (a *Appointment) Events() []Event { return append([]Event(nil), a.events...) }

// TakeEvents returns the events recorded since the last call (or the load)
// and forgets them: the repository writes each event exactly once, however
// often the aggregate is saved in one transaction.
func (a *Appointment) TakeEvents() []Event {
	out := a.events
	a.events = nil
	return out
}
