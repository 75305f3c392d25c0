// Package seed is scheduling's reference data as the clinic edits it:
// protocols, resources and the calendar, in the JSON shape the admin API
// and `make run`'s demo data share.
package seed

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/clinicops/clinicops/services/scheduling/internal/domain/protocol"
)

// StepJSON is one step of a protocol's cycle.
type StepJSON struct {
	Kind                string `json:"kind"`
	DurationMinutes     int    `json:"duration_minutes"`
	Resource            string `json:"resource,omitempty"`
	Sessions            int    `json:"sessions,omitempty"`
	SessionEveryMinutes int    `json:"session_every_minutes,omitempty"`
	GapMinutes          int    `json:"gap_minutes,omitempty"`
	OpeningHours        bool   `json:"opening_hours"`
}

// IntervalJSON is a calendar interval between cycles.
type IntervalJSON struct {
	Months int `json:"months,omitempty"`
	Days   int `json:"days,omitempty"`
}

// PhaseJSON is a phase of a course.
type PhaseJSON struct {
	Name   string       `json:"name"`
	Cycles int          `json:"cycles"`
	Every  IntervalJSON `json:"every"`
}

// ReleaseJSON are QC release criteria.
type ReleaseJSON struct {
	MinViabilityPct     float64 `json:"min_viability_pct"`
	MinPurityPct        float64 `json:"min_purity_pct"`
	MaxEndotoxinEUPerML float64 `json:"max_endotoxin_eu_per_ml"`
}

// ProtocolJSON is one protocol version.
type ProtocolJSON struct {
	Program            string      `json:"program"`
	Version            string      `json:"version"`
	Name               string      `json:"name"`
	Source             string      `json:"source"`
	Steps              []StepJSON  `json:"steps"`
	Phases             []PhaseJSON `json:"phases"`
	ViabilityHours     int         `json:"viability_hours"`
	DoseCells          int64       `json:"dose_cells"`
	ObservationMinutes int         `json:"observation_minutes"`
	BufferMinutes      int         `json:"buffer_minutes"`
	Release            ReleaseJSON `json:"release"`
	// NoDeposit turns the funding gate off for the program (default: a
	// culture waits for the deposit).
	NoDeposit bool `json:"no_deposit,omitempty"`
}

func minutes(n int) time.Duration { return time.Duration(n) * time.Minute }

// ToDomain is the protocol, validated.
func (p ProtocolJSON) ToDomain() (protocol.Protocol, error) {
	out := protocol.Protocol{Program: p.Program, Version: p.Version, Name: p.Name, Source: protocol.Source(p.Source),
		Viability: time.Duration(p.ViabilityHours) * time.Hour, DoseCells: p.DoseCells,
		Observation: minutes(p.ObservationMinutes), Buffer: minutes(p.BufferMinutes), NoDeposit: p.NoDeposit,
		Release: protocol.ReleaseCriteria{MinViabilityPct: p.Release.MinViabilityPct, MinPurityPct: p.Release.MinPurityPct,
			MaxEndotoxinEUPerML: p.Release.MaxEndotoxinEUPerML}}
	for _, s := range p.Steps {
		sessions := s.Sessions
		if sessions == 0 {
			sessions = 1
		}
		out.Steps = append(out.Steps, protocol.Step{Kind: protocol.StepKind(s.Kind), Duration: minutes(s.DurationMinutes),
			Resource: protocol.ResourceKind(s.Resource), Sessions: sessions, SessionEvery: minutes(s.SessionEveryMinutes),
			Gap: minutes(s.GapMinutes), OpeningHours: s.OpeningHours})
	}
	for _, ph := range p.Phases {
		out.Phases = append(out.Phases, protocol.Phase{Name: ph.Name, Cycles: ph.Cycles,
			Every: protocol.Interval{Months: ph.Every.Months, Days: ph.Every.Days}})
	}
	if err := out.Validate(); err != nil {
		return protocol.Protocol{}, err
	}
	return out, nil
}

// FromProtocol is the JSON shape of p.
func FromProtocol(p protocol.Protocol) ProtocolJSON {
	out := ProtocolJSON{Program: p.Program, Version: p.Version, Name: p.Name, Source: string(p.Source),
		ViabilityHours: int(p.Viability / time.Hour), DoseCells: p.DoseCells,
		ObservationMinutes: int(p.Observation / time.Minute), BufferMinutes: int(p.Buffer / time.Minute), NoDeposit: p.NoDeposit,
		Release: ReleaseJSON{MinViabilityPct: p.Release.MinViabilityPct, MinPurityPct: p.Release.MinPurityPct,
			MaxEndotoxinEUPerML: p.Release.MaxEndotoxinEUPerML},
		Steps: []StepJSON{}, Phases: []PhaseJSON{}}
	for _, s := range p.Steps {
		out.Steps = append(out.Steps, StepJSON{Kind: string(s.Kind), DurationMinutes: int(s.Duration / time.Minute),
			Resource: string(s.Resource), Sessions: s.Sessions, SessionEveryMinutes: int(s.SessionEvery / time.Minute),
			GapMinutes: int(s.Gap / time.Minute), OpeningHours: s.OpeningHours})
	}
	for _, ph := range p.Phases {
		out.Phases = append(out.Phases, PhaseJSON{Name: ph.Name, Cycles: ph.Cycles,
			Every: IntervalJSON{Months: ph.Every.Months, Days: ph.Every.Days}})
	}
	return out
}

// ResourceJSON is a resource of the clinic.
type ResourceJSON struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Count int    `json:"count,omitempty"`
}

// HoursJSON is an opening span of a weekday ("mon".."sun", "HH:MM").
type HoursJSON struct {
	Weekday string `json:"weekday"`
	Opens   string `json:"opens"`
	Closes  string `json:"closes"`
}

// ClosureJSON is a closed day.
type ClosureJSON struct {
	Date   string `json:"date"`
	Reason string `json:"reason"`
}

// Data is the demo reference data `make run` seeds.
type Data struct {
	Protocols []ProtocolJSON `json:"protocols"`
	Resources []ResourceJSON `json:"resources"`
	Hours     []HoursJSON    `json:"hours"`
	Closures  []ClosureJSON  `json:"closures"`
}

//go:embed reference.json
var reference []byte

// Reference is the demo reference data.
func Reference() (Data, error) {
	var d Data
	if err := json.Unmarshal(reference, &d); err != nil {
		return d, fmt.Errorf("scheduling seed: %w", err)
	}
	return d, nil
}

// Weekdays maps the API's weekday names.
var Weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}
