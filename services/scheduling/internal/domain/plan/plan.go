// Package plan finds where one cycle's chain of steps fits: the draw, the
// culture, the release, the infusion and whatever else the protocol lists,
// on the clinic's resources, inside its opening hours, around what is
// already booked, and inside the product's viability window. It is pure:
// the caller reads the occupancy from the database and books the result
// (where the exclusion constraints have the last word); the planner only
// proposes a chain that fits what it was shown, all or nothing.
package plan

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/calendar"
	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// Grid is the spacing of candidate start times, aligned in the clinic's
// local time (08:00, 08:15, ...), so proposals are times people book.
const Grid = 15 * time.Minute

// Resource is one bookable resource of the clinic.
type Resource struct {
	ID   uuid.UUID
	Kind protocol.ResourceKind
}

// Interval is the half-open time range [Start, End).
type Interval struct {
	Start, End time.Time
}

// Overlaps reports whether i and o share an instant.
func (i Interval) Overlaps(o Interval) bool { return i.Start.Before(o.End) && o.Start.Before(i.End) }

// Occupancy is what is already booked. Resources holds per resource the
// BLOCKED ranges (a booking's [start, end+buffer)), which is what the
// database's exclusion constraint compares; Patient holds the patient's
// own busy times (any booking the patient attends). Lists sorted by Start
// and free of overlaps are used as they are (the cheap path, what an
// ORDER BY over an exclusion-constrained table gives); anything else is
// copied, sorted and merged first.
type Occupancy struct {
	Resources map[uuid.UUID][]Interval
	Patient   []Interval
}

// Request is what Chain plans.
type Request struct {
	Protocol protocol.Protocol
	Calendar calendar.Calendar
	// Resources are the clinic's active resources.
	Resources []Resource
	// Earliest: nothing starts before it.
	Earliest time.Time
	// Horizon: the chain's first step must start before Earliest+Horizon;
	// it is also the longest a later step waits for a free slot after the
	// previous step allows it (the caller passes the configured horizon,
	// default 8 weeks).
	Horizon   time.Duration
	Occupancy Occupancy
	// ProductExpires is, for a Donor protocol, the allocated dose's expiry:
	// the infusion must end by then. Zero means none.
	ProductExpires time.Time
}

// Slot is one planned occurrence of a step.
type Slot struct {
	// Step is the index in Protocol.Steps; Session the session of that
	// step, from 0.
	Step    int
	Session int
	Kind    protocol.StepKind
	// Resource is the booked resource; uuid.Nil for a milestone (release,
	// allocation), which is planned but not booked.
	Resource uuid.UUID
	// Start and End of the booking. An infusing step's End includes the
	// observation: the chair and the patient are taken until then.
	Start, End time.Time
}

// Reasons of Unplannable. A reason with a suffix names what was missing:
// "no_resource:infusion_chair", "no_opening_hours:apheresis".
const (
	// ReasonNoResource: the clinic has no active resource of a kind a step
	// needs.
	ReasonNoResource = "no_resource"
	// ReasonNoOpeningHours: no opening span is long enough for a step.
	ReasonNoOpeningHours = "no_opening_hours"
	// ReasonViability: the furthest attempt failed because no slot for the
	// infusion was free inside the product's viability window.
	ReasonViability = "viability"
	// ReasonProductExpiry: a donor dose expires before an infusion fits.
	ReasonProductExpiry = "product_expiry"
	// ReasonNoSlot: no chain fits within the horizon; Detail names the step
	// that failed in the furthest attempt.
	ReasonNoSlot = "no_slot_within_horizon"
)

// Unplannable says why no chain fits. Reason is a stable code (see the
// Reason constants) for events and the API; Detail is for people.
type Unplannable struct {
	Reason string
	Detail string
}

func (u *Unplannable) Error() string { return "unplannable: " + u.Reason + ": " + u.Detail }

// ErrInvalidRequest wraps what makes a request unplannable by construction
// (an invalid protocol or calendar, no horizon): a caller's bug, not a
// full calendar.
var ErrInvalidRequest = errors.New("invalid planning request")

