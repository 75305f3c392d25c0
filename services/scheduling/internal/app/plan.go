package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/clock"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/appointment"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/course"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/plan"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/product"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// Scheduling holds the use cases; each method runs inside the transaction
// its Repositories are bound to.
type Scheduling struct {
	Config Config
	Clock  clock.Clock
}

// bookingAttempts bounds how often a chain is re-planned after the
// database refused it because another booking took a slot between reading
// the occupancy and inserting (the exclusion constraints decide; the
// planner only proposes).
const bookingAttempts = 5

// grid is the granularity of planned start times.
const grid = 15 * time.Minute

func (s *Scheduling) now() time.Time { return s.Clock.Now() }

// PlanCourse plans a course intake requested: the first cycle's whole chain
// booked (all or nothing) and the later cycles as target dates, or the
// course unplanned with the reason. A repeated CourseRequested changes
// nothing.
func (s *Scheduling) PlanCourse(ctx context.Context, repos Repositories, r course.Request) error {
	now := s.now()
	if _, err := repos.Courses().Get(ctx, r.ID); err == nil {
		return nil
	} else if !errors.Is(err, course.ErrNotFound) {
		return err
	}
	withdrawn, err := repos.Withdrawals().Since(ctx, r.PatientID, r.Program, r.RequestedAt)
	if err != nil {
		return err
	}
	if withdrawn {
		// The consent the request relied on was withdrawn after it: the
		// withdrawal arrived first, and the course is never planned.
		c, err := course.Refused(r.ID, r.PatientID, r.Program, r.IntakeVersion, "consent_withdrawn", now)
		if err != nil {
			return err
		}
		return repos.Courses().Add(ctx, c)
	}
	c, err := course.New(r, now)
	if err != nil {
		return err
	}
	if err := repos.Courses().Add(ctx, c); err != nil {
		return err
	}
	return s.plan(ctx, repos, c, now)
}

// CancelRequested cancels a course on intake's CourseCancellationRequested.
// A course scheduling has not heard of yet is kept as cancelled, so that
// its CourseRequested, arriving later, plans nothing; a completed course
// stays completed.
func (s *Scheduling) CancelRequested(ctx context.Context, repos Repositories, id, patientID uuid.UUID, intakeVersion int64) error {
	_, err := s.CancelCourse(ctx, repos, id, "cancellation_requested")
	var state *course.StateError
	switch {
	case errors.As(err, &state):
		return nil
	case errors.Is(err, course.ErrNotFound):
		c, err := course.Refused(id, patientID, "", intakeVersion, "cancellation_requested", s.now())
		if err != nil {
			return err
		}
		return repos.Courses().Add(ctx, c)
	}
	return err
}

// WithdrawConsent records a withdrawn treatment consent and cancels the
// patient's courses of the program under way.
func (s *Scheduling) WithdrawConsent(ctx context.Context, repos Repositories, consentID, patientID uuid.UUID, program string, at time.Time) error {
	if err := repos.Withdrawals().Record(ctx, consentID, patientID, program, at); err != nil {
		return err
	}
	return s.CancelCoursesOf(ctx, repos, patientID, program, "consent_withdrawn")
}

// Replan tries again to plan an unplanned course (after the clinic added
// resources or opening hours).
func (s *Scheduling) Replan(ctx context.Context, repos Repositories, id uuid.UUID) (*course.Course, error) {
	c, err := repos.Courses().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status() != course.Unplanned {
		return nil, &course.StateError{Action: "plan", Status: c.Status()}
	}
	return c, s.plan(ctx, repos, c, s.now())
}

