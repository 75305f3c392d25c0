package product

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// Status is where a product is in its life.
//
// An autologous product goes collected -> culturing -> released | failed
// (or collected -> released for a protocol without a culture step, see
// ReleaseUncultured; or collected -> failed). A donor dose is released when
// its lot is registered. A released product becomes infused when an
// infusion passes the chain-of-identity check. Released-but-expired is not a
// status: it is read from ExpiresAt, because time passing changes nothing
// in the database.
type Status string

// Statuses.
const (
	StatusCollected Status = "collected"
	StatusCulturing Status = "culturing"
	StatusReleased  Status = "released"
	StatusFailed    Status = "failed"
	StatusInfused   Status = "infused"
)

// Result is a sterility or mycoplasma test result.
type Result string

// Results.
const (
	Negative Result = "negative"
	Positive Result = "positive"
)

// Criterion codes name the release criteria a QC result missed (see
// ReleaseRefused); they are the QC fields' names in the API.
const (
	CriterionViability = "viability_pct"
	CriterionPurity    = "purity_pct"
	CriterionEndotoxin = "endotoxin_eu_per_ml"
	CriterionSterility = "sterility"
	CriterionMycoplasm = "mycoplasma"
)

// maxFailReason keeps a failure reason a short code or phrase: it is
// shown on the plan and published, so it must not become a clinical note.
const maxFailReason = 200

var (
	// ErrNotFound is returned when a product does not exist.
	ErrNotFound = errors.New("product not found")
	// ErrWrongStatus is returned when a change is not allowed from the
	// product's status (starting the culture of a released product,
	// failing an infused one); the wrapping message names both.
	ErrWrongStatus = errors.New("not allowed in the product's status")
	// ErrNotDonorDose is returned when allocating an autologous product:
	// it belongs to its patient from collection.
	ErrNotDonorDose = errors.New("only a donor dose can be allocated")
	// ErrAlreadyAllocated is returned when allocating a dose that is
	// already allocated (to anyone, even the same cycle).
	ErrAlreadyAllocated = errors.New("dose already allocated")
	// ErrExpired is returned when allocating a dose at or after its
	// expiry.
	ErrExpired = errors.New("product expired")
)

// ReleaseRefused is a QC result with valid values that misses the release
// criteria. Missed lists every criterion missed (Criterion* codes), in a
// fixed order.
type ReleaseRefused struct{ Missed []string }

func (e *ReleaseRefused) Error() string {
	return "release criteria not met: " + strings.Join(e.Missed, ", ")
}

// QC is what the lab measured before release.
type QC struct {
	ViabilityPct     float64
	PurityPct        float64 // NK purity for NK products; the protocol's marker otherwise
	EndotoxinEUPerML float64
	Sterility        Result
	Mycoplasma       Result
}

// Validate checks that the values are measurements at all: percentages 0 to
// 100, endotoxin not negative, results "negative" or "positive". It returns
// a *validation.Error naming every bad field; whether the values meet the
// criteria is another question (see Meets).
func (q QC) Validate() error {
	var l validation.List
	pct := func(field string, v float64) {
		if math.IsNaN(v) || v < 0 || v > 100 {
			l.Add(field, "must be a percentage from 0 to 100")
		}
	}
	pct(CriterionViability, q.ViabilityPct)
	pct(CriterionPurity, q.PurityPct)
	if math.IsNaN(q.EndotoxinEUPerML) || math.IsInf(q.EndotoxinEUPerML, 0) || q.EndotoxinEUPerML < 0 {
		l.Add(CriterionEndotoxin, "must be a number of EU/mL, at least 0")
	}
	result := func(field string, r Result) {
		if r != Negative && r != Positive {
			l.Add(field, `must be "negative" or "positive"`)
		}
	}
	result(CriterionSterility, q.Sterility)
	result(CriterionMycoplasm, q.Mycoplasma)
	return l.Err()
}

// Meets lists the criteria q misses, nil when it meets them all. A value
// exactly at a minimum or maximum meets it.
func (q QC) Meets(c protocol.ReleaseCriteria) []string {
	var missed []string
	if q.ViabilityPct < c.MinViabilityPct {
		missed = append(missed, CriterionViability)
	}
	if q.PurityPct < c.MinPurityPct {
		missed = append(missed, CriterionPurity)
	}
	if q.EndotoxinEUPerML > c.MaxEndotoxinEUPerML {
		missed = append(missed, CriterionEndotoxin)
	}
	if q.Sterility != Negative {
		missed = append(missed, CriterionSterility)
	}
	if q.Mycoplasma != Negative {
		missed = append(missed, CriterionMycoplasm)
	}
	return missed
}

