// Package protocol is a program's treatment protocol as data: the steps of
// one cycle (what happens, for how long, on which kind of resource, with
// which lead time to the next), the phases that repeat the cycle, and the
// product's rules (viability window, dose, observation, QC release
// criteria). A course keeps the protocol version it was planned with.
package protocol

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// StepKind is what a step of a cycle is.
type StepKind string

// The step kinds the clinic's protocols use.
const (
	Draw             StepKind = "draw"              // blood draw: collects an autologous product
	Culture          StepKind = "culture"           // the lab cultures the product (a culture slot)
	Release          StepKind = "release"           // QC release: a milestone, no resource
	Allocation       StepKind = "allocation"        // a dose allocated from a released donor lot: a milestone
	Infusion         StepKind = "infusion"          // IV infusion of the product, with observation
	Mobilisation     StepKind = "mobilisation"      // stem-cell mobilisation (G-CSF) visit
	Apheresis        StepKind = "apheresis"         // apheresis session: collects an autologous product
	Conditioning     StepKind = "conditioning"      // high-dose conditioning
	Reinfusion       StepKind = "reinfusion"        // reinfusion of the stem-cell product, with observation
	EngraftmentCheck StepKind = "engraftment_check" // blood count after reinfusion
)

var stepKinds = []StepKind{Draw, Culture, Release, Allocation, Infusion, Mobilisation, Apheresis, Conditioning, Reinfusion, EngraftmentCheck}

// Valid reports whether k is a known step kind.
func (k StepKind) Valid() bool { return slices.Contains(stepKinds, k) }

// Collects reports whether completing a step of kind k creates the cycle's
// cell product (an autologous collection).
func (k StepKind) Collects() bool { return k == Draw || k == Apheresis }

// Infuses reports whether a step of kind k gives the product to the
// patient: its completion is checked against the chain of identity.
func (k StepKind) Infuses() bool { return k == Infusion || k == Reinfusion }

// PatientPresent reports whether the patient is there during a step of kind
// k, so that the patient cannot be booked elsewhere at the same time. A
// culture runs in the lab without the patient.
func (k StepKind) PatientPresent() bool { return k != Culture && k != Release && k != Allocation }

// ResourceKind is a kind of bookable resource.
type ResourceKind string

// The resource kinds of the clinic.
const (
	InfusionChair    ResourceKind = "infusion_chair"
	DrawStation      ResourceKind = "draw_station"
	ApheresisMachine ResourceKind = "apheresis_machine"
	// CultureSlot is one unit of the lab's culture capacity: a lab that can
	// run six cultures at once has six culture slots, so its capacity is
	// enforced like any other resource's (one booking at a time each).
	CultureSlot ResourceKind = "culture_slot"
)

var resourceKinds = []ResourceKind{InfusionChair, DrawStation, ApheresisMachine, CultureSlot}

// Valid reports whether k is a known resource kind.
func (k ResourceKind) Valid() bool { return slices.Contains(resourceKinds, k) }

// Source is where a cycle's product comes from.
type Source string

const (
	// Autologous: collected from the patient in the cycle (a draw or an
	// apheresis), cultured or processed, released by QC.
	Autologous Source = "autologous"
	// Donor: one dose of a released donor lot, allocated when the cycle is
	// planned.
	Donor Source = "donor"
)

// Step is one step of a cycle.
type Step struct {
	Kind StepKind
	// Duration is how long the step occupies its resource (an infusion's
	// observation comes on top, see Protocol.Observation).
	Duration time.Duration
	// Resource is the kind of resource the step occupies; empty for a
	// milestone (release, allocation), which is planned but not booked.
	Resource ResourceKind
	// Sessions is how many times the step happens (apheresis 1-3 sessions,
	// engraftment checks); at least 1. Sessions are SessionEvery apart.
	Sessions int
	// SessionEvery is the time from one session's start to the next one's
	// earliest start; used when Sessions > 1.
	SessionEvery time.Duration
	// Gap is the least time from the end of this step (its last session) to
	// the start of the next step: the lead time.
	Gap time.Duration
	// OpeningHours: the step must lie inside the clinic's opening hours. A
	// culture runs day and night; a draw or an infusion does not.
	OpeningHours bool
}

// Interval is the time between the starts of two cycles, in the clinic's
// calendar: months are calendar months and days are calendar days in the
// clinic's zone, so "every 3 months" and "every 8 weeks" stay on the same
// local time of day across daylight-saving changes.
type Interval struct {
	Months int
	Days   int
}

// AddTo is t moved by the interval in loc's calendar.
func (i Interval) AddTo(t time.Time, loc *time.Location) time.Time {
	return t.In(loc).AddDate(0, i.Months, i.Days).UTC()
}

// Zero reports whether the interval is empty.
func (i Interval) Zero() bool { return i.Months == 0 && i.Days == 0 }

// Phase repeats the cycle: Cycles times, Every apart (from one cycle's
// infusion to the next cycle's infusion).
type Phase struct {
	Name   string
	Cycles int
	Every  Interval
}

// ReleaseCriteria are the QC values a product must meet to be released.
// Sterility and mycoplasma must always be negative.
type ReleaseCriteria struct {
	MinViabilityPct     float64
	MinPurityPct        float64
	MaxEndotoxinEUPerML float64
}

