// Package course is a treatment course as scheduling sees it: the plan of
// its cycles under the protocol version it was planned with, and where it
// stands (requested, planned, collecting, culturing, released, infusing,
// completed; on hold, unplanned, cancelled). Pure Go, no I/O.
package course

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// Status is where a course stands.
type Status string

// The statuses. Planned to completed is the way forward; on_hold,
// unplanned and cancelled are side states. Funding (billing) and safety
// holds (follow-up) come as their own issues: a hold already returns to
// whatever state it interrupted, so they fit without new states.
const (
	Requested  Status = "requested"
	Planned    Status = "planned"
	Collecting Status = "collecting"
	Culturing  Status = "culturing"
	Released   Status = "released"
	Infusing   Status = "infusing"
	Completed  Status = "completed"
	OnHold     Status = "on_hold"
	Unplanned  Status = "unplanned"
	Cancelled  Status = "cancelled"
)

// Active reports whether a course in status s is under way: it can be
// held, and its appointments are kept.
func (s Status) Active() bool {
	return slices.Contains([]Status{Planned, Collecting, Culturing, Released, Infusing}, s)
}

// CycleStatus is where one cycle of the plan stands.
type CycleStatus string

// Cycle statuses.
const (
	// CyclePlanned: a target date; its chain is booked when its turn comes
	// (when the previous cycle's infusion is completed).
	CyclePlanned   CycleStatus = "planned"
	CycleBooked    CycleStatus = "booked"
	CycleCompleted CycleStatus = "completed"
	CycleCancelled CycleStatus = "cancelled"
)

// Cycle is one cycle of the plan.
type Cycle struct {
	Number int
	Phase  string
	// TargetDate is the planned date of the cycle's infusion, in the
	// clinic's zone (midnight UTC of that date).
	TargetDate time.Time
	Status     CycleStatus
}

// Errors.
var (
	ErrNotFound         = errors.New("course not found")
	ErrAlreadyCancelled = errors.New("course already cancelled")
	// ErrState: the change is not possible in the course's status.
	ErrState = errors.New("not possible in the course's status")
)

// StateError says which change the course's status refused.
type StateError struct {
	Action string
	Status Status
}

func (e *StateError) Error() string {
	return fmt.Sprintf("cannot %s a course that is %s", e.Action, e.Status)
}

// Unwrap makes errors.Is(err, ErrState) hold.
func (e *StateError) Unwrap() error { return ErrState }

// Course is the aggregate.
type Course struct {
	id              uuid.UUID
	patientID       uuid.UUID
	program         string
	protocolVersion string
	protocol        *protocol.Protocol
	status          Status
	heldFrom        Status
	reason, detail  string
	preferredStart  time.Time
	intakeVersion   int64
	fundedAt        time.Time
	cycles          []Cycle
	version         int64
	createdAt       time.Time
	updatedAt       time.Time
	events          []Event
}

// Request is a course intake asked for (CourseRequested).
type Request struct {
	ID              uuid.UUID
	PatientID       uuid.UUID
	Program         string
	ProtocolVersion string
	// PreferredStart is a date in the clinic's zone; zero when none.
	PreferredStart time.Time
	// IntakeVersion is intake's version of the course in the event.
	IntakeVersion int64
	// RequestedAt is when intake recorded the request.
	RequestedAt time.Time
}

// New is a requested course, not yet planned, at version 0: planning (or
// failing to) is its first change.
func New(r Request, now time.Time) (*Course, error) {
	if r.ID == uuid.Nil || r.PatientID == uuid.Nil {
		return nil, errors.New("course and patient ids are required")
	}
	if r.Program == "" || r.ProtocolVersion == "" {
		return nil, errors.New("program and protocol version are required")
	}
	return &Course{
		id: r.ID, patientID: r.PatientID, program: r.Program, protocolVersion: r.ProtocolVersion,
		status: Requested, preferredStart: r.PreferredStart, intakeVersion: r.IntakeVersion,
		createdAt: now, updatedAt: now,
	}, nil
}

// Refused is a course that is cancelled before scheduling planned it: its
// cancellation (or the withdrawal of the consent it relied on) arrived
// first, as events of different aggregates may. It is kept, cancelled at
// intake's version, so that the CourseRequested arriving late finds it and
// plans nothing. Nothing was planned, so nothing is announced.
func Refused(id, patientID uuid.UUID, program string, intakeVersion int64, reason string, now time.Time) (*Course, error) {
	if id == uuid.Nil || patientID == uuid.Nil {
		return nil, errors.New("course and patient ids are required")
	}
	return &Course{id: id, patientID: patientID, program: program, status: Cancelled, reason: reason,
		intakeVersion: intakeVersion, createdAt: now, updatedAt: now}, nil
}

