package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/appointment"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/patientref"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// AdHoc is an appointment the front desk books outside a plan.
type AdHoc struct {
	PatientID  uuid.UUID
	Kind       string
	ResourceID uuid.UUID
	Start, End time.Time
}

// ErrOutsideHours: the appointment would not lie inside the clinic's
// opening hours.
var ErrOutsideHours = errors.New("outside the clinic's opening hours")

// ErrUnknownPatient: scheduling has no such patient (intake registers them).
var ErrUnknownPatient = errors.New("unknown patient")

// Book books an ad-hoc appointment; the database refuses a double booking.
func (s *Scheduling) Book(ctx context.Context, repos Repositories, in AdHoc) (*appointment.Appointment, error) {
	now := s.now()
	var l validation.List
	kind := protocol.StepKind(in.Kind)
	switch {
	case in.Kind != appointment.Consultation && !kind.Valid():
		l.Add("kind", "is not a known appointment kind")
	case kind.Infuses() || kind == protocol.Culture || kind == protocol.Release || kind == protocol.Allocation:
		// An infusion is checked against its course's product, and a
		// culture belongs to its cycle: both come with a course's plan.
		l.Add("kind", "is booked with its course's plan, not ad hoc")
	}
	if !in.End.After(in.Start) {
		l.Add("end", "must be after start")
	} else if in.End.Sub(in.Start) > 24*time.Hour {
		l.Add("end", "an ad-hoc appointment lasts at most a day")
	}
	if in.Start.Before(now) {
		l.Add("start", "is in the past")
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	in.Start, in.End = in.Start.Truncate(clock.Precision), in.End.Truncate(clock.Precision) // as Postgres keeps them
	res, err := repos.Reference().Resource(ctx, in.ResourceID)
	if err != nil {
		return nil, err
	}
	present := in.Kind == appointment.Consultation || kind.PatientPresent()
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	a, err := appointment.Book(appointment.Details{ID: id, PatientID: in.PatientID, Kind: in.Kind,
		ResourceID: res.ID, ResourceKind: string(res.Kind), PatientPresent: present,
		Start: in.Start.UTC(), End: in.End.UTC(), BlockedUntil: in.End.UTC()}, now)
	if err != nil {
		return nil, err
	}
	// The insert comes first: under contention most requests for a slot
	// lose, and a loser learns it from the constraint with no other work
	// done. Whatever fails after the insert (the patient, the hours) rolls
	// it back with the transaction.
	if err := repos.Appointments().BookOne(ctx, a); err != nil {
		return nil, err
	}
	if _, err := repos.Patients().Get(ctx, in.PatientID); err != nil {
		if errors.Is(err, patientref.ErrNotFound) {
			return nil, ErrUnknownPatient
		}
		return nil, err
	}
	if present {
		cal, err := repos.Reference().Calendar(ctx)
		if err != nil {
			return nil, err
		}
		if !cal.Inside(in.Start, in.End) {
			return nil, ErrOutsideHours
		}
	}
	if present {
		if err := repos.Jobs().MissedCheck(ctx, id, a.Details().Start); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// lockCourseOf locks the course of appointment id, if it has one, before
// the appointment: every use case that changes a course and its
// appointments locks the course first (Hold, Resume, CancelCourse, Fail do
// by loading it), so two of them on one course queue instead of
// deadlocking.
func lockCourseOf(ctx context.Context, repos Repositories, id uuid.UUID) error {
	courseID, err := repos.Appointments().CourseOf(ctx, id)
	if err != nil || courseID == uuid.Nil {
		return err
	}
	_, err = repos.Courses().Get(ctx, courseID)
	return err
}

// Scope of a reschedule.
type Scope string

// Scopes.
const (
	// This occurrence only.
	This Scope = "this"
	// Following: this occurrence and every later booked one of its course,
	// shifted by the same amount.
	Following Scope = "following"
)

// ViabilityError refuses a move that would put an infusion before its
// culture ends or past its product's viability window.
type ViabilityError struct {
	AppointmentID uuid.UUID
	Reason        string
}

func (e *ViabilityError) Error() string {
	return fmt.Sprintf("appointment %s: %s", e.AppointmentID, e.Reason)
}

// Reschedule moves an appointment (and, with Following, the later ones of
// its course) so that it starts at start. The lengths stay; the database
// refuses a double booking; an infusion is kept after its culture and
// inside its product's viability window.
func (s *Scheduling) Reschedule(ctx context.Context, repos Repositories, id uuid.UUID, start time.Time, scope Scope) ([]*appointment.Appointment, error) {
	now := s.now()
	if err := lockCourseOf(ctx, repos, id); err != nil {
		return nil, err
	}
	a, err := repos.Appointments().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Status() != appointment.Booked {
		return nil, &appointment.StateError{Action: "reschedule", Status: a.Status()}
	}
	if start.Before(now) {
		return nil, validation.Field("start", "is in the past")
	}
	start = start.Truncate(clock.Precision) // as Postgres keeps it
	d := a.Details()
	delta := start.Sub(d.Start)
	moving := []*appointment.Appointment{a}
	var all []*appointment.Appointment
	if d.CourseID != uuid.Nil {
		if all, err = repos.Appointments().OfCourse(ctx, d.CourseID); err != nil {
			return nil, err
		}
		// Move the course's own copies, so that the viability check below
		// sees the chain as it would be.
		for _, o := range all {
			if o.ID() == a.ID() {
				moving[0] = o
			}
		}
		if scope == Following {
			moving = moving[:0]
			for _, o := range all {
				if o.Status() == appointment.Booked && !o.Details().Start.Before(d.Start) {
					moving = append(moving, o)
				}
			}
		}
	}
	for _, m := range moving {
		md := m.Details()
		if md.Kind != string(protocol.Culture) {
			continue
		}
		products, err := repos.Products().OfCycle(ctx, md.CourseID, md.Cycle)
		if err != nil {
			return nil, err
		}
		for _, pr := range products {
			if !pr.CultureStartedAt().IsZero() && pr.Status() != product.StatusFailed {
				return nil, &ViabilityError{md.ID, "the culture has started: it cannot move"}
			}
		}
	}
	cal, err := repos.Reference().Calendar(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range moving {
		md := m.Details()
		ns, ne := md.Start.Add(delta), md.End.Add(delta)
		if md.PatientPresent && !cal.Inside(ns, ne) {
			return nil, fmt.Errorf("%w: %s at %s", ErrOutsideHours, md.Kind, ns.Format(time.RFC3339))
		}
		if err := m.Reschedule(appointment.Move{Start: ns, End: ne, BlockedUntil: md.BlockedUntil.Add(delta)}, now); err != nil {
			return nil, err
		}
	}
	if d.CourseID != uuid.Nil {
		if err := s.checkViability(ctx, repos, d.CourseID, all); err != nil {
			return nil, err
		}
	}
	// Moving later, the last goes first (and the reverse), so that the
	// series never collides with itself on the way.
	order := slices.Clone(moving)
	slices.SortFunc(order, func(x, y *appointment.Appointment) int { return x.Details().Start.Compare(y.Details().Start) })
	if delta > 0 {
		slices.Reverse(order)
	}
	if err := repos.Appointments().Save(ctx, order...); err != nil {
		return nil, err
	}
	for _, m := range moving {
		if m.Details().PatientPresent {
			if err := repos.Jobs().MissedCheck(ctx, m.ID(), m.Details().Start); err != nil {
				return nil, err
			}
		}
	}
	return moving, nil
}

// checkViability holds each cycle of the course (its appointments as they
// would be) in order, every step after the ones before it, and every
// infusion inside its product's viability window: counted from the planned
// release (the end of the steps before it: the culture) and, once the
// product is released, before its expiry.
func (s *Scheduling) checkViability(ctx context.Context, repos Repositories, courseID uuid.UUID, all []*appointment.Appointment) error {
	c, err := repos.Courses().Get(ctx, courseID)
	if err != nil {
		return err
	}
	p := c.Protocol()
	if p == nil {
		return nil
	}
	infusionStep := p.Steps[p.InfusionStep()]
	cycles := map[int][]*appointment.Appointment{}
	for _, a := range all {
		if a.Status().Holds() {
			cycles[a.Details().Cycle] = append(cycles[a.Details().Cycle], a)
		}
	}
	for cycle, chain := range cycles {
		slices.SortFunc(chain, func(x, y *appointment.Appointment) int {
			if c := cmp.Compare(x.Details().Step, y.Details().Step); c != 0 {
				return c
			}
			return cmp.Compare(x.Details().Session, y.Details().Session)
		})
		// before: the end of the steps before the current one.
		var before, sofar time.Time
		var beforeKind string
		step, kind := -1, ""
		for _, a := range chain {
			d := a.Details()
			if d.Step != step {
				before, beforeKind, step = sofar, kind, d.Step
			}
			if !before.IsZero() && d.Start.Before(before) {
				return &ViabilityError{d.ID, fmt.Sprintf("the %s would start before the %s before it ends", d.Kind, beforeKind)}
			}
			if d.End.After(sofar) {
				sofar, kind = d.End, d.Kind
			}
			if !protocol.StepKind(d.Kind).Infuses() {
				continue
			}
			infusionEnd := d.Start.Add(infusionStep.Duration)
			if p.Source == protocol.Autologous && !before.IsZero() && infusionEnd.After(before.Add(p.Viability)) {
				return &ViabilityError{d.ID, "the infusion would end after the product's viability window"}
			}
			products, err := repos.Products().OfCycle(ctx, courseID, cycle)
			if err != nil {
				return err
			}
			for _, pr := range products {
				if pr.Status() == product.StatusReleased && !pr.ExpiresAt().IsZero() && infusionEnd.After(pr.ExpiresAt()) {
					return &ViabilityError{d.ID, "the infusion would end after its product expires"}
				}
			}
		}
	}
	return nil
}

// CancelAppointment cancels one appointment with a reason.
func (s *Scheduling) CancelAppointment(ctx context.Context, repos Repositories, id uuid.UUID, reason string) (*appointment.Appointment, error) {
	a, err := repos.Appointments().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := a.Cancel(reason, s.now()); err != nil {
		return nil, err
	}
	return a, repos.Appointments().Save(ctx, a)
}

// CheckIn checks the patient in, on the appointment's day.
func (s *Scheduling) CheckIn(ctx context.Context, repos Repositories, id uuid.UUID) (*appointment.Appointment, error) {
	a, err := repos.Appointments().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := a.CheckIn(s.now(), s.Config.Location); err != nil {
		return nil, err
	}
	return a, repos.Appointments().Save(ctx, a)
}

// NoShow marks a booked appointment that has started a no-show.
func (s *Scheduling) NoShow(ctx context.Context, repos Repositories, id uuid.UUID) (*appointment.Appointment, error) {
	a, err := repos.Appointments().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := a.NoShow(s.now()); err != nil {
		return nil, err
	}
	return a, repos.Appointments().Save(ctx, a)
}

// MarkMissed is the durable job's: the appointment that was to start at
// start is missed unless it was checked in, moved or cancelled since.
func (s *Scheduling) MarkMissed(ctx context.Context, repos Repositories, id uuid.UUID, start time.Time) error {
	a, err := repos.Appointments().Get(ctx, id)
	if errors.Is(err, appointment.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	changed, err := a.Miss(start, s.Config.Grace, s.now())
	if err != nil || !changed {
		return err
	}
	return repos.Appointments().Save(ctx, a)
}

// Infusion is what the nurse gives to complete an infusion: the scanned
// product id, the two patient identifiers and the dose.
type Infusion struct {
	ProductID string
	PatientID uuid.UUID
	BirthDate time.Time
	DoseCells int64
}

// Completed is the outcome of Complete: the appointment, the product
// collected or infused, or the chain-of-identity refusal (recorded and
// published; the caller answers 409 after the transaction commits).
type Completed struct {
	Appointment *appointment.Appointment
	Product     *product.Product
	Refused     *product.IdentityRefused
}

// Complete completes a checked-in appointment. A collection creates the
// cycle's cell product; an infusion passes the chain-of-identity check or
// is refused, recorded and published (InfusionBlocked).
func (s *Scheduling) Complete(ctx context.Context, repos Repositories, id uuid.UUID, inf *Infusion) (Completed, error) {
	now := s.now()
	if err := lockCourseOf(ctx, repos, id); err != nil {
		return Completed{}, err
	}
	a, err := repos.Appointments().Get(ctx, id)
	if err != nil {
		return Completed{}, err
	}
	if a.Status() != appointment.CheckedIn {
		return Completed{}, &appointment.StateError{Action: "complete", Status: a.Status()}
	}
	d := a.Details()
	kind := protocol.StepKind(d.Kind)
	switch {
	case kind.Infuses():
		if inf == nil {
			return Completed{}, validation.Field("product_id", "is required to complete an infusion")
		}
		return s.completeInfusion(ctx, repos, a, *inf, now)
	case inf != nil:
		return Completed{}, validation.Field("product_id", "only an infusion takes a product")
	case kind.Collects() && d.CourseID != uuid.Nil:
		return s.completeCollection(ctx, repos, a, now)
	}
	if err := a.Complete(appointment.Completion{}, now); err != nil {
		return Completed{}, err
	}
	return Completed{Appointment: a}, repos.Appointments().Save(ctx, a)
}

func (s *Scheduling) completeCollection(ctx context.Context, repos Repositories, a *appointment.Appointment, now time.Time) (Completed, error) {
	d := a.Details()
	c, err := repos.Courses().Get(ctx, d.CourseID)
	if err != nil {
		return Completed{}, err
	}
	// A collection of several sessions (apheresis) makes one product: the
	// first session creates it, the later ones add to it.
	existing, err := repos.Products().OfCycle(ctx, d.CourseID, d.Cycle)
	if err != nil {
		return Completed{}, err
	}
	var pr *product.Product
	for _, e := range existing {
		if e.Status() == product.StatusCollected {
			pr = e
		}
	}
	if pr == nil {
		din, err := repos.Products().NextDIN(ctx, s.Config.Facility, now.In(s.Config.Location).Year()%100)
		if err != nil {
			return Completed{}, err
		}
		pid, err := uuid.NewV7()
		if err != nil {
			return Completed{}, err
		}
		if pr, err = product.Collect(pid, din, d.PatientID, d.CourseID, d.Cycle, now); err != nil {
			return Completed{}, err
		}
		if err := repos.Products().Add(ctx, pr); err != nil {
			return Completed{}, err
		}
	}
	if err := a.Complete(appointment.Completion{ProductID: pr.DIN().String()}, now); err != nil {
		return Completed{}, err
	}
	if err := repos.Appointments().Save(ctx, a); err != nil {
		return Completed{}, err
	}
	if err := s.linkProduct(ctx, repos, d.CourseID, d.Cycle, pr.DIN().String()); err != nil {
		return Completed{}, err
	}
	if c.Status().Active() || c.Status() == course.OnHold {
		if err := c.Progress(course.Collecting, now); err != nil {
			return Completed{}, err
		}
		if err := repos.Courses().Save(ctx, c); err != nil {
			return Completed{}, err
		}
	}
	return Completed{Appointment: a, Product: pr}, nil
}

// linkProduct names the cycle's product on its later appointments (the
// culture and the infusion), so the plan shows which product they handle.
func (s *Scheduling) linkProduct(ctx context.Context, repos Repositories, courseID uuid.UUID, cycle int, din string) error {
	all, err := repos.Appointments().OfCourse(ctx, courseID)
	if err != nil {
		return err
	}
	var changed []*appointment.Appointment
	for _, o := range all {
		od := o.Details()
		k := protocol.StepKind(od.Kind)
		if od.Cycle == cycle && (k == protocol.Culture || k.Infuses()) && od.ProductID != din && o.Status() == appointment.Booked {
			o.AllocateProduct(din)
			changed = append(changed, o)
		}
	}
	return repos.Appointments().Save(ctx, changed...)
}

func (s *Scheduling) completeInfusion(ctx context.Context, repos Repositories, a *appointment.Appointment, in Infusion, now time.Time) (Completed, error) {
	d := a.Details()
	if in.DoseCells <= 0 {
		return Completed{}, validation.Field("dose_cells", "must be a positive number of cells")
	}
	refuse := func(r *product.IdentityRefused) (Completed, error) {
		a.BlockInfusion(truncate(in.ProductID, 32), string(r.Reason), now)
		if err := repos.Appointments().Save(ctx, a); err != nil {
			return Completed{}, err
		}
		if err := repos.Appointments().RecordBlock(ctx, d.ID, truncate(in.ProductID, 32), string(r.Reason), now); err != nil {
			return Completed{}, err
		}
		return Completed{Appointment: a, Refused: r}, nil
	}
	din, err := product.ScannedDIN(in.ProductID)
	var refused *product.IdentityRefused
	if errors.As(err, &refused) {
		return refuse(refused)
	}
	if err != nil {
		return Completed{}, err
	}
	pr, err := repos.Products().Get(ctx, din)
	if errors.Is(err, product.ErrNotFound) {
		return refuse(&product.IdentityRefused{Reason: product.ReasonUnknownProduct})
	}
	if err != nil {
		return Completed{}, err
	}
	patient, err := repos.Patients().Get(ctx, d.PatientID)
	if err != nil && !errors.Is(err, patientref.ErrNotFound) {
		return Completed{}, err
	}
	scan := product.Scan{ProductID: in.ProductID, PatientID: in.PatientID, AppointmentPatientID: d.PatientID,
		BirthDate: in.BirthDate, RecordedBirthDate: patient.BirthDate, CourseID: d.CourseID, Cycle: d.Cycle, Now: now}
	if err := pr.Infuse(d.ID, in.DoseCells, scan, now); err != nil {
		if errors.As(err, &refused) {
			return refuse(refused)
		}
		return Completed{}, err
	}
	if err := repos.Products().Save(ctx, pr); err != nil {
		return Completed{}, err
	}
	c, err := repos.Courses().Get(ctx, d.CourseID)
	if err != nil {
		return Completed{}, err
	}
	last := d.Cycle == len(c.Cycles())
	if err := a.Complete(appointment.Completion{ProductID: pr.DIN().String(), DoseCells: in.DoseCells, LastInfusion: last}, now); err != nil {
		return Completed{}, err
	}
	if err := repos.Appointments().Save(ctx, a); err != nil {
		return Completed{}, err
	}
	if err := c.Infused(d.Cycle, now); err != nil {
		return Completed{}, err
	}
	if !last {
		if err := s.bookCycle(ctx, repos, c, d.Cycle+1, now); err != nil {
			return Completed{}, err
		}
	}
	if err := repos.Courses().Save(ctx, c); err != nil {
		return Completed{}, err
	}
	return Completed{Appointment: a, Product: pr}, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