// Protocol is one version of a program's protocol.
type Protocol struct {
	Program string
	Version string
	Name    string
	Source  Source
	// Steps of one cycle, in order.
	Steps []Step
	// Phases of the course, in order; the course has the sum of their
	// cycles.
	Phases []Phase
	// Viability is how long a released product may be infused: an
	// infusion must end within it.
	Viability time.Duration
	// DoseCells is the planned dose per infusion, in cells.
	DoseCells int64
	// Observation is how long the patient stays in the chair after an
	// infusion (at least 4 h): the chair is booked for it too.
	Observation time.Duration
	// Buffer is the least time between two bookings of one resource
	// (cleaning, preparation), enforced by the database.
	Buffer  time.Duration
	Release ReleaseCriteria
	// NoDeposit: the program is not funded by a deposit, so its culture
	// may start before billing reports one paid (the funding gate is off).
	NoDeposit bool
}

// MinObservation is the least observation after an infusion.
const MinObservation = 4 * time.Hour

// Errors of Validate.
var ErrInvalid = errors.New("invalid protocol")

// Validate checks that the protocol can be planned.
func (p Protocol) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.Program == "" || p.Version == "" {
		bad("program and version are required")
	}
	if p.Source != Autologous && p.Source != Donor {
		bad("source %q is not autologous or donor", p.Source)
	}
	if len(p.Steps) == 0 {
		bad("a cycle needs at least one step")
	}
	infusions, collections := 0, 0
	for i, s := range p.Steps {
		if !s.Kind.Valid() {
			bad("step %d: kind %q is unknown", i+1, s.Kind)
		}
		if s.Resource != "" && !s.Resource.Valid() {
			bad("step %d: resource kind %q is unknown", i+1, s.Resource)
		}
		if s.Resource != "" && s.Duration <= 0 {
			bad("step %d: a booked step needs a duration", i+1)
		}
		if s.Duration < 0 || s.Gap < 0 || s.SessionEvery < 0 {
			bad("step %d: durations cannot be negative", i+1)
		}
		if s.Sessions < 1 {
			bad("step %d: sessions must be at least 1", i+1)
		}
		if s.Sessions > 1 && s.SessionEvery < s.Duration {
			bad("step %d: sessions overlap (every %s, each %s)", i+1, s.SessionEvery, s.Duration)
		}
		if s.Kind.Infuses() {
			infusions++
			if s.Resource == "" {
				bad("step %d: an infusion needs a resource", i+1)
			}
		}
		if s.Kind.Collects() {
			collections++
		}
	}
	if infusions != 1 {
		bad("a cycle needs exactly one infusion step, has %d", infusions)
	}
	if p.Source == Autologous && collections == 0 {
		bad("an autologous protocol needs a collecting step (draw or apheresis)")
	}
	if p.Source == Donor && collections > 0 {
		bad("a donor protocol collects nothing from the patient")
	}
	if len(p.Phases) == 0 {
		bad("a course needs at least one phase")
	}
	for i, ph := range p.Phases {
		if ph.Cycles < 1 {
			bad("phase %d: cycles must be at least 1", i+1)
		}
		if ph.Every.Months < 0 || ph.Every.Days < 0 {
			bad("phase %d: interval cannot be negative", i+1)
		}
		if ph.Cycles > 1 && ph.Every.Zero() {
			bad("phase %d: repeated cycles need an interval", i+1)
		}
	}
	if p.Viability <= 0 {
		bad("viability window must be positive")
	}
	if p.DoseCells <= 0 {
		bad("dose must be positive")
	}
	if p.Observation < MinObservation {
		bad("observation must be at least %s", MinObservation)
	}
	if p.Buffer < 0 {
		bad("buffer cannot be negative")
	}
	r := p.Release
	if r.MinViabilityPct < 0 || r.MinViabilityPct > 100 || r.MinPurityPct < 0 || r.MinPurityPct > 100 || r.MaxEndotoxinEUPerML < 0 {
		bad("release criteria out of range")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// Cycles is the number of cycles of a course under the protocol.
func (p Protocol) Cycles() int {
	n := 0
	for _, ph := range p.Phases {
		n += ph.Cycles
	}
	return n
}

// IntervalBefore is the interval from cycle n-1 to cycle n (1-based; cycle
// 1 has none): the interval of the phase cycle n belongs to, or, for the
// first cycle of a later phase, that phase's interval.
func (p Protocol) IntervalBefore(n int) Interval {
	seen := 0
	for _, ph := range p.Phases {
		seen += ph.Cycles
		if n <= seen {
			return ph.Every
		}
	}
	return Interval{}
}

// PhaseOf is the name of the phase cycle n (1-based) belongs to.
func (p Protocol) PhaseOf(n int) string {
	seen := 0
	for _, ph := range p.Phases {
		seen += ph.Cycles
		if n <= seen {
			return ph.Name
		}
	}
	return ""
}

// InfusionStep is the index of the cycle's infusion step.
func (p Protocol) InfusionStep() int {
	return slices.IndexFunc(p.Steps, func(s Step) bool { return s.Kind.Infuses() })
}