// Product is the aggregate: one cell product, autologous (collected from its
// patient in a cycle) or one dose of a donor lot (allocated to a patient's
// cycle by planning). Its DIN is what the nurse scans at the bedside.
type Product struct {
	id     uuid.UUID
	din    DIN
	source protocol.Source
	lotID  uuid.UUID // donor doses only

	// patientID, courseID and cycle tie the product to one infusion; for a
	// donor dose they are zero until it is allocated.
	patientID uuid.UUID
	courseID  uuid.UUID
	cycle     int

	status           Status
	collectedAt      time.Time // a donor dose: the lot's collection
	cultureStartedAt time.Time
	releasedAt       time.Time
	expiresAt        time.Time
	failedAt         time.Time
	failReason       string
	qc               QC // zero for donor doses: the lot is released as a whole
	allocatedAt      time.Time
	infusedAt        time.Time
	appointmentID    uuid.UUID
	doseCells        int64

	version   int64
	updatedAt time.Time
	events    []Event
}

// Collect creates the autologous product of a completed draw or apheresis,
// tied from this moment to its patient, course and cycle: collected, at
// version 1, having recorded Collected. The DIN comes from the caller
// because its sequence is the database's.
//
// Bad input is a *validation.Error: id, din, patient_id, course_id,
// cycle (at least 1), collected_at.
func Collect(id uuid.UUID, din DIN, patientID, courseID uuid.UUID, cycle int, collectedAt time.Time) (*Product, error) {
	var l validation.List
	if id == uuid.Nil {
		l.Add("id", "is required")
	}
	if din.IsZero() {
		l.Add("din", "is required")
	}
	if patientID == uuid.Nil {
		l.Add("patient_id", "is required")
	}
	if courseID == uuid.Nil {
		l.Add("course_id", "is required")
	}
	if cycle < 1 {
		l.Add("cycle", "must be at least 1")
	}
	if collectedAt.IsZero() {
		l.Add("collected_at", "is required")
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	p := &Product{
		id: id, din: din, source: protocol.Autologous,
		patientID: patientID, courseID: courseID, cycle: cycle,
		status: StatusCollected, collectedAt: collectedAt,
		version: 1, updatedAt: collectedAt,
	}
	p.events = append(p.events, Collected{ProductID: id, DIN: din, PatientID: patientID, CourseID: courseID,
		Cycle: cycle, Version: 1, At: collectedAt})
	return p, nil
}

// StartCulture records that the lab started culturing the product; only a
// collected product can be. Records CultureStarted.
func (p *Product) StartCulture(now time.Time) error {
	if p.status != StatusCollected {
		return p.wrongStatus("start the culture of")
	}
	p.status = StatusCulturing
	p.cultureStartedAt = now
	p.change(now)
	p.events = append(p.events, CultureStarted{ProductID: p.id, DIN: p.din, PatientID: p.patientID,
		CourseID: p.courseID, Cycle: p.cycle, Version: p.version, At: now})
	return nil
}

// Release records the QC release of a cultured product: only a culturing
// product can be released this way (an NK product released without its
// culture would be a lab error the domain refuses). The product expires
// viability after now (the protocol's viability window). Records Released
// with the QC values.
//
// Bad QC values are a *validation.Error (see QC.Validate). Valid values
// that miss the criteria are a *ReleaseRefused listing every criterion
// missed; the product is unchanged and the lab may then Fail it. A
// viability window that is not positive is a programming error.
func (p *Product) Release(qc QC, criteria protocol.ReleaseCriteria, viability time.Duration, now time.Time) error {
	if p.status != StatusCulturing {
		return p.wrongStatus("release")
	}
	return p.release(qc, criteria, viability, now)
}

// ReleaseUncultured is Release for a product whose protocol has no culture
// step (an autologous HSCT apheresis product is processed, not cultured):
// only a collected product can be released this way. The caller, which
// holds the protocol, chooses it only when the protocol has no culture
// step; a collected product of a protocol with one must go through
// StartCulture and Release.
func (p *Product) ReleaseUncultured(qc QC, criteria protocol.ReleaseCriteria, viability time.Duration, now time.Time) error {
	if p.status != StatusCollected {
		return p.wrongStatus("release without culture")
	}
	return p.release(qc, criteria, viability, now)
}

func (p *Product) release(qc QC, criteria protocol.ReleaseCriteria, viability time.Duration, now time.Time) error {
	if viability <= 0 {
		return fmt.Errorf("release product %s: viability window %s is not positive", p.id, viability)
	}
	if err := qc.Validate(); err != nil {
		return err
	}
	if missed := qc.Meets(criteria); missed != nil {
		return &ReleaseRefused{Missed: missed}
	}
	p.status = StatusReleased
	p.qc = qc
	p.releasedAt = now
	p.expiresAt = now.Add(viability)
	p.change(now)
	p.events = append(p.events, Released{ProductID: p.id, DIN: p.din, PatientID: p.patientID,
		CourseID: p.courseID, Cycle: p.cycle, Version: p.version, At: now, ExpiresAt: p.expiresAt, QC: qc})
	return nil
}

// Fail records that the product cannot be used: the lab failed it in QC or
// the culture did not grow. Only a collected or culturing product can fail;
// a released product passed QC, and withdrawing it (a late positive
// culture, a recall) is not modelled here. reason is a short code or
// phrase (required, one line, at most 200 characters, *validation.Error on
// field reason), never a clinical note. Records Failed; the caller
// re-plans the cycle.
func (p *Product) Fail(reason string, now time.Time) error {
	if p.status != StatusCollected && p.status != StatusCulturing {
		return p.wrongStatus("fail")
	}
	reason, msg := validation.Text(reason, true, maxFailReason, false)
	if msg != "" {
		return validation.Field("reason", msg)
	}
	p.status = StatusFailed
	p.failedAt = now
	p.failReason = reason
	p.change(now)
	p.events = append(p.events, Failed{ProductID: p.id, DIN: p.din, PatientID: p.patientID,
		CourseID: p.courseID, Cycle: p.cycle, Version: p.version, At: now, Reason: reason})
	return nil
}

// Allocate gives a donor dose to a patient's cycle. Only a released,
// unallocated dose before its expiry can be allocated: ErrNotDonorDose,
// ErrWrongStatus, ErrAlreadyAllocated, ErrExpired otherwise; patient_id,
// course_id and cycle (at least 1) are checked first (*validation.Error).
// Records Allocated.
func (p *Product) Allocate(patientID, courseID uuid.UUID, cycle int, now time.Time) error {
	var l validation.List
	if patientID == uuid.Nil {
		l.Add("patient_id", "is required")
	}
	if courseID == uuid.Nil {
		l.Add("course_id", "is required")
	}
	if cycle < 1 {
		l.Add("cycle", "must be at least 1")
	}
	if err := l.Err(); err != nil {
		return err
	}
	switch {
	case p.source != protocol.Donor:
		return fmt.Errorf("allocate product %s: %w", p.id, ErrNotDonorDose)
	case p.patientID != uuid.Nil:
		return fmt.Errorf("allocate product %s: %w", p.id, ErrAlreadyAllocated)
	case p.status != StatusReleased:
		return p.wrongStatus("allocate")
	case !now.Before(p.expiresAt):
		return fmt.Errorf("allocate product %s: %w", p.id, ErrExpired)
	}
	p.patientID, p.courseID, p.cycle = patientID, courseID, cycle
	p.allocatedAt = now
	p.change(now)
	p.events = append(p.events, Allocated{ProductID: p.id, DIN: p.din, LotID: p.lotID, PatientID: patientID,
		CourseID: courseID, Cycle: cycle, Version: p.version, At: now, ExpiresAt: p.expiresAt})
	return nil
}

func (p *Product) change(now time.Time) {
	p.version++
	p.updatedAt = now
}

func (p *Product) wrongStatus(op string) error {
	return fmt.Errorf("%s product %s: %w (%s)", op, p.id, ErrWrongStatus, p.status)
}

// Stored is a product as the repository stores it; see
// UnmarshalProductFromDatabase.
type Stored struct {
	ID               uuid.UUID
	DIN              DIN
	Source           protocol.Source
	LotID            uuid.UUID
	PatientID        uuid.UUID
	CourseID         uuid.UUID
	Cycle            int
	Status           Status
	CollectedAt      time.Time
	CultureStartedAt time.Time
	ReleasedAt       time.Time
	ExpiresAt        time.Time
	FailedAt         time.Time
	FailReason       string
	QC               QC
	AllocatedAt      time.Time
	InfusedAt        time.Time
	AppointmentID    uuid.UUID
	DoseCells        int64
	Version          int64
	UpdatedAt        time.Time
}

// UnmarshalProductFromDatabase rebuilds a stored product; for repositories
// only. It has recorded no events.
func UnmarshalProductFromDatabase(s Stored) *Product {
	return &Product{
		id: s.ID, din: s.DIN, source: s.Source, lotID: s.LotID,
		patientID: s.PatientID, courseID: s.CourseID, cycle: s.Cycle,
		status: s.Status, collectedAt: s.CollectedAt, cultureStartedAt: s.CultureStartedAt,
		releasedAt: s.ReleasedAt, expiresAt: s.ExpiresAt, failedAt: s.FailedAt, failReason: s.FailReason,
		qc: s.QC, allocatedAt: s.AllocatedAt, infusedAt: s.InfusedAt, appointmentID: s.AppointmentID,
		doseCells: s.DoseCells, version: s.Version, updatedAt: s.UpdatedAt,
	}
}

// ID is the product's id.
func (p *Product) ID() uuid.UUID { return p.id }

// DIN is the product's ISBT 128 donation identification number.
func (p *Product) DIN() DIN { return p.din }

// Source is autologous or donor.
func (p *Product) Source() protocol.Source { return p.source }

// LotID is a donor dose's lot; uuid.Nil for an autologous product.
func (p *Product) LotID() uuid.UUID { return p.lotID }

// PatientID is the patient the product is for; uuid.Nil for an unallocated
// donor dose.
func (p *Product) PatientID() uuid.UUID { return p.patientID }

// CourseID is the course the product is for; uuid.Nil for an unallocated
// donor dose.
func (p *Product) CourseID() uuid.UUID { return p.courseID }

// Cycle is the course's cycle (1-based) the product is for; 0 for an
// unallocated donor dose.
func (p *Product) Cycle() int { return p.cycle }

// Allocated reports whether the product is tied to a patient's cycle: an
// autologous product always is, a donor dose once allocated.
func (p *Product) Allocated() bool { return p.patientID != uuid.Nil }

// Deallocate returns an allocated, unused donor dose to the inventory (its
// course was cancelled). It records no event: the dose was never the
// patient's in any event a consumer acts on but the appointment's.
func (p *Product) Deallocate(now time.Time) error {
	switch {
	case p.source != protocol.Donor:
		return fmt.Errorf("deallocate product %s: %w", p.id, ErrNotDonorDose)
	case p.status != StatusReleased:
		return p.wrongStatus("deallocate")
	case p.patientID == uuid.Nil:
		return nil
	}
	p.patientID, p.courseID, p.cycle, p.allocatedAt = uuid.Nil, uuid.Nil, 0, time.Time{}
	p.change(now)
	return nil
}

// Status is the product's status.
func (p *Product) Status() Status { return p.status }

// CollectedAt is when the product (a donor dose: its lot) was collected.
func (p *Product) CollectedAt() time.Time { return p.collectedAt }

// CultureStartedAt is when the culture started; zero if it has not.
func (p *Product) CultureStartedAt() time.Time { return p.cultureStartedAt }

// ReleasedAt is when the product was released (a donor dose: when its lot
// was registered); zero if it has not been.
func (p *Product) ReleasedAt() time.Time { return p.releasedAt }

// ExpiresAt is the end of the viability window: release plus the
// protocol's viability, or the donor lot's expiry. Zero until released. An
// infusion at or after it is refused.
func (p *Product) ExpiresAt() time.Time { return p.expiresAt }

// Expired reports whether the product is released and now is at or after
// its expiry.
func (p *Product) Expired(now time.Time) bool {
	return !p.expiresAt.IsZero() && !now.Before(p.expiresAt)
}

// FailedAt is when the product failed; zero otherwise.
func (p *Product) FailedAt() time.Time { return p.failedAt }

// FailReason is why the product failed; empty otherwise.
func (p *Product) FailReason() string { return p.failReason }

// QC is the release's measured values; zero for a donor dose and for a
// product not released.
func (p *Product) QC() QC { return p.qc }

// AllocatedAt is when a donor dose was allocated; zero otherwise.
func (p *Product) AllocatedAt() time.Time { return p.allocatedAt }

// InfusedAt is when the product was infused; zero otherwise.
func (p *Product) InfusedAt() time.Time { return p.infusedAt }

// AppointmentID is the infusion appointment that gave the product; uuid.Nil
// until infused.
func (p *Product) AppointmentID() uuid.UUID { return p.appointmentID }

// DoseCells is the dose actually given, in cells; 0 until infused.
func (p *Product) DoseCells() int64 { return p.doseCells }

// Version grows by one with every change, from 1 at creation.
func (p *Product) Version() int64 { return p.version }

// UpdatedAt is when the product last changed.
func (p *Product) UpdatedAt() time.Time { return p.updatedAt }
