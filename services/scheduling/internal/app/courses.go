package app

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/appointment"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// Hold puts a course on hold: its upcoming infusions are suspended (their
// chairs freed, the appointments kept) until it is resumed.
func (s *Scheduling) Hold(ctx context.Context, repos Repositories, id uuid.UUID, reason string) (*course.Course, error) {
	now := s.now()
	c, err := repos.Courses().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status() == course.OnHold {
		return c, nil
	}
	if err := c.Hold(reason, now); err != nil {
		return nil, err
	}
	all, err := repos.Appointments().OfCourse(ctx, id)
	if err != nil {
		return nil, err
	}
	var changed []*appointment.Appointment
	for _, a := range all {
		d := a.Details()
		if protocol.StepKind(d.Kind).Infuses() && a.Status() == appointment.Booked && d.Start.After(now) {
			if err := a.Suspend("course_on_hold", now); err != nil {
				return nil, err
			}
			changed = append(changed, a)
		}
	}
	if err := repos.Appointments().Save(ctx, changed...); err != nil {
		return nil, err
	}
	return c, repos.Courses().Save(ctx, c)
}

// Resume returns a held course to where it was and re-books its suspended
// appointments: at their old time if it is still ahead and free, otherwise
// at the first time that fits their chain.
func (s *Scheduling) Resume(ctx context.Context, repos Repositories, id uuid.UUID) (*course.Course, error) {
	now := s.now()
	c, err := repos.Courses().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := c.Resume(now); err != nil {
		return nil, err
	}
	all, err := repos.Appointments().OfCourse(ctx, id)
	if err != nil {
		return nil, err
	}
	var lost []int
	for _, a := range all {
		if a.Status() != appointment.Suspended {
			continue
		}
		ok, err := s.rebook(ctx, repos, c, a, all, now)
		if err != nil {
			return nil, err
		}
		if !ok {
			lost = append(lost, a.Details().Cycle)
		}
	}
	// An infusion that could not be re-booked re-plans its cycle (a new
	// chain, or the course held again with the reason): never a silent gap.
	for _, n := range lost {
		if err := s.replanCycle(ctx, repos, c, n, "rebook_failed_on_resume", now); err != nil {
			return nil, err
		}
	}
	// A cycle whose turn came while the course was held is booked now.
	for _, cy := range c.Cycles() {
		if prev, ok := c.Cycle(cy.Number - 1); ok && prev.Status == course.CycleCompleted && cy.Status == course.CyclePlanned {
			if err := s.bookCycle(ctx, repos, c, cy.Number, now); err != nil {
				return nil, err
			}
		}
	}
	return c, repos.Courses().Save(ctx, c)
}

// rebook books a suspended infusion again on its chair: its old slot if
// still ahead and free, otherwise the next grid time inside opening hours
// and the product's window. When none is left it cancels the infusion and
// reports false: the caller re-plans the cycle.
func (s *Scheduling) rebook(ctx context.Context, repos Repositories, c *course.Course, a *appointment.Appointment, all []*appointment.Appointment, now time.Time) (bool, error) {
	d := a.Details()
	length, buffer := d.End.Sub(d.Start), d.BlockedUntil.Sub(d.End)
	cal, err := repos.Reference().Calendar(ctx)
	if err != nil {
		return false, err
	}
	start := d.Start
	if start.Before(now) {
		start = s.earliest(now)
	}
	limit := start.Add(s.Config.Horizon)
	before := a.State()
	for t := start; t.Before(limit); t = t.Add(grid) {
		if !cal.Inside(t, t.Add(length)) {
			continue
		}
		if err := a.Rebook(appointment.Move{Start: t, End: t.Add(length), BlockedUntil: t.Add(length + buffer)}, now); err != nil {
			return false, err
		}
		if err := s.checkViability(ctx, repos, c.ID(), all); err != nil {
			var v *ViabilityError
			if errors.As(err, &v) {
				break // past its window: it cannot be re-booked
			}
			return false, err
		}
		err := repos.Appointments().Save(ctx, a)
		var conflict *ConflictError
		if errors.As(err, &conflict) {
			*a = *appointment.FromState(before)
			continue
		}
		if err != nil {
			return false, err
		}
		return true, repos.Jobs().MissedCheck(ctx, d.ID, t)
	}
	*a = *appointment.FromState(before)
	if err := a.Cancel("rebook_failed_on_resume", now); err != nil {
		return false, err
	}
	return false, repos.Appointments().Save(ctx, a)
}

