package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/services/intake/internal/domain/consent"
	"github.com/clinicops/clinicops/services/intake/internal/domain/course"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
	"github.com/clinicops/clinicops/services/intake/internal/domain/screening"
)

// ClinicalRepository stores consents, screenings and courses. Every change
// holds the patient's row lock (an unknown patient is patient.ErrNotFound)
// and stores the aggregate with the events it recorded in one transaction;
// an aggregate that recorded nothing is not written. The creating methods
// (AddConsent, AddScreening, RequestCourse) also claim a keyed request's
// Idempotency-Key first in that transaction and store its answer last
// (idempotency.ClaimTx, AnswerTx with the record created); they return
// idempotency.ErrKeyTaken when a concurrent request with the key committed
// first.
type ClinicalRepository interface {
	AddConsent(ctx context.Context, c *consent.Consent) error
	// UpdateConsent: a consent not of that patient is consent.ErrNotFound.
	UpdateConsent(ctx context.Context, patientID, consentID uuid.UUID, fn func(*consent.Consent) error) (*consent.Consent, error)
	Consents(ctx context.Context, patientID uuid.UUID) ([]*consent.Consent, error)
	AddScreening(ctx context.Context, s *screening.Screening) error
	Screenings(ctx context.Context, patientID uuid.UUID) ([]*screening.Screening, error)
	// RequestCourse gives fn the patient's consents and screenings as they
	// are under the lock and stores the course fn decides on.
	RequestCourse(ctx context.Context, patientID uuid.UUID, fn func([]*consent.Consent, []*screening.Screening) (*course.Course, error)) (*course.Course, error)
	Courses(ctx context.Context, patientID uuid.UUID) ([]*course.Course, error)
	// UpdateCourse: an unknown course is course.ErrNotFound.
	UpdateCourse(ctx context.Context, courseID uuid.UUID, fn func(*course.Course) error) (*course.Course, error)
}

// ProgramReader reads the clinic's programs.
type ProgramReader interface {
	// Get returns an active program or program.ErrNotFound.
	Get(ctx context.Context, code string) (program.Program, error)
}

// Programs reads and lists the clinic's programs.
type Programs interface {
	ProgramReader
	// List returns the active programs by code.
	List(ctx context.Context) ([]program.Program, error)
}

// Clock gives the time and the clinic's calendar day (the platform's one
// clock, read in the clinic's time zone).
type Clock = clock.Calendar

// RecordConsent records a signed consent.
type RecordConsent struct {
	Repo     ClinicalRepository
	Programs ProgramReader
	Clock    Clock
}

// Handle validates and stores the consent for an existing patient; a
// program it names must be one of the clinic's.
func (h RecordConsent) Handle(ctx context.Context, patientID uuid.UUID, in consent.Input) (*consent.Consent, error) {
	if in.Program != "" && program.ValidCode(in.Program) {
		if _, err := h.Programs.Get(ctx, in.Program); err != nil {
			return nil, err
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	c, err := consent.New(id, patientID, in, h.Clock.Now())
	if err != nil {
		return nil, err
	}
	return c, h.Repo.AddConsent(ctx, c)
}

// WithdrawConsent withdraws a consent.
type WithdrawConsent struct {
	Repo  ClinicalRepository
	Clock Clock
}

// Handle withdraws the patient's consent with a reason.
func (h WithdrawConsent) Handle(ctx context.Context, patientID, consentID uuid.UUID, reason string) (*consent.Consent, error) {
	return h.Repo.UpdateConsent(ctx, patientID, consentID, func(c *consent.Consent) error {
		return c.Withdraw(reason, h.Clock.Now())
	})
}

// RecordScreening screens a patient for a program.
type RecordScreening struct {
	Repo     ClinicalRepository
	Patients PatientRepository
	Programs ProgramReader
	Clock    Clock
}

// Handle evaluates and stores the screening.
func (h RecordScreening) Handle(ctx context.Context, patientID uuid.UUID, programCode string, ind program.Indication, answers map[string]bool) (*screening.Screening, error) {
	p, err := h.Patients.Get(ctx, patientID)
	if err != nil {
		return nil, err
	}
	prog, err := h.Programs.Get(ctx, programCode)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	s, err := screening.New(id, patientID, prog, ind, answers, p.Details().BirthDate, h.Clock.Now(), h.Clock.Today())
	if err != nil {
		return nil, err
	}
	return s, h.Repo.AddScreening(ctx, s)
}

// RequestCourse requests a treatment course: it needs an active treatment
// consent and a recent eligible screening for the program.
type RequestCourse struct {
	Repo     ClinicalRepository
	Patients PatientRepository
	Programs ProgramReader
	Clock    Clock
	// MaxScreeningAge is how old an eligible screening may be (default 90 days).
	MaxScreeningAge time.Duration
}

// Handle decides under the patient's lock and stores the course.
func (h RequestCourse) Handle(ctx context.Context, patientID uuid.UUID, in course.Input) (*course.Course, error) {
	if _, err := h.Patients.Get(ctx, patientID); err != nil {
		return nil, err // an unknown patient is a 404 before anything else
	}
	prog, err := h.Programs.Get(ctx, in.Program)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	return h.Repo.RequestCourse(ctx, patientID, func(cs []*consent.Consent, ss []*screening.Screening) (*course.Course, error) {
		return course.Request(id, patientID, in, cs, ss, prog, h.MaxScreeningAge, h.Clock.Now(), h.Clock.Today())
	})
}

// CancelCourse asks to cancel a course.
type CancelCourse struct {
	Repo  ClinicalRepository
	Clock Clock
}

// Handle cancels the course with a reason.
func (h CancelCourse) Handle(ctx context.Context, courseID uuid.UUID, reason string) (*course.Course, error) {
	return h.Repo.UpdateCourse(ctx, courseID, func(c *course.Course) error { return c.Cancel(reason, h.Clock.Now()) })
}
