// Package program holds the treatment programs the clinic offers and their
// screening checklists. Programs are data the clinic seeds and changes, never
// constants in code; this package only validates them and answers questions
// about them. Pure Go, no I/O.
package program

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/clinicops/clinicops/pkg/validation"
)

// ErrNotFound is returned when no program has the requested code.
var ErrNotFound = errors.New("program not found")

// QuestionTypeBoolean is the only question type: a yes/no answer.
const QuestionTypeBoolean = "boolean"

// Limits on program data.
const (
	MaxAge          = 150
	maxName         = 200
	maxVersion      = 50
	maxQuestionText = 1000
)

// Program is a treatment program such as nk-autologous.
type Program struct {
	Code            string
	Name            string
	ProtocolVersion string
	Screening       Screening
}

// Screening is the program's eligibility checklist.
type Screening struct {
	Version string
	AgeMin  int // inclusive, in completed years
	AgeMax  int // inclusive, in completed years
	// Indications are the ICD-10 codes or code prefixes the program treats;
	// see Allows.
	Indications []string
	Questions   []Question
}

// Question is one yes/no item of the checklist.
type Question struct {
	ID   string
	Text string
	Type string // QuestionTypeBoolean
	// DisqualifyingAnswer is the answer that makes the patient ineligible.
	DisqualifyingAnswer bool
}

var (
	codePattern       = regexp.MustCompile(`^[a-z][a-z0-9-]{1,40}$`)
	questionIDPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
)

// ValidCode reports whether s has the shape of a program code: a lower-case
// letter, then 1 to 40 lower-case letters, digits or dashes.
func ValidCode(s string) bool { return codePattern.MatchString(s) }

// ValidQuestionID reports whether s has the shape of a question id (so it
// may be echoed as a field name).
func ValidQuestionID(s string) bool { return questionIDPattern.MatchString(s) }

// Question returns the question with id.
func (s Screening) Question(id string) (Question, bool) {
	for _, q := range s.Questions {
		if q.ID == id {
			return q, true
		}
	}
	return Question{}, false
}

// Validate checks a program before it is seeded or changed. Errors are a
// *validation.Error with paths like "screening.questions[2].id".
func (p Program) Validate() error {
	var l validation.List
	if !ValidCode(p.Code) {
		l.Add("code", "must be a lower-case letter then 1 to 40 lower-case letters, digits or dashes")
	}
	checkText(&l, "name", p.Name, maxName)
	checkText(&l, "protocol_version", p.ProtocolVersion, maxVersion)
	s := p.Screening
	checkText(&l, "screening.version", s.Version, maxVersion)
	switch {
	case s.AgeMin < 0 || s.AgeMin > MaxAge:
		l.Add("screening.age_min", fmt.Sprintf("must be between 0 and %d", MaxAge))
	case s.AgeMax < 0 || s.AgeMax > MaxAge:
		l.Add("screening.age_max", fmt.Sprintf("must be between 0 and %d", MaxAge))
	case s.AgeMin > s.AgeMax:
		l.Add("screening.age_max", "must not be below age_min")
	}
	if len(s.Indications) == 0 {
		l.Add("screening.indications", "is required")
	}
	for i, ind := range s.Indications {
		if _, ok := parsePrefix(ind); !ok {
			l.Add(fmt.Sprintf("screening.indications[%d]", i), "must be an ICD-10 code or code prefix, e.g. M05 or G35.A")
		}
	}
	seen := make(map[string]bool, len(s.Questions))
	for i, q := range s.Questions {
		path := fmt.Sprintf("screening.questions[%d]", i)
		switch {
		case !questionIDPattern.MatchString(q.ID):
			l.Add(path+".id", "must be a lower-case letter then up to 63 lower-case letters, digits, _ or -")
		case seen[q.ID]:
			l.Add(path+".id", "is not unique")
		}
		seen[q.ID] = true
		checkText(&l, path+".text", q.Text, maxQuestionText)
		if q.Type != QuestionTypeBoolean {
			l.Add(path+".type", `must be "boolean"`)
		}
	}
	return l.Err()
}

// checkText requires s to be trimmed, non-empty free text of at most max
// characters.
func checkText(l *validation.List, field, s string, max int) {
	t, msg := validation.Text(s, true, max, false)
	switch {
	case msg != "":
		l.Add(field, msg)
	case t != s:
		l.Add(field, "has leading or trailing spaces")
	}
}

// Allows reports whether the program treats the ICD-10 code: whether one of
// the listed indications is a prefix of the code, both compared in upper case
// without the dot. M05 allows M05, M05.7 and M05.79; M05.7 does not allow
// M05; only an entry M0 would allow every M0x code. An invalid code, or an
// invalid entry, allows nothing.
func (s Screening) Allows(code string) bool {
	c, ok := dotless(code)
	if !ok || !codeDotless.MatchString(c) {
		return false
	}
	for _, ind := range s.Indications {
		if p, ok := parsePrefix(ind); ok && strings.HasPrefix(c, p) {
			return true
		}
	}
	return false
}
