// Package screening evaluates a patient against a program's screening
// checklist and keeps the result with its reasons. Pure Go, no I/O.
package screening

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
)

// Reason codes.
const (
	ReasonAgeBelowMinimum      = "age_below_minimum"
	ReasonAgeAboveMaximum      = "age_above_maximum"
	ReasonIndicationNotAllowed = "indication_not_allowed"
	ReasonDisqualifyingAnswer  = "disqualifying_answer"
)

// Reason says why a patient is not eligible. Messages name program limits
// and question ids, never the patient's data.
type Reason struct {
	Code    string
	Message string
}

// Result is the outcome of a screening: eligible when there are no reasons.
type Result struct {
	Eligible bool
	Reasons  []Reason
}

// answerKey is what an unknown answer key must look like to be named in a
// field path; anything else is reported on "answers" so arbitrary input never
// reaches a response or a log.
var answerKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Evaluate screens a patient born on birthDate for program p on today (a
// date in the clinic's time zone, chosen by the caller).
//
// Bad input is a *validation.Error listing every problem: an invalid
// indication (indication.system, indication.code), a missing birth date
// (birth_date), a question without an answer (answers.<id>: "is required")
// and an answer to no question of the program (answers.<id>: "is not a
// question of this program").
//
// Otherwise the result lists, in this order, age_below_minimum,
// age_above_maximum (age in completed years on today), indication_not_allowed
// and one disqualifying_answer per question answered with its disqualifying
// answer, in the program's question order.
func Evaluate(p program.Program, birthDate time.Time, ind program.Indication, answers map[string]bool, today time.Time) (Result, error) {
	ind, err := validateInput(p, birthDate, ind, answers)
	if err != nil {
		return Result{}, err
	}
	var reasons []Reason
	s := p.Screening
	age := patient.CompletedYears(birthDate, today)
	if age < s.AgeMin {
		reasons = append(reasons, Reason{ReasonAgeBelowMinimum,
			fmt.Sprintf("age is below the program minimum of %d", s.AgeMin)})
	}
	if age > s.AgeMax {
		reasons = append(reasons, Reason{ReasonAgeAboveMaximum,
			fmt.Sprintf("age is above the program maximum of %d", s.AgeMax)})
	}
	if !s.Allows(ind.Code) {
		reasons = append(reasons, Reason{ReasonIndicationNotAllowed,
			"the indication is not one the program treats"})
	}
	for _, q := range s.Questions {
		if answers[q.ID] == q.DisqualifyingAnswer {
			reasons = append(reasons, Reason{ReasonDisqualifyingAnswer,
				fmt.Sprintf("the answer to %s disqualifies", q.ID)})
		}
	}
	return Result{Eligible: len(reasons) == 0, Reasons: reasons}, nil
}

func validateInput(p program.Program, birthDate time.Time, ind program.Indication, answers map[string]bool) (program.Indication, error) {
	var l validation.List
	ind, err := program.ParseICD10(ind.System, ind.Code)
	if err := l.Merge(err); err != nil {
		return ind, err
	}
	if birthDate.IsZero() {
		l.Add("birth_date", "is required")
	}
	for _, q := range p.Screening.Questions {
		if _, ok := answers[q.ID]; !ok {
			l.Add("answers."+q.ID, "is required")
		}
	}
	unknownElsewhere := false
	for _, k := range slices.Sorted(maps.Keys(answers)) {
		if _, ok := p.Screening.Question(k); ok {
			continue
		}
		if answerKey.MatchString(k) {
			l.Add("answers."+k, "is not a question of this program")
		} else {
			unknownElsewhere = true
		}
	}
	if unknownElsewhere {
		l.Add("answers", "has a key that is not a question of this program")
	}
	return ind, l.Err()
}

// Screening is the aggregate: one completed checklist.
type Screening struct {
	id               uuid.UUID
	patientID        uuid.UUID
	program          string
	protocolVersion  string
	screeningVersion string
	indication       program.Indication
	answers          map[string]bool
	result           Result
	completedAt      time.Time
	version          int64
	events           []Event
}

// New evaluates the screening (see Evaluate) and records it, with the
// program's code, protocol and screening versions, the normalised
// indication, the answers and the result, completed at now, at version 1.
// It has recorded Completed.
func New(
	id, patientID uuid.UUID, p program.Program, ind program.Indication, answers map[string]bool,
	birthDate, now, today time.Time,
) (*Screening, error) {
	res, err := Evaluate(p, birthDate, ind, answers, today)
	if err != nil {
		return nil, err
	}
	ind, _ = program.ParseICD10(ind.System, ind.Code) // valid: Evaluate checked it
	s := &Screening{
		id: id, patientID: patientID, program: p.Code, protocolVersion: p.ProtocolVersion,
		screeningVersion: p.Screening.Version, indication: ind, answers: maps.Clone(answers),
		result: res, completedAt: now, version: 1,
	}
	s.events = append(s.events, Completed{ScreeningID: id, PatientID: patientID, Version: s.version, At: now,
		Program: p.Code, ScreeningVersion: p.Screening.Version, Result: cloneResult(res)})
	return s, nil
}

// UnmarshalScreeningFromDatabase rebuilds a stored screening; for
// repositories only.
func UnmarshalScreeningFromDatabase(
	id, patientID uuid.UUID, programCode, protocolVersion, screeningVersion string,
	ind program.Indication, answers map[string]bool, result Result, completedAt time.Time, version int64,
) *Screening {
	return &Screening{
		id: id, patientID: patientID, program: programCode, protocolVersion: protocolVersion,
		screeningVersion: screeningVersion, indication: ind, answers: maps.Clone(answers),
		result: cloneResult(result), completedAt: completedAt, version: version,
	}
}

// ID is the screening's id.
func (s *Screening) ID() uuid.UUID { return s.id }

// PatientID is the patient screened.
func (s *Screening) PatientID() uuid.UUID { return s.patientID }

// Program is the program code screened for.
func (s *Screening) Program() string { return s.program }

// ProtocolVersion is the program's protocol version at screening time.
func (s *Screening) ProtocolVersion() string { return s.protocolVersion }

// ScreeningVersion is the version of the checklist used.
func (s *Screening) ScreeningVersion() string { return s.screeningVersion }

// Indication is the normalised indication screened for.
func (s *Screening) Indication() program.Indication { return s.indication }

// Answers returns a copy of the answers by question id.
func (s *Screening) Answers() map[string]bool { return maps.Clone(s.answers) }

// Result returns a copy of the result.
func (s *Screening) Result() Result { return cloneResult(s.result) }

// Eligible is Result().Eligible.
func (s *Screening) Eligible() bool { return s.result.Eligible }

// CompletedAt is when the screening was recorded.
func (s *Screening) CompletedAt() time.Time { return s.completedAt }

// Version is the screening's version. A screening never changes once
// completed, so it is 1; it is stored and published like every aggregate's
// so consumers treat all intake events alike.
func (s *Screening) Version() int64 { return s.version }

func cloneResult(r Result) Result {
	r.Reasons = slices.Clone(r.Reasons)
	return r
}
