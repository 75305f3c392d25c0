// Package seed holds intake's demo reference data: the programs `make run`
// installs. They are the clinic's data from then on: seeding adds what is
// missing and never overwrites what the clinic changed.
package seed

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
)

//go:embed programs.json
var programsJSON []byte

// ProgramJSON is the JSON shape of a program (seed file and API).
type ProgramJSON struct {
	Code            string        `json:"code"`
	Name            string        `json:"name"`
	ProtocolVersion string        `json:"protocol_version"`
	Screening       ScreeningJSON `json:"screening"`
}

// ScreeningJSON is the JSON shape of a program's screening checklist.
type ScreeningJSON struct {
	Version     string         `json:"version"`
	AgeMin      int            `json:"age_min"`
	AgeMax      int            `json:"age_max"`
	Indications []string       `json:"indications"`
	Questions   []QuestionJSON `json:"questions"`
}

// QuestionJSON is one screening question.
type QuestionJSON struct {
	ID                  string `json:"id"`
	Text                string `json:"text"`
	Type                string `json:"type"`
	DisqualifyingAnswer bool   `json:"disqualifying_answer"`
}

// ToDomain converts to the domain program and validates it.
func (p ProgramJSON) ToDomain() (program.Program, error) {
	qs := make([]program.Question, len(p.Screening.Questions))
	for i, q := range p.Screening.Questions {
		qs[i] = program.Question{ID: q.ID, Text: q.Text, Type: q.Type, DisqualifyingAnswer: q.DisqualifyingAnswer}
	}
	out := program.Program{Code: p.Code, Name: p.Name, ProtocolVersion: p.ProtocolVersion, Screening: program.Screening{
		Version: p.Screening.Version, AgeMin: p.Screening.AgeMin, AgeMax: p.Screening.AgeMax,
		Indications: p.Screening.Indications, Questions: qs,
	}}
	if err := out.Validate(); err != nil {
		return program.Program{}, fmt.Errorf("program %s: %w", p.Code, err)
	}
	return out, nil
}

// FromDomain converts a domain program to its JSON shape.
func FromDomain(p program.Program) ProgramJSON {
	qs := make([]QuestionJSON, len(p.Screening.Questions))
	for i, q := range p.Screening.Questions {
		qs[i] = QuestionJSON{ID: q.ID, Text: q.Text, Type: q.Type, DisqualifyingAnswer: q.DisqualifyingAnswer}
	}
	ind := p.Screening.Indications
	if ind == nil {
		ind = []string{}
	}
	return ProgramJSON{Code: p.Code, Name: p.Name, ProtocolVersion: p.ProtocolVersion, Screening: ScreeningJSON{
		Version: p.Screening.Version, AgeMin: p.Screening.AgeMin, AgeMax: p.Screening.AgeMax, Indications: ind, Questions: qs,
	}}
}

// Programs returns the demo programs, validated.
func Programs() ([]program.Program, error) {
	var raw []ProgramJSON
	if err := json.Unmarshal(programsJSON, &raw); err != nil {
		return nil, fmt.Errorf("seed programs: %w", err)
	}
	out := make([]program.Program, 0, len(raw))
	for _, p := range raw {
		dp, err := p.ToDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, dp)
	}
	return out, nil
}