func (s *Scheduling) plan(ctx context.Context, repos Repositories, c *course.Course, now time.Time) error {
	p, err := repos.Reference().Protocol(ctx, c.Program(), c.ProtocolVersion())
	if errors.Is(err, ErrNoProtocol) {
		if err := c.Unplan("no_protocol", fmt.Sprintf("program %s has no protocol version %s", c.Program(), c.ProtocolVersion()), now); err != nil {
			return err
		}
		return repos.Courses().Save(ctx, c)
	}
	if err != nil {
		return err
	}
	earliest := s.earliest(now)
	if ps := c.PreferredStart(); !ps.IsZero() {
		local := time.Date(ps.Year(), ps.Month(), ps.Day(), 0, 0, 0, 0, s.Config.Location)
		if local.After(earliest) {
			earliest = local.UTC()
		}
	}
	appts, why, err := s.bookChain(ctx, repos, chainFor{course: c, protocol: p, cycle: 1}, earliest, now)
	if err != nil {
		return err
	}
	if why != nil {
		if err := c.Unplan(why.Reason, why.Detail, now); err != nil {
			return err
		}
		return repos.Courses().Save(ctx, c)
	}
	first := infusionOf(appts)
	dates := plan.CycleDates(p, first.Details().Start, s.Config.Location)
	cycles := make([]course.Cycle, len(dates))
	for i, d := range dates {
		cycles[i] = course.Cycle{Number: i + 1, Phase: p.PhaseOf(i + 1), TargetDate: clock.DateOf(d, s.Config.Location), Status: course.CyclePlanned}
	}
	cycles[0].Status = course.CycleBooked
	if err := c.Plan(p, cycles, now); err != nil {
		return err
	}
	return repos.Courses().Save(ctx, c)
}

// earliest is the first grid time after now: nothing is planned in the past.
func (s *Scheduling) earliest(now time.Time) time.Time {
	t := now.Truncate(grid)
	if t.Before(now) {
		t = t.Add(grid)
	}
	return t
}

type chainFor struct {
	course   *course.Course
	protocol protocol.Protocol
	cycle    int
}

