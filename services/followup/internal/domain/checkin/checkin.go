// Package checkin holds the post-infusion check-in: its schedule, the
// questionnaire's answers and the rule that turns answers into an
// escalation for the on-call clinician. Pure Go.
package checkin

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
)

// DefaultDays are the days after an infusion a check-in is due when the
// program's protocol says nothing else.
var DefaultDays = []int{1, 3, 7, 14, 30}

// Status is where a check-in stands.
type Status string

// Statuses.
const (
	Pending  Status = "pending"
	Recorded Status = "recorded"
	Overdue  Status = "overdue"
)

// ParseStatus reads a status from the API.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case Pending, Recorded, Overdue:
		return st, nil
	}
	return "", fmt.Errorf("status %q: want pending, recorded or overdue", s)
}

// Symptom is one answer from the closed list.
type Symptom string

// The symptoms a check-in asks about.
const (
	Chills               Symptom = "chills"
	Fever                Symptom = "fever"
	Fatigue              Symptom = "fatigue"
	Headache             Symptom = "headache"
	Rash                 Symptom = "rash"
	ShortnessOfBreath    Symptom = "shortness_of_breath"
	InjectionSiteRedness Symptom = "injection_site_redness"
)

// Symptoms is the closed list, in the questionnaire's order.
var Symptoms = []Symptom{Chills, Fever, Fatigue, Headache, Rash, ShortnessOfBreath, InjectionSiteRedness}

// Recorder is who answered.
type Recorder string

// Recorders.
const (
	ByNurse   Recorder = "nurse"
	ByPatient Recorder = "patient"
)

// Temperature limits, in tenths of a degree Celsius: outside them the
// reading is a typo (or a broken thermometer), not a patient.
const (
	MinTemperature = 340
	MaxTemperature = 430
	// FeverThreshold is 38.0 °C: ASTCT's fever for CRS.
	FeverThreshold = 380
)

// FeverWindow is how long after the infusion a fever escalates.
const FeverWindow = 48 * time.Hour

// MaxNote is the free text's limit in characters.
const MaxNote = 2000

// Answers are a check-in's answers. Note is free text: it is stored and
// shown to staff, never logged and never put in an event.
type Answers struct {
	// TemperatureDeci is tenths of a degree Celsius; 0 when not taken.
	TemperatureDeci int
	Symptoms        []Symptom
	Note            string
	By              Recorder
}

// NewAnswers validates the questionnaire: a temperature in °C with at most
// one decimal from 34.0 to 43.0 (nil when not taken), symptoms from the
// list (each once), a note of at most MaxNote characters. Field names are
// the API's.
func NewAnswers(celsius *float64, symptoms []string, note string, by Recorder) (Answers, error) {
	var l validation.List
	a := Answers{By: by}
	if celsius != nil {
		deci, msg := parseCelsius(*celsius)
		if msg != "" {
			l.Add("temperature_celsius", msg)
		}
		a.TemperatureDeci = deci
	}
	for i, s := range symptoms {
		sym := Symptom(s)
		switch {
		case !slices.Contains(Symptoms, sym):
			l.Add("symptoms["+strconv.Itoa(i)+"]", "must be one of chills, fever, fatigue, headache, rash, shortness_of_breath, injection_site_redness")
		case slices.Contains(a.Symptoms, sym):
			l.Add("symptoms["+strconv.Itoa(i)+"]", "is listed twice")
		default:
			a.Symptoms = append(a.Symptoms, sym)
		}
	}
	a.Note = l.CheckText("note", note, false, MaxNote, true)
	if by != ByNurse && by != ByPatient {
		return Answers{}, errors.New("answers must be recorded by a nurse or the patient")
	}
	if err := l.Err(); err != nil {
		return Answers{}, err
	}
	return a, nil
}

func parseCelsius(c float64) (int, string) {
	tenths := c * 10
	deci := math.Round(tenths)
	switch {
	case math.IsNaN(c) || math.IsInf(c, 0):
		return 0, "must be a number"
	case math.Abs(tenths-deci) > 1e-6:
		return 0, "must have at most one decimal"
	case deci < MinTemperature || deci > MaxTemperature:
		return 0, "must be from 34.0 to 43.0 °C"
	}
	return int(deci), ""
}

