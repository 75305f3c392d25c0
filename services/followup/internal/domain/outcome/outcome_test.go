package outcome_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/followup/internal/domain/outcome"
)

func TestScoresAreValidatedAndBanded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		measure string
		value   float64
		unit    string
		milli   int64
		band    string
		field   string
	}{
		{measure: "DAS28", value: 2.59, milli: 2590, band: "remission"},
		{measure: "DAS28", value: 2.6, milli: 2600, band: "low"},
		{measure: "DAS28", value: 3.2, milli: 3200, band: "low"},
		{measure: "DAS28", value: 3.21, milli: 3210, band: "moderate"},
		{measure: "DAS28", value: 5.1, milli: 5100, band: "moderate"},
		{measure: "DAS28", value: 5.11, milli: 5110, band: "high"},
		{measure: "DAS28", value: 10, milli: 10000, band: "high"},
		{measure: "DAS28", value: 10.01, field: "value"},
		{measure: "DAS28", value: -0.1, field: "value"},
		{measure: "EDSS", value: 0, milli: 0},
		{measure: "EDSS", value: 6.5, milli: 6500},
		{measure: "EDSS", value: 6.3, field: "value"},
		{measure: "EDSS", value: 10.5, field: "value"},
		{measure: "CDAI", value: 149.9, milli: 149900, band: "remission"},
		{measure: "CDAI", value: 150, milli: 150000, band: ""},
		{measure: "CDAI", value: 600, milli: 600000},
		{measure: "CDAI", value: 601, field: "value"},
		{measure: "CDAI", value: 100, unit: "%", field: "unit"},
		{measure: "HbA1c", value: 6.5, unit: "%", milli: 6500},
		// 48 mmol/mol is the diabetes threshold, 6.5 %: 48 / 10.929 + 2.15 = 6.542.
		{measure: "HbA1c", value: 48, unit: "mmol/mol", milli: 6542},
		{measure: "HbA1c", value: 64, unit: "mmol/mol", milli: 8006}, // 64 / 10.929 + 2.15 = 8.00598
		{measure: "HbA1c", value: 6.5, field: "unit"},
		{measure: "HbA1c", value: 65, unit: "%", field: "value"},
		{measure: "HbA1c", value: 300, unit: "mmol/mol", field: "value"},
		{measure: "BMI", value: 22, field: "measure"},
	} {
		s, err := outcome.NewScore(tc.measure, tc.value, tc.unit)
		if tc.field != "" {
			var ve *validation.Error
			require.ErrorAs(t, err, &ve, "%s %v", tc.measure, tc.value)
			require.True(t, ve.Has(tc.field), ve.Error())
			continue
		}
		require.NoError(t, err, "%s %v", tc.measure, tc.value)
		require.Equal(t, tc.milli, s.ValueMilli, "%s %v", tc.measure, tc.value)
		require.Equal(t, tc.band, s.Band, "%s %v", tc.measure, tc.value)
	}
}