// CancelCourse cancels a course: every appointment ahead is cancelled with
// the reason (an event each); past appointments and products stay on
// record. Cancelling a cancelled course changes nothing.
func (s *Scheduling) CancelCourse(ctx context.Context, repos Repositories, id uuid.UUID, reason string) (*course.Course, error) {
	now := s.now()
	c, err := repos.Courses().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	switch c.Status() {
	case course.Cancelled:
		return c, nil
	case course.Completed:
		// Refused before anything is touched: a completed course keeps its
		// remaining follow-up visits (engraftment checks) booked.
		return nil, &course.StateError{Action: "cancel", Status: c.Status()}
	}
	all, err := repos.Appointments().OfCourse(ctx, id)
	if err != nil {
		return nil, err
	}
	cultured, infusions := false, 0
	var changed []*appointment.Appointment
	for _, a := range all {
		d := a.Details()
		if a.Status() == appointment.Completed && protocol.StepKind(d.Kind).Infuses() {
			infusions++
		}
		switch a.Status() {
		case appointment.Booked, appointment.CheckedIn, appointment.Suspended:
			if protocol.StepKind(d.Kind) == protocol.Culture && !d.Start.After(now) {
				continue // a culture under way stays on record
			}
			if err := a.Cancel(reason, now); err != nil {
				return nil, err
			}
			changed = append(changed, a)
		}
	}
	for _, cy := range c.Cycles() {
		ps, err := repos.Products().OfCycle(ctx, id, cy.Number)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !p.CultureStartedAt().IsZero() {
				cultured = true
			}
			if p.Source() == protocol.Donor && p.Status() == product.StatusReleased {
				// An allocated dose not given goes back to the inventory.
				if err := p.Deallocate(now); err != nil {
					return nil, err
				}
				if err := repos.Products().Save(ctx, p); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := repos.Appointments().Save(ctx, changed...); err != nil {
		return nil, err
	}
	if err := c.Cancel(reason, cultured, infusions, now); err != nil {
		return nil, err
	}
	return c, repos.Courses().Save(ctx, c)
}

// CancelCoursesOf cancels the patient's active courses of a program (all
// programs when program is empty): a withdrawn treatment consent.
func (s *Scheduling) CancelCoursesOf(ctx context.Context, repos Repositories, patientID uuid.UUID, program, reason string) error {
	ids, err := repos.Courses().Active(ctx, patientID, program)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.CancelCourse(ctx, repos, id, reason); err != nil {
			return err
		}
	}
	return nil
}

// Fund records billing's DepositPaid: the course is funded and its culture
// may start. A course scheduling has not planned (unknown, or cancelled)
// is left alone: the event changes nothing.
func (s *Scheduling) Fund(ctx context.Context, repos Repositories, courseID uuid.UUID) error {
	c, err := repos.Courses().Get(ctx, courseID)
	if errors.Is(err, course.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.Fund(s.now()); err != nil {
		var state *course.StateError
		if errors.As(err, &state) {
			return nil
		}
		return err
	}
	return repos.Courses().Save(ctx, c)
}

// StartCulture starts the lab culture of a collected product, once its
// course is funded (or needs no deposit): the funding gate.
func (s *Scheduling) StartCulture(ctx context.Context, repos Repositories, din product.DIN) (*product.Product, error) {
	now := s.now()
	p, err := repos.Products().Get(ctx, din)
	if err != nil {
		return nil, err
	}
	if p.Status() == product.StatusCulturing {
		return p, nil
	}
	if p.CourseID() != uuid.Nil {
		c, err := repos.Courses().Get(ctx, p.CourseID())
		if err != nil {
			return nil, err
		}
		if err := c.MayCulture(); err != nil {
			return nil, err
		}
	}
	if err := p.StartCulture(now); err != nil {
		return nil, err
	}
	if err := repos.Products().Save(ctx, p); err != nil {
		return nil, err
	}
	return p, s.progress(ctx, repos, p, course.Culturing, now)
}

func (s *Scheduling) progress(ctx context.Context, repos Repositories, p *product.Product, to course.Status, now time.Time) error {
	if p.CourseID() == uuid.Nil {
		return nil
	}
	c, err := repos.Courses().Get(ctx, p.CourseID())
	if err != nil {
		return err
	}
	if !c.Status().Active() && c.Status() != course.OnHold {
		return nil
	}
	if err := c.Progress(to, now); err != nil {
		return err
	}
	return repos.Courses().Save(ctx, c)
}

// Release releases a product after QC, under its course's protocol's
// criteria; values that miss them are refused (*product.ReleaseRefused).
func (s *Scheduling) Release(ctx context.Context, repos Repositories, din product.DIN, qc product.QC) (*product.Product, error) {
	now := s.now()
	p, err := repos.Products().Get(ctx, din)
	if err != nil {
		return nil, err
	}
	if p.CourseID() == uuid.Nil {
		return nil, &product.IdentityRefused{Reason: product.ReasonNotReleased}
	}
	c, err := repos.Courses().Get(ctx, p.CourseID())
	if err != nil {
		return nil, err
	}
	proto := c.Protocol()
	release := p.Release
	if !slices.ContainsFunc(proto.Steps, func(s protocol.Step) bool { return s.Kind == protocol.Culture }) {
		release = p.ReleaseUncultured // e.g. HSCT: the apheresis product is processed, not cultured
	}
	if err := release(qc, proto.Release, proto.Viability, now); err != nil {
		return nil, err
	}
	if err := repos.Products().Save(ctx, p); err != nil {
		return nil, err
	}
	return p, s.progress(ctx, repos, p, course.Released, now)
}

// Fail records a failed product and re-plans its cycle: the cycle's
// remaining appointments are cancelled, a new chain is booked from now,
// and the later cycles shift by as much (CoursePlanned, replanned).
func (s *Scheduling) Fail(ctx context.Context, repos Repositories, din product.DIN, reason string) (*product.Product, error) {
	now := s.now()
	p, err := repos.Products().Get(ctx, din)
	if err != nil {
		return nil, err
	}
	if err := p.Fail(reason, now); err != nil {
		return nil, err
	}
	if err := repos.Products().Save(ctx, p); err != nil {
		return nil, err
	}
	if p.CourseID() == uuid.Nil {
		return p, nil
	}
	c, err := repos.Courses().Get(ctx, p.CourseID())
	if err != nil {
		return nil, err
	}
	if !c.Status().Active() && c.Status() != course.OnHold {
		return p, nil
	}
	return p, s.replanCycle(ctx, repos, c, p.Cycle(), "product_failed", now)
}

func (s *Scheduling) replanCycle(ctx context.Context, repos Repositories, c *course.Course, n int, reason string, now time.Time) error {
	all, err := repos.Appointments().OfCourse(ctx, c.ID())
	if err != nil {
		return err
	}
	var oldInfusion time.Time
	var changed []*appointment.Appointment
	for _, a := range all {
		d := a.Details()
		if d.Cycle != n {
			continue
		}
		if protocol.StepKind(d.Kind).Infuses() {
			oldInfusion = d.Start
		}
		if a.Status() == appointment.Booked || a.Status() == appointment.Suspended || (d.Kind == string(protocol.Culture) && a.Status().Holds()) {
			if a.Status() == appointment.Completed {
				continue
			}
			if err := a.Cancel(reason, now); err != nil {
				return err
			}
			changed = append(changed, a)
		}
	}
	if err := repos.Appointments().Save(ctx, changed...); err != nil {
		return err
	}
	appts, why, err := s.bookChain(ctx, repos, chainFor{course: c, protocol: *c.Protocol(), cycle: n}, s.earliest(now), now)
	if err != nil {
		return err
	}
	if why != nil {
		if err := c.Hold("replan_failed: "+why.Reason, now); err != nil {
			return err
		}
		return repos.Courses().Save(ctx, c)
	}
	newInfusion := infusionOf(appts).Details().Start
	shift := 0
	if !oldInfusion.IsZero() {
		shift = int(newInfusion.Sub(oldInfusion).Hours()/24 + 0.5)
	}
	cycles := c.Cycles()
	for i := range cycles {
		switch {
		case cycles[i].Number == n:
			cycles[i].TargetDate = clock.DateOf(newInfusion, s.Config.Location)
			cycles[i].Status = course.CycleBooked
		case cycles[i].Number > n && shift > 0:
			cycles[i].TargetDate = cycles[i].TargetDate.AddDate(0, 0, shift)
		}
	}
	if err := c.Replan(cycles, reason, now); err != nil {
		return err
	}
	return repos.Courses().Save(ctx, c)
}

// Lot is a donor lot as the lab registers it.
type Lot struct {
	Program string
	Input   product.LotInput
	Doses   int
}

// RegisterLot registers a released donor lot and creates its doses, each
// with its own DIN.
func (s *Scheduling) RegisterLot(ctx context.Context, repos Repositories, in Lot) (*product.Lot, []*product.Product, error) {
	now := s.now()
	year := now.In(s.Config.Location).Year() % 100
	var doses []product.Dose
	for range in.Doses {
		din, err := repos.Products().NextDIN(ctx, s.Config.Facility, year)
		if err != nil {
			return nil, nil, err
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, nil, err
		}
		doses = append(doses, product.Dose{ProductID: id, DIN: din})
	}
	lotID, err := uuid.NewV7()
	if err != nil {
		return nil, nil, err
	}
	l, ps, err := product.RegisterLot(lotID, in.Input, doses, now)
	if err != nil {
		return nil, nil, err
	}
	if err := repos.Products().AddLot(ctx, l, in.Program); err != nil {
		return nil, nil, err
	}
	return l, ps, repos.Products().Add(ctx, ps...)
}