// CheckIn is one check-in of one infusion.
type CheckIn struct {
	ID            uuid.UUID
	AppointmentID uuid.UUID
	PatientID     uuid.UUID
	CourseID      uuid.UUID
	ProductID     string
	// InfusedAt is when the infusion it follows ended.
	InfusedAt time.Time
	Day       int
	// DueDate is the day it is due, in the clinic's zone; DueAt is the end
	// of that day, when an unanswered check-in becomes overdue.
	DueDate    time.Time
	DueAt      time.Time
	Status     Status
	Answers    Answers
	RecordedAt time.Time
	Escalated  bool
	Version    int64
}

// Plan lays out the check-ins of one infusion: one per day after the
// infusion's date in loc, due by the end of that day.
func Plan(base CheckIn, days []int, loc *time.Location) []CheckIn {
	y, m, d := base.InfusedAt.In(loc).Date()
	out := make([]CheckIn, 0, len(days))
	for _, day := range days {
		c := base
		c.ID = uuid.NewSHA1(base.AppointmentID, []byte("check-in/"+strconv.Itoa(day)))
		c.Day = day
		c.DueDate = time.Date(y, m, d+day, 0, 0, 0, 0, time.UTC)
		c.DueAt = time.Date(y, m, d+day+1, 0, 0, 0, 0, loc).UTC()
		c.Status, c.Version = Pending, 1
		out = append(out, c)
	}
	return out
}

// Errors of a check-in's changes.
var (
	ErrNotFound        = errors.New("check-in not found")
	ErrAlreadyRecorded = errors.New("the check-in is already answered")
)

// Record answers the check-in. An overdue one may still be answered late
// (the answers matter more than the lateness).
func (c *CheckIn) Record(a Answers, at time.Time) error {
	if c.Status == Recorded {
		return ErrAlreadyRecorded
	}
	c.Answers, c.RecordedAt, c.Status = a, at, Recorded
	c.Version++
	return nil
}

// MarkOverdue turns a pending check-in overdue; it reports whether it did
// (an answered or already overdue one is left alone).
func (c *CheckIn) MarkOverdue() bool {
	if c.Status != Pending {
		return false
	}
	c.Status = Overdue
	c.Version++
	return true
}

// Assessment is a suggested escalation: why, and a suggested grade a
// clinician confirms or corrects.
type Assessment struct {
	Reasons []string
	Scale   string
	Grade   int
}

// Reasons for an escalation.
const (
	ReasonFever             = "fever_within_48h"
	ReasonShortnessOfBreath = "shortness_of_breath"
)

// Assess applies the escalation rule to answers recorded at `at` for an
// infusion that ended at infusedAt:
//   - a measured temperature of 38.0 °C or more within 48 hours of the
//     infusion escalates (a "fever" ticked without a reading does not: the
//     rule is the measured ASTCT fever; the nurse takes the temperature);
//   - shortness of breath escalates, at any time.
//
// The suggested grade follows ASTCT's consensus, in which fever is required
// for cytokine release syndrome: fever alone suggests ASTCT CRS grade 1;
// fever with shortness of breath suggests ASTCT grade 2 (dyspnoea stands
// for possible hypoxia, which makes grade 2 or more; the oxygen need decides
// the real grade, and the clinician grades it). Shortness of breath without
// such a fever is not CRS under ASTCT, so it suggests CTCAE grade 2
// (dyspnoea limiting activity). The bool is false when nothing escalates.
func Assess(a Answers, infusedAt, at time.Time) (Assessment, bool) {
	since := at.Sub(infusedAt)
	fever := a.TemperatureDeci >= FeverThreshold && since >= 0 && since <= FeverWindow
	breath := slices.Contains(a.Symptoms, ShortnessOfBreath)
	switch {
	case fever && breath:
		return Assessment{Reasons: []string{ReasonFever, ReasonShortnessOfBreath}, Scale: "ASTCT", Grade: 2}, true
	case fever:
		return Assessment{Reasons: []string{ReasonFever}, Scale: "ASTCT", Grade: 1}, true
	case breath:
		return Assessment{Reasons: []string{ReasonShortnessOfBreath}, Scale: "CTCAE", Grade: 2}, true
	}
	return Assessment{}, false
}
