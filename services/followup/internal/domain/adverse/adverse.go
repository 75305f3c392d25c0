// Package adverse holds adverse events as a clinician records them: the
// term, the grade on its stated scale (CTCAE 1-5, or ASTCT 1-4 for
// cytokine release syndrome), onset, seriousness, outcome and the product
// it follows. FHIR has three severities only; the grade stays a coded field
// of its own. Pure Go.
package adverse

import (
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
)

// Scale is the grading scale.
type Scale string

// Scales.
const (
	CTCAE Scale = "CTCAE" // Common Terminology Criteria for Adverse Events, grades 1-5 (5 is death)
	ASTCT Scale = "ASTCT" // ASTCT consensus grading of cytokine release syndrome, grades 1-4
)

// MaxGrade is the highest grade of the scale.
func (s Scale) MaxGrade() int {
	if s == ASTCT {
		return 4
	}
	return 5
}

// Outcomes, FHIR AdverseEvent.outcome's codes.
var Outcomes = []string{"resolved", "recovering", "ongoing", "resolved_with_sequelae", "fatal", "unknown"}

// dinPattern is an ISBT 128 donation identification number with its check
// character: a facility (a letter and four digits), the year (two digits),
// a sequence (six digits), then the check character (0-9, A-Z or *).
var dinPattern = regexp.MustCompile(`^[A-Z][0-9]{12}[0-9A-Z*]$`)

// ValidProductID reports whether s is a DIN with its check character, as
// scheduling's events carry it.
func ValidProductID(s string) bool { return dinPattern.MatchString(s) }

// MaxTerm is the term's limit in characters.
const MaxTerm = 200

// Input is what a clinician records.
type Input struct {
	PatientID     uuid.UUID
	CourseID      uuid.UUID
	Term          string
	Scale         string
	Grade         int
	OnsetAt       time.Time
	Serious       bool
	Outcome       string
	ProductID     string
	AppointmentID uuid.UUID
}

// Event is a recorded adverse event.
type Event struct {
	ID            uuid.UUID
	PatientID     uuid.UUID
	CourseID      uuid.UUID
	Term          string
	Scale         Scale
	Grade         int
	OnsetAt       time.Time
	Serious       bool
	Outcome       string
	ProductID     string
	AppointmentID uuid.UUID // uuid.Nil when not known
	RecordedAt    time.Time
	Version       int64
}

// New validates in (field names are the API's) and records it at now. An
// onset in the future is refused (a minute of clock skew is allowed).
func New(id uuid.UUID, in Input, now time.Time) (Event, error) {
	var l validation.List
	if in.PatientID == uuid.Nil {
		l.Add("patient_id", "is required")
	}
	if in.CourseID == uuid.Nil {
		l.Add("course_id", "is required")
	}
	term := l.CheckText("term", in.Term, true, MaxTerm, false)
	scale := Scale(in.Scale)
	switch scale {
	case CTCAE, ASTCT:
		if in.Grade < 1 || in.Grade > scale.MaxGrade() {
			if scale == ASTCT {
				l.Add("grade", "must be from 1 to 4 on the ASTCT scale")
			} else {
				l.Add("grade", "must be from 1 to 5 on the CTCAE scale")
			}
		}
	default:
		l.Add("scale", "must be CTCAE or ASTCT")
	}
	if in.OnsetAt.IsZero() {
		l.Add("onset_at", "is required")
	} else if in.OnsetAt.After(now.Add(time.Minute)) {
		l.Add("onset_at", "must not be in the future")
	}
	if in.Outcome != "" && !contains(Outcomes, in.Outcome) {
		l.Add("outcome", "must be one of resolved, recovering, ongoing, resolved_with_sequelae, fatal, unknown")
	}
	if in.ProductID != "" && !ValidProductID(in.ProductID) {
		l.Add("product_id", "must be an ISBT 128 DIN with its check character")
	}
	if err := l.Err(); err != nil {
		return Event{}, err
	}
	return Event{ID: id, PatientID: in.PatientID, CourseID: in.CourseID, Term: term, Scale: scale, Grade: in.Grade,
		OnsetAt: in.OnsetAt.UTC(), Serious: in.Serious, Outcome: in.Outcome, ProductID: in.ProductID,
		AppointmentID: in.AppointmentID, RecordedAt: now, Version: 1}, nil
}

// Reportable reports whether the event must be published and the course
// held: grade 3 or higher, on either scale.
func (e Event) Reportable() bool { return e.Grade >= 3 }

// Fatal reports whether the event is a death (CTCAE grade 5): the
// patient's pending reminders are closed.
func (e Event) Fatal() bool { return e.Scale == CTCAE && e.Grade == 5 }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
