package app

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// Queries is scheduling's read side: plain reads, no locks, no aggregates,
// shaped for the API. They see committed data only.
type Queries interface {
	// Course returns the course's plan or course.ErrNotFound.
	Course(ctx context.Context, id uuid.UUID) (CoursePlan, error)
	// Timeline returns the course's story from scheduling's view, oldest
	// first (empty for a course scheduling has not seen change).
	Timeline(ctx context.Context, courseID uuid.UUID) ([]TimelineEntry, error)
	// Appointments lists appointments in start order, a page at a time.
	Appointments(ctx context.Context, f AppointmentFilter) ([]AppointmentView, *AppointmentCursor, error)
	// Product returns the product with that DIN or product.ErrNotFound.
	Product(ctx context.Context, din string) (ProductView, error)
	// Protocols lists the protocol versions, of one program unless it is "".
	Protocols(ctx context.Context, program string) ([]ProtocolView, error)
	// Protocol returns one protocol version or ErrNoProtocol.
	Protocol(ctx context.Context, program, version string) (ProtocolView, error)
	// Resources lists every resource, active or not.
	Resources(ctx context.Context) ([]ResourceView, error)
	// Resource returns one resource or ErrNoResource.
	Resource(ctx context.Context, id uuid.UUID) (ResourceView, error)
	// Calendar returns the opening hours and the closures.
	Calendar(ctx context.Context) (calendar.Calendar, error)
}

// ReferenceAdmin edits the clinic's data: protocols, resources and the
// calendar. Each call is one transaction.
type ReferenceAdmin interface {
	// PutProtocol stores a protocol version (created reports whether it is
	// new); a version a course was planned with is ErrProtocolInUse.
	PutProtocol(ctx context.Context, p protocol.Protocol, now time.Time) (created bool, err error)
	// AddResource adds a resource; a taken name is ErrResourceNameTaken.
	AddResource(ctx context.Context, r ResourceView) error
	// PatchResource renames or (de)activates a resource (nil leaves a
	// field); ErrNoResource or ErrResourceNameTaken.
	PatchResource(ctx context.Context, id uuid.UUID, name *string, active *bool, now time.Time) (ResourceView, error)
	// ReplaceHours replaces the weekly opening hours.
	ReplaceHours(ctx context.Context, hours []calendar.Hours) error
	// AddClosure adds a closed day; a day already closed is ErrClosureExists.
	AddClosure(ctx context.Context, c calendar.Closure) error
	// DeleteClosure reopens a day; ErrNoClosure if it was not closed.
	DeleteClosure(ctx context.Context, day time.Time) error
}

// Errors of the reference data's administration.
var (
	ErrProtocolInUse     = errors.New("a course was planned with this protocol version: publish a new version")
	ErrResourceNameTaken = errors.New("another resource has this name")
	ErrClosureExists     = errors.New("the clinic is already closed that day")
	ErrNoClosure         = errors.New("the clinic is not closed that day")
)

// CoursePlan is a course as the API shows it: its status, why it is
// unplanned, held or cancelled, and its cycles with their appointments and
// products.
type CoursePlan struct {
	ID              uuid.UUID
	PatientID       uuid.UUID
	Program         string
	ProtocolVersion string
	Status          string
	// HeldFrom is the status a held course resumes to.
	HeldFrom       string
	Reason, Detail string
	// PreferredStart is a date (midnight UTC), zero when none.
	PreferredStart time.Time
	// FundedAt is when billing reported the deposit paid; zero before.
	FundedAt  time.Time
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
	Cycles    []CycleView
	// Other holds the course's appointments outside any cycle.
	Other []AppointmentView
}

// CycleView is one cycle of a plan.
type CycleView struct {
	Number int
	Phase  string
	// TargetDate is the planned infusion date (midnight UTC of the date in
	// the clinic's zone).
	TargetDate   time.Time
	Status       string
	Appointments []AppointmentView
	// Products are the cycle's products, newest first: a failed product
	// stays on record under its replacement.
	Products []ProductView
}

// AppointmentView is one appointment (one occurrence).
type AppointmentView struct {
	ID             uuid.UUID
	CourseID       uuid.UUID // uuid.Nil for an ad-hoc appointment
	Cycle, Step    int
	Session        int
	PatientID      uuid.UUID
	Program        string
	Kind           string
	ResourceID     uuid.UUID
	ResourceKind   string
	PatientPresent bool
	Start, End     time.Time
	BlockedUntil   time.Time
	Status         string
	ProductID      string
	DoseCells      int64
	Reason         string
	CheckedInAt    time.Time
	CompletedAt    time.Time
	Version        int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// AppointmentFilter selects appointments; zero fields do not filter.
type AppointmentFilter struct {
	// From and To: appointments overlapping [From, To).
	From, To   time.Time
	ResourceID uuid.UUID
	PatientID  uuid.UUID
	CourseID   uuid.UUID
	Status     string
	Limit      int
	After      *AppointmentCursor
}

// AppointmentCursor is the sort key of the last appointment of a page.
type AppointmentCursor struct {
	Start time.Time `json:"s"`
	ID    uuid.UUID `json:"i"`
}

// ProductView is a cell product.
type ProductView struct {
	ID               uuid.UUID
	DIN              string
	Source           string
	LotID            uuid.UUID
	PatientID        uuid.UUID
	CourseID         uuid.UUID
	Cycle            int
	Status           string
	CollectedAt      time.Time
	CultureStartedAt time.Time
	ReleasedAt       time.Time
	ExpiresAt        time.Time
	FailedAt         time.Time
	FailReason       string
	// QC is nil until the product is released (and for donor doses, which
	// are released as a lot).
	QC            *QCView
	AllocatedAt   time.Time
	InfusedAt     time.Time
	AppointmentID uuid.UUID
	DoseCells     int64
	Version       int64
	UpdatedAt     time.Time
}

// QCView is what the lab measured.
type QCView struct {
	ViabilityPct     float64
	PurityPct        float64
	EndotoxinEUPerML float64
	Sterility        string
	Mycoplasma       string
}

// ProtocolView is a stored protocol version and whether a course uses it.
type ProtocolView struct {
	Protocol  protocol.Protocol
	InUse     bool
	UpdatedAt time.Time
}

// ResourceView is a resource of the clinic.
type ResourceView struct {
	ID        uuid.UUID
	Kind      string
	Name      string
	Active    bool
	UpdatedAt time.Time
}

// TimelineEntry is one event of a course as scheduling saw it: planned,
// funded, an appointment booked, moved, cancelled, checked in or
// completed, the culture started, the product released or failed, a hold,
// a resume, the end. Fields that do not apply are zero.
type TimelineEntry struct {
	At            time.Time
	Event         string
	AppointmentID uuid.UUID
	Kind          string
	Cycle         int
	StartsAt      time.Time
	ProductID     string
	Reason        string
}