// Chain plans one cycle's whole chain, all or nothing, or says why it
// cannot (*Unplannable).
//
// The search: candidate starts of the first step on the Grid from
// Earliest until Earliest+Horizon, earliest first. For each, every later
// step is placed greedily: a step bound to opening hours (a visit) takes
// the earliest free grid time at or after the previous step allows it (its
// end plus Gap; for a later session, the previous session's start plus
// SessionEvery), waiting up to Horizon; a step that is not (a culture) and
// a milestone start exactly when the previous step allows, because the
// product goes straight into culture: if no culture slot is free then, the
// draw moves later. An infusing step must end inside the viability window
// (autologous) or before ProductExpires (donor). The first candidate whose
// whole chain fits wins, so the result is deterministic; among resources
// of a kind the one with the lowest ID is taken. A chain whose first step
// is a milestone (a donor allocation) starts at Earliest: a later start
// could not free anything that the later steps' own search does not find.
func Chain(r Request) ([]Slot, error) {
	p, err := newPlanner(r)
	if err != nil {
		return nil, err
	}
	return p.chain()
}

// CycleDates is the target infusion time of each cycle of a course: cycle
// 1 at firstInfusion, cycle n at cycle n-1 plus p.IntervalBefore(n) in the
// clinic's calendar (loc), so the local time of day stays the same across
// daylight-saving changes. Instants are UTC.
func CycleDates(p protocol.Protocol, firstInfusion time.Time, loc *time.Location) []time.Time {
	n := p.Cycles()
	if n == 0 {
		return nil
	}
	out := make([]time.Time, n)
	out[0] = firstInfusion.UTC()
	for c := 2; c <= n; c++ {
		out[c-1] = p.IntervalBefore(c).AddTo(out[c-2], loc)
	}
	return out
}

type resource struct {
	id   uuid.UUID
	busy []Interval // sorted by Start, disjoint
}

type planner struct {
	r       Request
	steps   []protocol.Step
	loc     *time.Location
	limit   time.Time // the first step starts before it
	kinds   map[protocol.ResourceKind][]resource
	patient []Interval
	slots   []Slot // the attempt under way

	// The failure of the furthest attempt, for Unplannable.
	failStep   int
	failReason string
	failDetail string
}

func newPlanner(r Request) (*planner, error) {
	if err := r.Protocol.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if err := r.Calendar.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if r.Horizon <= 0 {
		return nil, fmt.Errorf("%w: horizon must be positive", ErrInvalidRequest)
	}
	if r.Earliest.IsZero() {
		return nil, fmt.Errorf("%w: no earliest start", ErrInvalidRequest)
	}
	p := &planner{
		r:        r,
		steps:    r.Protocol.Steps,
		loc:      r.Calendar.Location,
		limit:    r.Earliest.Add(r.Horizon),
		kinds:    map[protocol.ResourceKind][]resource{},
		patient:  normalize(r.Occupancy.Patient),
		failStep: -1,
	}
	for _, res := range r.Resources {
		p.kinds[res.Kind] = append(p.kinds[res.Kind], resource{id: res.ID, busy: normalize(r.Occupancy.Resources[res.ID])})
	}
	for _, list := range p.kinds {
		slices.SortFunc(list, func(a, b resource) int { return bytes.Compare(a.id[:], b.id[:]) })
	}
	longest := r.Calendar.LongestSpan()
	for _, s := range p.steps {
		if s.Resource == "" {
			continue
		}
		if len(p.kinds[s.Resource]) == 0 {
			return nil, &Unplannable{Reason: ReasonNoResource + ":" + string(s.Resource), Detail: fmt.Sprintf("the %s step needs a %s and the clinic has none", s.Kind, s.Resource)}
		}
		if s.OpeningHours && p.length(s) > longest {
			return nil, &Unplannable{Reason: ReasonNoOpeningHours + ":" + string(s.Kind), Detail: fmt.Sprintf("the %s step takes %s and the longest opening span is %s", s.Kind, p.length(s), longest)}
		}
	}
	return p, nil
}

// length is how long a step's booking lasts: an infusing step keeps the
// patient and the chair for the observation too.
func (p *planner) length(s protocol.Step) time.Duration {
	if s.Kind.Infuses() {
		return s.Duration + p.r.Protocol.Observation
	}
	return s.Duration
}

