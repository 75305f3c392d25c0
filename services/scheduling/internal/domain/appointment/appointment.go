// Package appointment is one booked occurrence: a draw, a culture slot, an
// infusion, an ad-hoc visit. A series is never one appointment: every
// occurrence is its own, moved, cancelled and completed on its own. Pure
// Go, no I/O; that no two appointments share a resource or a patient at
// once is the database's to enforce (exclusion constraints).
package appointment

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/clock"
)

// Status is where an appointment stands.
type Status string

// The statuses. Booked, checked-in and completed appointments hold their
// resource; the others free it.
const (
	Booked    Status = "booked"
	CheckedIn Status = "checked_in"
	Completed Status = "completed"
	Cancelled Status = "cancelled"
	// Suspended: the course is on hold; resuming re-books it.
	Suspended Status = "suspended"
	Missed    Status = "missed"
	NoShow    Status = "no_show"
)

// Holds reports whether an appointment in status s holds its resource.
func (s Status) Holds() bool { return s == Booked || s == CheckedIn || s == Completed }

// Consultation is the kind of an ad-hoc visit that is no protocol step.
const Consultation = "consultation"

// Errors.
var (
	ErrNotFound = errors.New("appointment not found")
	// ErrState: the change is not possible in the appointment's status.
	ErrState = errors.New("not possible in the appointment's status")
	// ErrNotToday: check-in happens on the appointment's day in the
	// clinic's zone, not before, and not after it ended.
	ErrNotToday = errors.New("an appointment is checked in on its day")
	// ErrNotStarted: completing, or marking a no-show, before the start.
	ErrNotStarted = errors.New("the appointment has not started")
	// ErrTimes: the end is not after the start.
	ErrTimes = errors.New("an appointment ends after it starts")
)

// StateError says which change the appointment's status refused.
type StateError struct {
	Action string
	Status Status
}

func (e *StateError) Error() string {
	return fmt.Sprintf("cannot %s an appointment that is %s", e.Action, e.Status)
}

// Unwrap makes errors.Is(err, ErrState) hold.
func (e *StateError) Unwrap() error { return ErrState }

// Details is what an appointment is: who, what, where and when. It is what
// every appointment event carries.
type Details struct {
	ID       uuid.UUID
	CourseID uuid.UUID // uuid.Nil for an ad-hoc appointment
	Cycle    int       // 0 for an ad-hoc appointment
	// Step and Session place it in its cycle's chain (0 for ad hoc).
	Step, Session  int
	PatientID      uuid.UUID
	Program        string
	Kind           string
	ResourceID     uuid.UUID
	ResourceKind   string
	PatientPresent bool
	Start, End     time.Time
	// BlockedUntil is End plus the buffer the resource needs afterwards.
	BlockedUntil time.Time
	ProductID    string
}

// Appointment is the aggregate.
type Appointment struct {
	d           Details
	status      Status
	dose        int64
	reason      string
	checkedInAt time.Time
	completedAt time.Time
	version     int64
	createdAt   time.Time
	updatedAt   time.Time
	events      []Event
}

// Book is a new appointment (version 1, AppointmentBooked).
func Book(d Details, now time.Time) (*Appointment, error) {
	if d.ID == uuid.Nil || d.PatientID == uuid.Nil || d.ResourceID == uuid.Nil {
		return nil, errors.New("appointment, patient and resource ids are required")
	}
	if !d.End.After(d.Start) {
		return nil, ErrTimes
	}
	if d.BlockedUntil.Before(d.End) {
		d.BlockedUntil = d.End
	}
	a := &Appointment{d: d, status: Booked, version: 1, createdAt: now, updatedAt: now}
	a.record(BookedEvent{Appointment: a.snapshot()})
	return a, nil
}

