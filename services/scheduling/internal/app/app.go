// Package app holds scheduling's use cases. They hold no SQL and no
// transport: each runs inside one transaction through Repositories (an
// event handler gets them bound to its transaction; an HTTP request or a
// job gets them from a UnitOfWork), so a change, the events it causes and
// the durable jobs it asks for commit together or not at all.
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/appointment"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/patientref"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/plan"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// Repositories are scheduling's repositories bound to one transaction. An
// event handler gets them from the factory service.New wires (adapters.
// TxRepositories), so what it writes commits, or rolls back, together with
// the record that the event was processed.
type Repositories interface {
	Patients() PatientWriter
	Courses() Courses
	Appointments() Appointments
	Products() Products
	Reference() Reference
	Jobs() Jobs
	Withdrawals() Withdrawals
}

// Withdrawals remembers withdrawn treatment consents.
type Withdrawals interface {
	// Record keeps a withdrawal; recording one twice changes nothing.
	Record(ctx context.Context, consentID, patientID uuid.UUID, program string, at time.Time) error
	// Since reports whether the patient withdrew a treatment consent for
	// the program (or for every program: an empty one) at or after t.
	Since(ctx context.Context, patientID uuid.UUID, program string, t time.Time) (bool, error)
}

// UnitOfWork runs fn in one transaction: it commits when fn returns nil.
type UnitOfWork interface {
	Do(ctx context.Context, fn func(Repositories) error) error
}

// PatientWriter stores patient references.
type PatientWriter interface {
	// Save stores p unless the same or a newer version is stored: a stale
	// or repeated event changes nothing.
	Save(ctx context.Context, p patientref.Patient) error
	// Get returns the reference or patientref.ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (patientref.Patient, error)
}

// PatientReader reads patient references.
type PatientReader interface {
	// Get returns the reference or patientref.ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (patientref.Patient, error)
}

// Courses stores courses; Save writes the events the course recorded.
type Courses interface {
	// Get returns the course locked for the transaction, or course.ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (*course.Course, error)
	Add(ctx context.Context, c *course.Course) error
	Save(ctx context.Context, c *course.Course) error
	// Active returns the ids of the patient's courses that are not
	// completed or cancelled; of one program unless program is empty.
	Active(ctx context.Context, patientID uuid.UUID, program string) ([]uuid.UUID, error)
}

// Appointments stores appointments; writes that would double-book a
// resource or a patient fail with *ConflictError and change nothing.
type Appointments interface {
	// Get returns the appointment locked for the transaction, or
	// appointment.ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (*appointment.Appointment, error)
	// OfCourse returns the course's appointments locked, in start order.
	OfCourse(ctx context.Context, courseID uuid.UUID) ([]*appointment.Appointment, error)
	// Add books all of as or none of them.
	Add(ctx context.Context, as ...*appointment.Appointment) error
	// BookOne books one appointment with no savepoint. A refusal is a
	// *ConflictError naming the refused booking (Refused) but not yet what
	// it collides with: the transaction is aborted, so the caller returns
	// at once, and the unit of work names the collision after rollback.
	BookOne(ctx context.Context, a *appointment.Appointment) error
	// CourseOf returns the id of the appointment's course (uuid.Nil for an
	// ad-hoc one) without locking anything, or appointment.ErrNotFound.
	CourseOf(ctx context.Context, id uuid.UUID) (uuid.UUID, error)
	// Save stores changed appointments, all or none, in the given order.
	Save(ctx context.Context, as ...*appointment.Appointment) error
	// Occupancy is what is booked in [from, to): the blocked ranges of
	// every resource and the patient's own busy times.
	Occupancy(ctx context.Context, patientID uuid.UUID, from, to time.Time) (plan.Occupancy, error)
	// RecordBlock keeps a chain-of-identity refusal on record.
	RecordBlock(ctx context.Context, appointmentID uuid.UUID, scanned, reason string, at time.Time) error
}

// Products stores cell products and donor lots.
type Products interface {
	// Get returns the product with that DIN locked, or product.ErrNotFound.
	Get(ctx context.Context, din product.DIN) (*product.Product, error)
	// OfCycle returns the products of a course's cycle, newest first.
	OfCycle(ctx context.Context, courseID uuid.UUID, cycle int) ([]*product.Product, error)
	Add(ctx context.Context, ps ...*product.Product) error
	Save(ctx context.Context, p *product.Product) error
	AddLot(ctx context.Context, l *product.Lot, program string) error
	// NextDIN takes the facility's next DIN of the year.
	NextDIN(ctx context.Context, facility string, year int) (product.DIN, error)
	// AvailableDose locks one released, unallocated, unexpired donor dose
	// of the program (the one expiring first), or returns ErrNoDose.
	AvailableDose(ctx context.Context, program string, now time.Time) (*product.Product, error)
}

// Reference reads the clinic's data: protocols, resources, the calendar.
type Reference interface {
	// Protocol returns a program's protocol version or ErrNoProtocol.
	Protocol(ctx context.Context, program, version string) (protocol.Protocol, error)
	Calendar(ctx context.Context) (calendar.Calendar, error)
	// Resources returns the active resources.
	Resources(ctx context.Context) ([]plan.Resource, error)
	// Resource returns one resource, or ErrNoResource.
	Resource(ctx context.Context, id uuid.UUID) (plan.Resource, error)
}

// Jobs schedules scheduling's durable jobs in the transaction.
type Jobs interface {
	// MissedCheck looks at the appointment at start+grace and marks it
	// missed if it was not checked in by then.
	MissedCheck(ctx context.Context, appointmentID uuid.UUID, start time.Time) error
}

// Errors of the reference data.
var (
	ErrNoProtocol = errors.New("no such protocol version")
	ErrNoResource = errors.New("no such resource")
	ErrNoDose     = errors.New("no donor dose available")
	ErrLotExists  = errors.New("a lot with this DIN is already registered")
)

// ConflictError is a booking the database refused: it would overlap an
// existing appointment on the same resource (or within its buffer), or the
// patient's own appointment elsewhere. With names the appointment it
// collides with.
type ConflictError struct {
	// What collides: "resource" or "patient".
	What string
	With appointment.Details
	// Refused is the booking that was refused.
	Refused appointment.Details
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("collides with appointment %s (%s, %s to %s) on the %s", e.With.ID, e.With.Kind,
		e.With.Start.Format(time.RFC3339), e.With.End.Format(time.RFC3339), e.What)
}

// Config is what the use cases need from scheduling's configuration.
type Config struct {
	// Horizon: the first chain must start within it, or the course is
	// unplanned.
	Horizon time.Duration
	// Grace: an appointment not checked in this long after its start is
	// missed.
	Grace time.Duration
	// Facility is the ISBT 128 facility identification number of DINs.
	Facility string
	// Location is the clinic's zone.
	Location *time.Location
}

// RecordPatient keeps the reference of a patient intake registered or updated.
type RecordPatient struct{}

// Handle stores p through the handler's repositories.
func (RecordPatient) Handle(ctx context.Context, repos Repositories, p patientref.Patient) error {
	return repos.Patients().Save(ctx, p)
}
