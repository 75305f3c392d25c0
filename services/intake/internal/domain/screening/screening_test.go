package screening_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation/validationtest"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
	"github.com/clinicops/clinicops/services/intake/internal/domain/screening"
)

var (
	today = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	now   = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	ra    = program.Indication{System: "ICD-10", Code: "M05.79"}
)

func msc() program.Program {
	return program.Program{
		Code: "msc", Name: "Mesenchymal stromal cells", ProtocolVersion: "2026-03",
		Screening: program.Screening{
			Version: "3", AgeMin: 18, AgeMax: 70,
			Indications: []string{"M05", "M06", "M32", "G35"},
			Questions: []program.Question{
				{ID: "q_active_infection", Text: "Active infection?", Type: "boolean", DisqualifyingAnswer: true},
				{ID: "q_pregnant", Text: "Pregnant or breastfeeding?", Type: "boolean", DisqualifyingAnswer: true},
				{ID: "q_attends_follow_up", Text: "Will attend follow-up visits?", Type: "boolean", DisqualifyingAnswer: false},
			},
		},
	}
}

func fine() map[string]bool {
	return map[string]bool{"q_active_infection": false, "q_pregnant": false, "q_attends_follow_up": true}
}

func born(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func codes(r screening.Result) []string {
	var c []string
	for _, x := range r.Reasons {
		c = append(c, x.Code)
	}
	return c
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		birth   time.Time
		ind     program.Indication
		answers func(map[string]bool)
		reasons []string
	}{
		{"eligible", born(1980, 5, 17), ra, func(map[string]bool) {}, nil},
		{"exactly the minimum age", born(2008, 11, 21), ra, func(map[string]bool) {}, nil},
		{"one day short of the minimum", born(2008, 11, 22), ra, func(map[string]bool) {}, []string{screening.ReasonAgeBelowMinimum}},
		{"exactly the maximum age", born(1956, 1, 1), ra, func(map[string]bool) {}, nil},
		{"above the maximum", born(1955, 11, 21), ra, func(map[string]bool) {}, []string{screening.ReasonAgeAboveMaximum}},
		{"indication by prefix", born(1980, 5, 17), program.Indication{System: "icd-10-cm", Code: "g35.a"}, func(map[string]bool) {}, nil},
		{"indication not allowed", born(1980, 5, 17), program.Indication{System: "ICD-10", Code: "E10.9"},
			func(map[string]bool) {}, []string{screening.ReasonIndicationNotAllowed}},
		{"disqualifying yes", born(1980, 5, 17), ra, func(a map[string]bool) { a["q_pregnant"] = true },
			[]string{screening.ReasonDisqualifyingAnswer}},
		{"disqualifying no", born(1980, 5, 17), ra, func(a map[string]bool) { a["q_attends_follow_up"] = false },
			[]string{screening.ReasonDisqualifyingAnswer}},
		{"every reason", born(2010, 1, 1), program.Indication{System: "ICD-10", Code: "K50"}, func(a map[string]bool) {
			a["q_active_infection"], a["q_pregnant"], a["q_attends_follow_up"] = true, true, false
		}, []string{
			screening.ReasonAgeBelowMinimum, screening.ReasonIndicationNotAllowed,
			screening.ReasonDisqualifyingAnswer, screening.ReasonDisqualifyingAnswer, screening.ReasonDisqualifyingAnswer,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			answers := fine()
			tc.answers(answers)
			r, err := screening.Evaluate(msc(), tc.birth, tc.ind, answers, today)
			require.NoError(t, err)
			require.Equal(t, tc.reasons, codes(r))
			require.Equal(t, len(tc.reasons) == 0, r.Eligible)
		})
	}
}

func TestEvaluateMessages(t *testing.T) {
	t.Parallel()
	answers := fine()
	answers["q_pregnant"] = true
	r, err := screening.Evaluate(msc(), born(2010, 3, 4), program.Indication{System: "ICD-10", Code: "K50.1"}, answers, today)
	require.NoError(t, err)
	require.Equal(t, []screening.Reason{
		{Code: screening.ReasonAgeBelowMinimum, Message: "age is below the program minimum of 18"},
		{Code: screening.ReasonIndicationNotAllowed, Message: "the indication is not one the program treats"},
		{Code: screening.ReasonDisqualifyingAnswer, Message: "the answer to q_pregnant disqualifies"},
	}, r.Reasons)
	for _, reason := range r.Reasons {
		require.NotContains(t, reason.Message, "Pregnant", "messages name the question id, not its text")
		require.NotContains(t, reason.Message, "K50")
		require.NotContains(t, reason.Message, "16")
	}
}