// bookChain plans and books one cycle's whole chain, or says why it
// cannot. It re-plans when the database refuses the booking because a
// concurrent one took a slot first.
func (s *Scheduling) bookChain(ctx context.Context, repos Repositories, f chainFor, earliest, now time.Time) ([]*appointment.Appointment, *plan.Unplannable, error) {
	ref := repos.Reference()
	cal, err := ref.Calendar(ctx)
	if err != nil {
		return nil, nil, err
	}
	resources, err := ref.Resources(ctx)
	if err != nil {
		return nil, nil, err
	}
	kinds := make(map[uuid.UUID]protocol.ResourceKind, len(resources))
	for _, r := range resources {
		kinds[r.ID] = r.Kind
	}
	var dose *product.Product
	if f.protocol.Source == protocol.Donor {
		dose, err = repos.Products().AvailableDose(ctx, f.course.Program(), now)
		if errors.Is(err, ErrNoDose) {
			return nil, &plan.Unplannable{Reason: "no_donor_dose", Detail: "no released donor dose of the program is available"}, nil
		}
		if err != nil {
			return nil, nil, err
		}
	}
	span := s.Config.Horizon + chainLength(f.protocol)
	for attempt := 1; ; attempt++ {
		occ, err := repos.Appointments().Occupancy(ctx, f.course.PatientID(), earliest.Add(-24*time.Hour), earliest.Add(span))
		if err != nil {
			return nil, nil, err
		}
		req := plan.Request{Protocol: f.protocol, Calendar: cal, Resources: resources, Earliest: earliest,
			Horizon: s.Config.Horizon, Occupancy: occ}
		if dose != nil {
			req.ProductExpires = dose.ExpiresAt()
		}
		slots, err := plan.Chain(req)
		var why *plan.Unplannable
		if errors.As(err, &why) {
			return nil, why, nil
		}
		if err != nil {
			return nil, nil, err
		}
		appts, err := s.appointments(f, slots, kinds, now)
		if err != nil {
			return nil, nil, err
		}
		if dose != nil {
			inf := infusionOf(appts)
			inf.AllocateProduct(dose.DIN().String())
		}
		err = repos.Appointments().Add(ctx, appts...)
		var conflict *ConflictError
		if errors.As(err, &conflict) && attempt < bookingAttempts {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if dose != nil {
			if err := dose.Allocate(f.course.PatientID(), f.course.ID(), f.cycle, now); err != nil {
				return nil, nil, err
			}
			if err := repos.Products().Save(ctx, dose); err != nil {
				return nil, nil, err
			}
		}
		for _, a := range appts {
			if d := a.Details(); d.PatientPresent {
				if err := repos.Jobs().MissedCheck(ctx, d.ID, d.Start); err != nil {
					return nil, nil, err
				}
			}
		}
		return appts, nil, nil
	}
}

func (s *Scheduling) appointments(f chainFor, slots []plan.Slot, kinds map[uuid.UUID]protocol.ResourceKind, now time.Time) ([]*appointment.Appointment, error) {
	var out []*appointment.Appointment
	for _, sl := range slots {
		if sl.Resource == uuid.Nil {
			continue
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		a, err := appointment.Book(appointment.Details{
			ID: id, CourseID: f.course.ID(), Cycle: f.cycle, Step: sl.Step, Session: sl.Session,
			PatientID: f.course.PatientID(), Program: f.course.Program(), Kind: string(sl.Kind),
			ResourceID: sl.Resource, ResourceKind: string(kinds[sl.Resource]), PatientPresent: sl.Kind.PatientPresent(),
			Start: sl.Start, End: sl.End, BlockedUntil: sl.End.Add(f.protocol.Buffer),
		}, now)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// infusionOf is the chain's infusing appointment.
func infusionOf(as []*appointment.Appointment) *appointment.Appointment {
	for _, a := range as {
		if protocol.StepKind(a.Details().Kind).Infuses() {
			return a
		}
	}
	return nil
}

// chainLength bounds how long one cycle's chain can take from its first
// step to its last: what the occupancy read must cover beyond the horizon.
func chainLength(p protocol.Protocol) time.Duration {
	var d time.Duration
	for _, st := range p.Steps {
		d += st.Duration*time.Duration(st.Sessions) + st.SessionEvery*time.Duration(max(st.Sessions-1, 0)) + st.Gap
	}
	return d + p.Viability + p.Observation + 7*24*time.Hour
}

// leadToInfusion is the least time from a cycle's first step to its
// infusion: a later cycle's chain starts this long before its target date.
func leadToInfusion(p protocol.Protocol) time.Duration {
	var d time.Duration
	for _, st := range p.Steps {
		if st.Kind.Infuses() {
			break
		}
		d += st.Duration*time.Duration(st.Sessions) + st.SessionEvery*time.Duration(max(st.Sessions-1, 0)) + st.Gap
	}
	return d
}

// bookCycle books cycle n's chain when its turn comes (the previous
// cycle's infusion was given): from its target date less the chain's lead
// time, or now if that has passed.
func (s *Scheduling) bookCycle(ctx context.Context, repos Repositories, c *course.Course, n int, now time.Time) error {
	cy, ok := c.Cycle(n)
	if !ok || cy.Status != course.CyclePlanned || c.Status() == course.OnHold {
		return nil // a held course books its next cycle when resumed
	}
	p := *c.Protocol()
	target := time.Date(cy.TargetDate.Year(), cy.TargetDate.Month(), cy.TargetDate.Day(), 0, 0, 0, 0, s.Config.Location)
	earliest := s.earliest(now)
	if from := target.Add(-leadToInfusion(p)).UTC(); from.After(earliest) {
		earliest = from
	}
	_, why, err := s.bookChain(ctx, repos, chainFor{course: c, protocol: p, cycle: n}, earliest, now)
	if err != nil {
		return err
	}
	if why != nil {
		// Nothing fits: never a silent gap in the course. It goes on hold
		// (CourseOnHold names why) until someone books the cycle and
		// resumes it.
		return c.Hold(fmt.Sprintf("cycle_%d_unplanned: %s", n, why.Reason), now)
	}
	cy.Status = course.CycleBooked
	return c.SetCycle(cy, now)
}
