package checkin_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/followup/internal/domain/checkin"
)

func celsius(c float64) *float64 { return &c }

func TestNewAnswersValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		temp     *float64
		symptoms []string
		field    string
		deci     int
	}{
		{name: "none taken"},
		{name: "one decimal", temp: celsius(38.5), deci: 385},
		{name: "lowest", temp: celsius(34.0), deci: 340},
		{name: "highest", temp: celsius(43.0), deci: 430},
		{name: "too cold", temp: celsius(33.9), field: "temperature_celsius"},
		{name: "too hot", temp: celsius(43.1), field: "temperature_celsius"},
		{name: "two decimals", temp: celsius(38.05), field: "temperature_celsius"},
		{name: "unknown symptom", symptoms: []string{"fever", "cough"}, field: "symptoms[1]"},
		{name: "twice", symptoms: []string{"rash", "rash"}, field: "symptoms[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := checkin.NewAnswers(tc.temp, tc.symptoms, "felt fine", checkin.ByNurse)
			if tc.field != "" {
				var ve *validation.Error
				require.ErrorAs(t, err, &ve)
				require.True(t, ve.Has(tc.field), ve.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.deci, a.TemperatureDeci)
		})
	}
}

func TestAssessEscalation(t *testing.T) {
	t.Parallel()
	infused := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	answers := func(deci int, s ...checkin.Symptom) checkin.Answers {
		return checkin.Answers{TemperatureDeci: deci, Symptoms: s}
	}
	for _, tc := range []struct {
		name    string
		a       checkin.Answers
		after   time.Duration
		want    bool
		scale   string
		grade   int
		reasons []string
	}{
		{name: "fever at 38.0 within 48h", a: answers(380), after: 47 * time.Hour, want: true, scale: "ASTCT", grade: 1, reasons: []string{"fever_within_48h"}},
		{name: "fever exactly at 48h", a: answers(390), after: 48 * time.Hour, want: true, scale: "ASTCT", grade: 1, reasons: []string{"fever_within_48h"}},
		{name: "37.9 is no fever", a: answers(379, checkin.Fever), after: time.Hour},
		{name: "fever after 48h", a: answers(385), after: 49 * time.Hour},
		{name: "shortness of breath, any time", a: answers(0, checkin.ShortnessOfBreath), after: 20 * 24 * time.Hour, want: true, scale: "CTCAE", grade: 2, reasons: []string{"shortness_of_breath"}},
		{name: "fever and shortness of breath", a: answers(392, checkin.ShortnessOfBreath), after: 3 * time.Hour, want: true, scale: "ASTCT", grade: 2, reasons: []string{"fever_within_48h", "shortness_of_breath"}},
		{name: "fatigue and headache", a: answers(372, checkin.Fatigue, checkin.Headache), after: time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := checkin.Assess(tc.a, infused, infused.Add(tc.after))
			require.Equal(t, tc.want, ok)
			if ok {
				require.Equal(t, tc.scale, got.Scale)
				require.Equal(t, tc.grade, got.Grade)
				require.Equal(t, tc.reasons, got.Reasons)
			}
		})
	}
}

func TestPlanDueAtTheEndOfEachDayInTheClinicsZone(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	// 23:30 in Shanghai on 1 December: the infusion's date is the 1st there.
	base := checkin.CheckIn{AppointmentID: uuid.New(), InfusedAt: time.Date(2026, 12, 1, 15, 30, 0, 0, time.UTC)}
	plan := checkin.Plan(base, checkin.DefaultDays, shanghai)
	require.Len(t, plan, 5)
	require.Equal(t, "2026-12-02", plan[0].DueDate.Format(time.DateOnly))
	require.Equal(t, time.Date(2026, 12, 3, 0, 0, 0, 0, shanghai).UTC(), plan[0].DueAt)
	require.Equal(t, "2026-12-31", plan[4].DueDate.Format(time.DateOnly))
	again := checkin.Plan(base, checkin.DefaultDays, shanghai)
	require.Equal(t, plan[2].ID, again[2].ID, "ids are derived from the infusion and the day")
	require.NotEqual(t, plan[1].ID, plan[2].ID)
}