func TestEvaluateInTheClinicsZone(t *testing.T) {
	t.Parallel()
	// Shanghai is already on the 18th birthday while UTC is still the day before.
	shanghai := time.FixedZone("CST", 8*3600)
	todayThere := time.Date(2026, 11, 21, 0, 0, 0, 0, shanghai)
	r, err := screening.Evaluate(msc(), born(2008, 11, 21), ra, fine(), todayThere)
	require.NoError(t, err)
	require.True(t, r.Eligible)
}

func TestEvaluateLeapDayBirth(t *testing.T) {
	t.Parallel()
	birth := born(2008, 2, 29)
	r, err := screening.Evaluate(msc(), birth, ra, fine(), born(2026, 2, 28))
	require.NoError(t, err)
	require.Equal(t, []string{screening.ReasonAgeBelowMinimum}, codes(r), "still 17 on Feb 28 of a common year")
	r, err = screening.Evaluate(msc(), birth, ra, fine(), born(2026, 3, 1))
	require.NoError(t, err)
	require.True(t, r.Eligible, "18 on Mar 1")
}

func TestEvaluateBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		birth    time.Time
		ind      program.Indication
		answers  func(map[string]bool)
		fields   []string
		messages []string
	}{
		{"missing answer", born(1980, 5, 17), ra, func(a map[string]bool) { delete(a, "q_pregnant") },
			[]string{"answers.q_pregnant"}, []string{"is required"}},
		{"no answers", born(1980, 5, 17), ra, func(a map[string]bool) { clear(a) },
			[]string{"answers.q_active_infection", "answers.q_pregnant", "answers.q_attends_follow_up"}, nil},
		{"unknown question", born(1980, 5, 17), ra, func(a map[string]bool) { a["q_smoker"] = false },
			[]string{"answers.q_smoker"}, []string{"is not a question of this program"}},
		{"unknown questions sorted", born(1980, 5, 17), ra, func(a map[string]bool) { a["q_z"], a["q_a"] = true, true },
			[]string{"answers.q_a", "answers.q_z"}, nil},
		{"unknown key that is not an identifier", born(1980, 5, 17), ra, func(a map[string]bool) { a["王小明 13800138000"] = true },
			[]string{"answers"}, []string{"has a key that is not a question of this program"}},
		{"missing and unknown", born(1980, 5, 17), ra, func(a map[string]bool) {
			delete(a, "q_pregnant")
			a["q_Pregnant"] = false
		}, []string{"answers.q_pregnant", "answers.q_Pregnant"}, nil},
		{"invalid indication", born(1980, 5, 17), program.Indication{System: "ICD-9", Code: "714.0"}, func(map[string]bool) {},
			[]string{"indication.system", "indication.code"}, nil},
		{"no birth date", time.Time{}, ra, func(map[string]bool) {}, []string{"birth_date"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			answers := fine()
			tc.answers(answers)
			_, err := screening.Evaluate(msc(), tc.birth, tc.ind, answers, today)
			ve := validationtest.RequireValidation(t, err, tc.fields...)
			for i, m := range tc.messages {
				require.Equal(t, m, ve.Fields[i].Message)
			}
			require.NotContains(t, ve.Error(), "王小明")
			require.NotContains(t, ve.Error(), "714")
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	id, patientID := uuid.New(), uuid.New()
	answers := fine()
	s, err := screening.New(id, patientID, msc(), program.Indication{System: " icd-10 ", Code: "m0579"}, answers,
		born(1980, 5, 17), now, today)
	require.NoError(t, err)
	require.Equal(t, id, s.ID())
	require.Equal(t, patientID, s.PatientID())
	require.Equal(t, "msc", s.Program())
	require.Equal(t, "3", s.ScreeningVersion())
	require.Equal(t, "2026-03", s.ProtocolVersion())
	require.Equal(t, ra, s.Indication())
	require.Equal(t, answers, s.Answers())
	require.True(t, s.Eligible())
	require.Equal(t, screening.Result{Eligible: true}, s.Result())
	require.Equal(t, now, s.CompletedAt())

	// The aggregate keeps its own copy of the answers.
	answers["q_pregnant"] = true
	s.Answers()["q_active_infection"] = true
	require.Equal(t, fine(), s.Answers())

	ineligible := fine()
	ineligible["q_active_infection"] = true
	s, err = screening.New(id, patientID, msc(), ra, ineligible, born(1980, 5, 17), now, today)
	require.NoError(t, err, "an ineligible screening is still recorded")
	require.False(t, s.Eligible())
	require.Equal(t, []string{screening.ReasonDisqualifyingAnswer}, codes(s.Result()))

	_, err = screening.New(id, patientID, msc(), ra, map[string]bool{}, born(1980, 5, 17), now, today)
	validationtest.RequireFields(t, err, "answers.q_active_infection", "answers.q_pregnant", "answers.q_attends_follow_up")
}

func TestUnmarshalScreeningFromDatabase(t *testing.T) {
	t.Parallel()
	id, patientID := uuid.New(), uuid.New()
	res := screening.Result{Reasons: []screening.Reason{{Code: screening.ReasonAgeAboveMaximum, Message: "m"}}}
	s := screening.UnmarshalScreeningFromDatabase(id, patientID, "msc", "2026-03", "3", ra, fine(), res, now, 1)
	require.Equal(t, id, s.ID())
	require.Equal(t, patientID, s.PatientID())
	require.Equal(t, "msc", s.Program())
	require.Equal(t, "2026-03", s.ProtocolVersion())
	require.Equal(t, "3", s.ScreeningVersion())
	require.Equal(t, ra, s.Indication())
	require.Equal(t, fine(), s.Answers())
	require.Equal(t, res, s.Result())
	require.False(t, s.Eligible())
	require.Equal(t, now, s.CompletedAt())
	require.EqualValues(t, 1, s.Version())
	require.Empty(t, s.Events(), "a stored screening has recorded nothing")
}

func FuzzEvaluate(f *testing.F) {
	f.Add("ICD-10", "M05.79", int64(3_600), int64(0), uint8(0b111), uint8(0), "")
	f.Add("ICD-10-CM", "G35.A", int64(-20_000), int64(0), uint8(0b101), uint8(0b111), "q_smoker")
	f.Add("icd-10", "k50", int64(20_000), int64(10), uint8(0), uint8(0), "王小明")
	f.Add("", "", int64(0), int64(0), uint8(0b011), uint8(0b010), "q_pregnant")
	f.Fuzz(func(t *testing.T, system, code string, birthDays, todayOffset int64, present, values uint8, extra string) {
		p := msc()
		birth := time.Unix(0, 0).UTC().AddDate(0, 0, int(birthDays%100_000))
		day := today.AddDate(0, 0, int(todayOffset%100_000))
		answers := map[string]bool{}
		for i, q := range p.Screening.Questions {
			if present&(1<<i) != 0 {
				answers[q.ID] = values&(1<<i) != 0
			}
		}
		if extra != "" {
			answers[extra] = true
		}
		r, err := screening.Evaluate(p, birth, program.Indication{System: system, Code: code}, answers, day)
		if err != nil {
			var ve *validation.Error
			require.True(t, errors.As(err, &ve), "not a validation error: %v", err)
			require.NotEmpty(t, ve.Fields)
			for _, fe := range ve.Fields {
				require.True(t, fe.Field == "answers" || fe.Field == "birth_date" || strings.HasPrefix(fe.Field, "answers.") ||
					strings.HasPrefix(fe.Field, "indication."), fe.Field)
				require.NotEmpty(t, fe.Message)
			}
			return
		}
		require.Equal(t, len(r.Reasons) == 0, r.Eligible)
		for _, reason := range r.Reasons {
			require.Contains(t, []string{
				screening.ReasonAgeBelowMinimum, screening.ReasonAgeAboveMaximum,
				screening.ReasonIndicationNotAllowed, screening.ReasonDisqualifyingAnswer,
			}, reason.Code)
			require.NotEmpty(t, reason.Message)
		}
	})
}