func (p *planner) chain() ([]Slot, error) {
	cursor := p.r.Earliest.UTC()
	leadingMilestone := p.steps[0].Resource == ""
	for cursor.Before(p.limit) {
		first, ok := p.attempt(cursor)
		if ok {
			return slices.Clone(p.slots), nil
		}
		if first.IsZero() || leadingMilestone {
			break
		}
		cursor = first.Add(Grid)
	}
	if p.failStep < 0 {
		return nil, &Unplannable{Reason: ReasonNoSlot, Detail: "no start for the first step within the horizon"}
	}
	return nil, &Unplannable{Reason: p.failReason, Detail: p.failDetail}
}

// attempt plans the chain with its first step at the earliest time at or
// after cursor; first is where the first step went (zero if nowhere).
func (p *planner) attempt(cursor time.Time) (first time.Time, ok bool) {
	p.slots = p.slots[:0]
	var prevEnd time.Time // the previous step's last session's end plus its gap
	release := time.Time{}
	infusing := p.r.Protocol.InfusionStep()
	for i, step := range p.steps {
		if i > 0 && p.steps[i-1].Kind == protocol.Release {
			release = p.slots[len(p.slots)-1].End
		}
		if i == infusing && release.IsZero() && i > 0 {
			release = p.slots[len(p.slots)-1].End
		}
		var prevStart time.Time
		for session := range step.Sessions {
			var lb, ub time.Time
			exact := step.Resource == "" || !step.OpeningHours
			switch {
			case i == 0 && session == 0:
				lb, ub, exact = cursor, p.limit.Add(-time.Nanosecond), step.Resource == ""
			case session == 0:
				lb = prevEnd
			default:
				lb = prevStart.Add(step.SessionEvery)
			}
			if !(i == 0 && session == 0) {
				ub = lb
				if !exact {
					ub = lb.Add(p.r.Horizon)
				}
			}
			deadlineReason := ""
			if i == infusing {
				if p.r.Protocol.Source == protocol.Autologous && !release.IsZero() {
					if d := release.Add(p.r.Protocol.Viability - step.Duration); d.Before(ub) {
						ub, deadlineReason = d, ReasonViability
					}
				}
				if p.r.Protocol.Source == protocol.Donor && !p.r.ProductExpires.IsZero() {
					if d := p.r.ProductExpires.Add(-step.Duration); d.Before(ub) {
						ub, deadlineReason = d, ReasonProductExpiry
					}
				}
			}
			slot, why, ok := p.place(i, session, lb, ub, exact)
			if !ok {
				if deadlineReason != "" {
					why = fmt.Sprintf("%s (it must end by %s)", why, ub.Add(step.Duration).Format(time.RFC3339))
				}
				p.fail(i, deadlineReason, why)
				return first, false
			}
			if i == 0 && session == 0 {
				first = slot.Start
			}
			p.slots = append(p.slots, slot)
			prevStart = slot.Start
			prevEnd = slot.End.Add(step.Gap)
		}
	}
	return first, true
}

func (p *planner) fail(step int, reason, detail string) {
	if step < p.failStep {
		return
	}
	if reason == "" {
		reason = ReasonNoSlot
	}
	p.failStep, p.failReason = step, reason
	p.failDetail = fmt.Sprintf("step %d (%s): %s", step+1, p.steps[step].Kind, detail)
}

// place finds the earliest start in [lb, ub] for one session of step i
// (exactly lb when exact) and the resource it takes; why says what was in
// the way when there is none.
func (p *planner) place(i, session int, lb, ub time.Time, exact bool) (slot Slot, why string, ok bool) {
	step := p.steps[i]
	slot = Slot{Step: i, Session: session, Kind: step.Kind}
	if step.Resource == "" {
		slot.Start, slot.End = lb, lb.Add(step.Duration)
		return slot, "", true
	}
	d := p.length(step)
	s := lb
	if !exact {
		s = p.align(lb)
	}
	why = "nothing free before " + ub.Format(time.RFC3339)
	for !s.After(ub) {
		if step.OpeningHours {
			fit, ok := p.fit(s, d, ub)
			if !ok || (exact && !fit.Equal(s)) {
				return slot, "outside opening hours", false
			}
			s = fit
		}
		if step.Kind.PatientPresent() {
			if end, busy := p.patientBusy(Interval{s, s.Add(d)}); busy {
				if exact {
					return slot, "the patient is busy", false
				}
				why = "the patient is busy"
				s = p.align(end)
				continue
			}
		}
		blocked := Interval{s, s.Add(d + p.r.Protocol.Buffer)}
		var next time.Time
		for _, res := range p.kinds[step.Resource] {
			end, busy := p.resourceBusy(res, blocked)
			if !busy {
				slot.Resource, slot.Start, slot.End = res.id, s, s.Add(d)
				return slot, "", true
			}
			if next.IsZero() || end.Before(next) {
				next = end
			}
		}
		why = fmt.Sprintf("every %s is booked", step.Resource)
		if exact {
			return slot, why + " at " + s.Format(time.RFC3339), false
		}
		s = p.align(next)
	}
	return slot, why, false
}