// State is an appointment as stored, for the repository.
type State struct {
	Details
	Status      Status
	Dose        int64
	Reason      string
	CheckedInAt time.Time
	CompletedAt time.Time
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// FromState rebuilds a stored appointment; for the repository only.
func FromState(s State) *Appointment {
	return &Appointment{d: s.Details, status: s.Status, dose: s.Dose, reason: s.Reason,
		checkedInAt: s.CheckedInAt, completedAt: s.CompletedAt, version: s.Version,
		createdAt: s.CreatedAt, updatedAt: s.UpdatedAt}
}

// State is the appointment as the repository stores it.
func (a *Appointment) State() State {
	return State{Details: a.d, Status: a.status, Dose: a.dose, Reason: a.reason,
		CheckedInAt: a.checkedInAt, CompletedAt: a.completedAt, Version: a.version,
		CreatedAt: a.createdAt, UpdatedAt: a.updatedAt}
}

// Details is what the appointment is.
func (a *Appointment) Details() Details { return a.d }

// ID is the appointment's id.
func (a *Appointment) ID() uuid.UUID { return a.d.ID }

// Status is where it stands.
func (a *Appointment) Status() Status { return a.status }

// Version is its version.
func (a *Appointment) Version() int64 { return a.version }

func (a *Appointment) change(now time.Time) {
	a.version++
	a.updatedAt = now
}

func (a *Appointment) record(e Event) { a.events = append(a.events, e) }

// Move is where an appointment moves to.
type Move struct {
	Start, End, BlockedUntil time.Time
}

// Reschedule moves a booked appointment.
func (a *Appointment) Reschedule(m Move, now time.Time) error {
	if a.status != Booked {
		return &StateError{"reschedule", a.status}
	}
	return a.move(m, now)
}

func (a *Appointment) move(m Move, now time.Time) error {
	if !m.End.After(m.Start) {
		return ErrTimes
	}
	if m.BlockedUntil.Before(m.End) {
		m.BlockedUntil = m.End
	}
	prevStart, prevEnd := a.d.Start, a.d.End
	a.d.Start, a.d.End, a.d.BlockedUntil = m.Start, m.End, m.BlockedUntil
	a.status = Booked
	a.change(now)
	a.record(RescheduledEvent{Appointment: a.snapshot(), PreviousStart: prevStart, PreviousEnd: prevEnd})
	return nil
}

// Cancel cancels a booked (or suspended) appointment with a reason.
// Cancelling a cancelled one changes nothing.
func (a *Appointment) Cancel(reason string, now time.Time) error {
	switch a.status {
	case Cancelled:
		return nil
	case Booked, CheckedIn, Suspended:
	default:
		return &StateError{"cancel", a.status}
	}
	a.status, a.reason = Cancelled, reason
	a.change(now)
	a.record(CancelledEvent{Appointment: a.snapshot(), Reason: reason})
	return nil
}

// Suspend frees the resource of a booked appointment while its course is
// on hold; Rebook books it again.
func (a *Appointment) Suspend(reason string, now time.Time) error {
	if a.status != Booked {
		return &StateError{"suspend", a.status}
	}
	a.status, a.reason = Suspended, reason
	a.change(now)
	a.record(CancelledEvent{Appointment: a.snapshot(), Reason: reason, Suspended: true})
	return nil
}

// Rebook books a suspended appointment again, at m (its old time if still
// free, or a new one): AppointmentRescheduled.
func (a *Appointment) Rebook(m Move, now time.Time) error {
	if a.status != Suspended {
		return &StateError{"re-book", a.status}
	}
	a.reason = ""
	return a.move(m, now)
}

// CheckIn checks the patient in, on the appointment's day in the clinic's
// zone and before it ends.
func (a *Appointment) CheckIn(now time.Time, loc *time.Location) error {
	if a.status == CheckedIn {
		return nil
	}
	if a.status != Booked {
		return &StateError{"check in", a.status}
	}
	if !clock.DateOf(now, loc).Equal(clock.DateOf(a.d.Start, loc)) || !now.Before(a.d.End) {
		return ErrNotToday
	}
	a.status, a.checkedInAt = CheckedIn, now
	a.change(now)
	a.record(CheckedInEvent{Appointment: a.snapshot()})
	return nil
}

// Completion is what completing an appointment records: the product
// collected or infused, the dose given.
type Completion struct {
	ProductID string
	DoseCells int64
	// LastInfusion: this completes the course's last infusion.
	LastInfusion bool
}

// Complete completes a checked-in appointment, once it has started.
func (a *Appointment) Complete(c Completion, now time.Time) error {
	if a.status != CheckedIn {
		return &StateError{"complete", a.status}
	}
	if now.Before(a.d.Start) {
		return ErrNotStarted
	}
	if c.ProductID != "" {
		a.d.ProductID = c.ProductID
	}
	a.status, a.dose, a.completedAt = Completed, c.DoseCells, now
	a.change(now)
	a.record(CompletedEvent{Appointment: a.snapshot(), DoseCells: c.DoseCells, LastInfusion: c.LastInfusion})
	return nil
}

// Miss marks a booked appointment missed: the grace period after its start
// ran out without a check-in. A durable job calls it at start+grace; an
// appointment that moved since (start differs) or was checked in is left
// alone, so the job of an old time never misses the new one.
func (a *Appointment) Miss(start time.Time, grace time.Duration, now time.Time) (bool, error) {
	if a.status != Booked || !a.d.Start.Equal(start) {
		return false, nil
	}
	if now.Before(a.d.Start.Add(grace)) {
		return false, nil
	}
	a.status = Missed
	a.change(now)
	a.record(MissedEvent{Appointment: a.snapshot()})
	return true, nil
}

// NoShow is staff marking a booked appointment a no-show, once it started.
func (a *Appointment) NoShow(now time.Time) error {
	if a.status == NoShow {
		return nil
	}
	if a.status != Booked {
		return &StateError{"mark as a no-show", a.status}
	}
	if now.Before(a.d.Start) {
		return ErrNotStarted
	}
	a.status = NoShow
	a.change(now)
	a.record(MissedEvent{Appointment: a.snapshot(), NoShow: true})
	return nil
}

// BlockInfusion records that completing the infusion was refused by the
// chain-of-identity check (InfusionBlocked). The appointment stays checked
// in: the nurse may scan the right product.
func (a *Appointment) BlockInfusion(scanned, reason string, now time.Time) {
	a.change(now)
	a.record(InfusionBlockedEvent{Appointment: a.snapshot(), Scanned: scanned, Reason: reason})
}

// AllocateProduct ties a donor dose to the infusion when it is planned.
func (a *Appointment) AllocateProduct(productID string) { a.d.ProductID = productID }
