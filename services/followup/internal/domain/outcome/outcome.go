// Package outcome holds outcome scores per cycle and their scoring rules:
// the valid range of each measure, its bands, and the HbA1c conversion.
// Pure Go.
package outcome

import (
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/clinicops/clinicops/pkg/validation"
)

// Measure is what is scored.
type Measure string

// Measures.
const (
	DAS28 Measure = "DAS28" // rheumatoid arthritis disease activity, 0-10
	EDSS  Measure = "EDSS"  // multiple sclerosis disability, 0-10 in steps of 0.5
	CDAI  Measure = "CDAI"  // Crohn's disease activity index, 0-600
	HbA1c Measure = "HbA1c" // glycated haemoglobin, stored in percent (NGSP)
)

// Units an HbA1c is given in.
const (
	UnitPercent = "%"
	UnitMmolMol = "mmol/mol"
)

// HbA1c's plausible range in percent (IFCC 9-195 mmol/mol): outside it
// the value is a typo.
const (
	minHbA1cMilli = 3_000
	maxHbA1cMilli = 20_000
)

// PercentFromMmolMol converts an IFCC HbA1c to NGSP percent by the
// IFCC-NGSP master equation: % = mmol/mol / 10.929 + 2.15.
func PercentFromMmolMol(mmol float64) float64 { return mmol/10.929 + 2.15 }

// Score is a validated value of a measure: thousandths of its unit (HbA1c
// in percent) and its band.
type Score struct {
	Measure    Measure
	ValueMilli int64
	Band       string
}

// NewScore validates value, given in unit, for measure (field names are
// the API's) and bands it:
//   - DAS28 from 0 to 10: below 2.6 remission, to 3.2 low, to 5.1
//     moderate, above 5.1 high;
//   - EDSS from 0 to 10 in steps of 0.5, no band;
//   - CDAI from 0 to 600: below 150 remission, else no band;
//   - HbA1c in % (3-20) or mmol/mol (converted to %), no band.
//
// Only HbA1c takes a unit; the others take none (or their own name).
func NewScore(measure string, value float64, unit string) (Score, error) {
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return Score{}, validation.Field("value", "must be a number")
	}
	m := Measure(measure)
	if m != HbA1c && unit != "" {
		return Score{}, validation.Field("unit", "only an HbA1c takes a unit")
	}
	milli := int64(math.Round(value * 1000))
	switch m {
	case DAS28:
		if milli < 0 || milli > 10_000 {
			return Score{}, validation.Field("value", "a DAS28 is from 0 to 10")
		}
		return Score{Measure: m, ValueMilli: milli, Band: das28Band(milli)}, nil
	case EDSS:
		if milli < 0 || milli > 10_000 || milli%500 != 0 {
			return Score{}, validation.Field("value", "an EDSS is from 0 to 10 in steps of 0.5")
		}
		return Score{Measure: m, ValueMilli: milli}, nil
	case CDAI:
		if milli < 0 || milli > 600_000 {
			return Score{}, validation.Field("value", "a CDAI is from 0 to 600")
		}
		s := Score{Measure: m, ValueMilli: milli}
		if milli < 150_000 {
			s.Band = "remission"
		}
		return s, nil
	case HbA1c:
		return hba1c(value, unit)
	}
	return Score{}, validation.Field("measure", "must be DAS28, EDSS, CDAI or HbA1c")
}

func das28Band(milli int64) string {
	switch {
	case milli < 2_600:
		return "remission"
	case milli <= 3_200:
		return "low"
	case milli <= 5_100:
		return "moderate"
	}
	return "high"
}

func hba1c(value float64, unit string) (Score, error) {
	percent := value
	switch unit {
	case UnitPercent:
	case UnitMmolMol:
		percent = PercentFromMmolMol(value)
	default:
		return Score{}, validation.Field("unit", "an HbA1c is in % or mmol/mol")
	}
	milli := int64(math.Round(percent * 1000))
	if milli < minHbA1cMilli || milli > maxHbA1cMilli {
		return Score{}, validation.Field("value", "an HbA1c is from 3 to 20 % (9 to 195 mmol/mol)")
	}
	return Score{Measure: HbA1c, ValueMilli: milli}, nil
}

// Outcome is a score recorded for a course's cycle.
type Outcome struct {
	ID         uuid.UUID
	PatientID  uuid.UUID
	CourseID   uuid.UUID
	Cycle      int
	Score      Score
	MeasuredAt time.Time
	RecordedAt time.Time
	Version    int64
}

// New validates the rest of an outcome around its score.
func New(id, patientID, courseID uuid.UUID, cycle int, score Score, measuredAt, now time.Time) (Outcome, error) {
	var l validation.List
	if patientID == uuid.Nil {
		l.Add("patient_id", "is required")
	}
	if courseID == uuid.Nil {
		l.Add("course_id", "is required")
	}
	if cycle < 1 || cycle > 1000 {
		l.Add("cycle", "must be from 1")
	}
	if measuredAt.IsZero() {
		l.Add("measured_at", "is required")
	} else if measuredAt.After(now.Add(time.Minute)) {
		l.Add("measured_at", "must not be in the future")
	}
	if err := l.Err(); err != nil {
		return Outcome{}, err
	}
	return Outcome{ID: id, PatientID: patientID, CourseID: courseID, Cycle: cycle, Score: score,
		MeasuredAt: measuredAt.UTC(), RecordedAt: now, Version: 1}, nil
}