// fit is the earliest grid time t in [s, ub] with [t, t+d) inside one
// opening span.
func (p *planner) fit(s time.Time, d time.Duration, ub time.Time) (time.Time, bool) {
	for span := range p.r.Calendar.Spans(s, ub.Add(d)) {
		t := p.align(maxTime(s, span[0]))
		if t.After(ub) {
			return time.Time{}, false
		}
		if !t.Add(d).After(span[1]) {
			return t, true
		}
	}
	return time.Time{}, false
}

// patientBusy reports whether q collides with the patient's other
// bookings or a patient-present slot of this chain, and when the
// colliding booking ends.
func (p *planner) patientBusy(q Interval) (time.Time, bool) {
	end, busy := firstOverlap(p.patient, q)
	for _, sl := range p.slots {
		if !p.steps[sl.Step].Kind.PatientPresent() || sl.Resource == uuid.Nil {
			continue
		}
		if o := (Interval{sl.Start, sl.End}); o.Overlaps(q) && (!busy || o.End.Before(end)) {
			end, busy = o.End, true
		}
	}
	return end, busy
}

// resourceBusy reports whether the blocked range q collides with the
// resource's bookings or this chain's own blocked ranges on it, and when
// the earliest colliding range ends (no start before that can be free).
func (p *planner) resourceBusy(res resource, q Interval) (time.Time, bool) {
	end, busy := firstOverlap(res.busy, q)
	for _, sl := range p.slots {
		if sl.Resource != res.id {
			continue
		}
		if o := (Interval{sl.Start, sl.End.Add(p.r.Protocol.Buffer)}); o.Overlaps(q) && (!busy || o.End.Before(end)) {
			end, busy = o.End, true
		}
	}
	return end, busy
}

// firstOverlap finds, by binary search, the first interval of sorted
// disjoint list that overlaps q.
func firstOverlap(list []Interval, q Interval) (time.Time, bool) {
	i, _ := slices.BinarySearchFunc(list, q.Start, func(iv Interval, t time.Time) int {
		if iv.End.After(t) {
			return 1
		}
		return -1
	})
	if i < len(list) && list[i].Start.Before(q.End) {
		return list[i].End, true
	}
	return time.Time{}, false
}

// align rounds t up to the Grid in the clinic's local time.
func (p *planner) align(t time.Time) time.Time {
	t = t.UTC()
	_, off := t.In(p.loc).Zone()
	shift := time.Duration(off) * time.Second
	local := t.Add(shift)
	a := local.Truncate(Grid)
	if a.Before(local) {
		a = a.Add(Grid)
	}
	return a.Add(-shift)
}

// normalize returns list sorted by Start, without overlaps or empty
// intervals: list itself when it already is (touching intervals are fine:
// back-to-back bookings), else a sorted, merged copy.
func normalize(list []Interval) []Interval {
	clean := true
	for i, iv := range list {
		if !iv.Start.Before(iv.End) || (i > 0 && list[i-1].End.After(iv.Start)) {
			clean = false
			break
		}
	}
	if clean {
		return list
	}
	sorted := make([]Interval, 0, len(list))
	for _, iv := range list {
		if iv.Start.Before(iv.End) {
			sorted = append(sorted, iv)
		}
	}
	slices.SortFunc(sorted, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	out := sorted[:0]
	for _, iv := range sorted {
		if n := len(out); n > 0 && !out[n-1].End.Before(iv.Start) {
			out[n-1].End = maxTime(out[n-1].End, iv.End)
			continue
		}
		out = append(out, iv)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