// State is a course as stored, for the repository.
type State struct {
	ID              uuid.UUID
	PatientID       uuid.UUID
	Program         string
	ProtocolVersion string
	Protocol        *protocol.Protocol
	Status          Status
	HeldFrom        Status
	Reason, Detail  string
	PreferredStart  time.Time
	IntakeVersion   int64
	FundedAt        time.Time
	Cycles          []Cycle
	Version         int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// FromState rebuilds a stored course; for the repository only.
func FromState(s State) *Course {
	return &Course{
		id: s.ID, patientID: s.PatientID, program: s.Program, protocolVersion: s.ProtocolVersion,
		protocol: s.Protocol, status: s.Status, heldFrom: s.HeldFrom, reason: s.Reason, detail: s.Detail,
		preferredStart: s.PreferredStart, intakeVersion: s.IntakeVersion, fundedAt: s.FundedAt, cycles: slices.Clone(s.Cycles),
		version: s.Version, createdAt: s.CreatedAt, updatedAt: s.UpdatedAt,
	}
}

// State is the course as the repository stores it.
func (c *Course) State() State {
	return State{
		ID: c.id, PatientID: c.patientID, Program: c.program, ProtocolVersion: c.protocolVersion,
		Protocol: c.protocol, Status: c.status, HeldFrom: c.heldFrom, Reason: c.reason, Detail: c.detail,
		PreferredStart: c.preferredStart, IntakeVersion: c.intakeVersion, FundedAt: c.fundedAt, Cycles: slices.Clone(c.cycles),
		Version: c.version, CreatedAt: c.createdAt, UpdatedAt: c.updatedAt,
	}
}

// ID is the course's id (intake's).
func (c *Course) ID() uuid.UUID { return c.id }

// PatientID is the patient's id.
func (c *Course) PatientID() uuid.UUID { return c.patientID }

// Program is the program code.
func (c *Course) Program() string { return c.program }

// ProtocolVersion is the protocol version the course follows.
func (c *Course) ProtocolVersion() string { return c.protocolVersion }

// Protocol is the protocol the course was planned with; nil before.
func (c *Course) Protocol() *protocol.Protocol { return c.protocol }

// Status is where the course stands.
func (c *Course) Status() Status { return c.status }

// PreferredStart is the requested start date; zero when none.
func (c *Course) PreferredStart() time.Time { return c.preferredStart }

// Version is the course's version.
func (c *Course) Version() int64 { return c.version }

// Cycles is the plan.
func (c *Course) Cycles() []Cycle { return slices.Clone(c.cycles) }

// Cycle is cycle n of the plan.
func (c *Course) Cycle(n int) (Cycle, bool) {
	if n < 1 || n > len(c.cycles) {
		return Cycle{}, false
	}
	return c.cycles[n-1], true
}

func (c *Course) change(now time.Time) {
	c.version++
	c.updatedAt = now
}

func (c *Course) record(e Event) { c.events = append(c.events, e) }

// Plan sets the plan of a requested (or unplanned) course, whose first
// cycle's chain was booked: the course keeps p, the protocol it was
// planned with.
func (c *Course) Plan(p protocol.Protocol, cycles []Cycle, now time.Time) error {
	if c.status != Requested && c.status != Unplanned {
		return &StateError{"plan", c.status}
	}
	if len(cycles) == 0 {
		return errors.New("a plan needs cycles")
	}
	c.protocol = &p
	c.cycles = slices.Clone(cycles)
	c.status, c.reason, c.detail = Planned, "", ""
	c.change(now)
	c.record(PlannedEvent{Course: c.snapshot(), Cycles: c.Cycles(), DoseCells: p.DoseCells})
	return nil
}

// Unplan records that no chain fits: the course waits as unplanned, with
// the reason, until it is planned again. Unplanning an unplanned course for
// the same reason changes nothing.
func (c *Course) Unplan(reason, detail string, now time.Time) error {
	if c.status != Requested && c.status != Unplanned {
		return &StateError{"unplan", c.status}
	}
	if c.status == Unplanned && c.reason == reason && c.detail == detail {
		return nil
	}
	c.status, c.reason, c.detail = Unplanned, reason, detail
	c.change(now)
	c.record(UnplannedEvent{Course: c.snapshot(), Reason: reason, Detail: detail})
	return nil
}

// Replan changes the plan of an active course (a failed product: a new
// chain for its cycle, the later cycles shifted) and returns it to
// planned for that cycle.
func (c *Course) Replan(cycles []Cycle, reason string, now time.Time) error {
	if !c.status.Active() && c.status != OnHold {
		return &StateError{"re-plan", c.status}
	}
	c.cycles = slices.Clone(cycles)
	c.advance(Planned)
	c.change(now)
	c.record(PlannedEvent{Course: c.snapshot(), Cycles: c.Cycles(), DoseCells: c.protocol.DoseCells, Replanned: true, Reason: reason})
	return nil
}

// SetCycle updates one cycle of the plan (booked when its chain is booked,
// completed when infused), without an event of its own: the appointment
// and product events announce it.
func (c *Course) SetCycle(cy Cycle, now time.Time) error {
	if cy.Number < 1 || cy.Number > len(c.cycles) {
		return fmt.Errorf("course has no cycle %d", cy.Number)
	}
	c.cycles[cy.Number-1] = cy
	c.change(now)
	return nil
}

// advance moves the course forward; a held course remembers where to return.
func (c *Course) advance(to Status) {
	if c.status == OnHold {
		c.heldFrom = to
		return
	}
	c.status = to
}

// Progress moves an active course to a later stage of its current cycle
// (collecting, culturing, released, infusing): what the appointment and
// product events already announce. A cancelled or completed course does
// not move.
func (c *Course) Progress(to Status, now time.Time) error {
	if !c.status.Active() && c.status != OnHold {
		return &StateError{"advance", c.status}
	}
	c.advance(to)
	c.change(now)
	return nil
}

// Infused records cycle n's infusion: the course completes with its last
// cycle (CourseCompleted), otherwise it is infusing.
//
// An infusion under way when the course was put on hold is still recorded
// (the cells were given): the course then resumes to infusing.
func (c *Course) Infused(n int, now time.Time) error {
	if !c.status.Active() && c.status != OnHold {
		return &StateError{"infuse", c.status}
	}
	if n < 1 || n > len(c.cycles) {
		return fmt.Errorf("course has no cycle %d", n)
	}
	c.cycles[n-1].Status = CycleCompleted
	c.change(now)
	if n < len(c.cycles) {
		c.advance(Infusing)
		return nil
	}
	c.status, c.heldFrom = Completed, ""
	given := 0
	for _, cy := range c.cycles {
		if cy.Status == CycleCompleted {
			given++
		}
	}
	c.record(CompletedEvent{Course: c.snapshot(), Infusions: given})
	return nil
}

// Hold puts an active course on hold; resuming returns it where it was.
func (c *Course) Hold(reason string, now time.Time) error {
	if c.status == OnHold {
		return nil
	}
	if !c.status.Active() {
		return &StateError{"hold", c.status}
	}
	c.heldFrom, c.status, c.reason = c.status, OnHold, reason
	c.change(now)
	c.record(HeldEvent{Course: c.snapshot(), Reason: reason, PreviousStatus: c.heldFrom})
	return nil
}

// Resume returns a held course to where it was.
func (c *Course) Resume(now time.Time) error {
	if c.status != OnHold {
		return &StateError{"resume", c.status}
	}
	c.status, c.heldFrom, c.reason = c.heldFrom, "", ""
	c.change(now)
	c.record(ResumedEvent{Course: c.snapshot(), Status: c.status})
	return nil
}

// Cancel ends a course that is not completed; cultureStarted and
// infusions say what had happened, for billing's policy.
func (c *Course) Cancel(reason string, cultureStarted bool, infusions int, now time.Time) error {
	switch c.status {
	case Cancelled:
		return ErrAlreadyCancelled
	case Completed:
		return &StateError{"cancel", c.status}
	}
	previous := c.status
	c.status, c.reason, c.heldFrom = Cancelled, reason, ""
	for i := range c.cycles {
		if c.cycles[i].Status != CycleCompleted {
			c.cycles[i].Status = CycleCancelled
		}
	}
	c.change(now)
	c.record(CancelledEvent{Course: c.snapshot(), Reason: reason, PreviousStatus: previous,
		CultureStarted: cultureStarted, InfusionsGiven: infusions})
	return nil
}

// ErrNotFunded: the course's deposit has not been paid, so its culture
// does not start (the funding gate).
var ErrNotFunded = errors.New("the course is not funded: its deposit has not been paid")

// Fund records that the course's deposit was paid (billing's
// DepositPaid). Funding a funded course changes nothing; a cancelled or
// completed course is not funded any more.
func (c *Course) Fund(now time.Time) error {
	if !c.fundedAt.IsZero() {
		return nil
	}
	if c.status == Cancelled || c.status == Completed {
		return &StateError{"fund", c.status}
	}
	c.fundedAt = now
	c.change(now)
	c.record(FundedEvent{Course: c.snapshot()})
	return nil
}

// Funded reports whether the deposit was paid, and when.
func (c *Course) Funded() (bool, time.Time) { return !c.fundedAt.IsZero(), c.fundedAt }

// MayCulture reports whether a culture may start for the course: funded,
// or under a protocol that needs no deposit.
func (c *Course) MayCulture() error {
	if !c.fundedAt.IsZero() || (c.protocol != nil && c.protocol.NoDeposit) {
		return nil
	}
	return ErrNotFunded
}

// Reason is why the course is unplanned, held or cancelled.
func (c *Course) Reason() (reason, detail string) { return c.reason, c.detail }
