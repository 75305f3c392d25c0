package screening_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/intake/internal/domain/screening"
)

// TestEvents: a new screening records one Completed with its own version
// and result; a stored one records nothing; a rejected one does not exist.
func TestEvents(t *testing.T) {
	t.Parallel()
	id, patientID := uuid.New(), uuid.New()
	pregnant := fine()
	pregnant["q_pregnant"] = true
	tests := []struct {
		name    string
		answers map[string]bool
		want    screening.Result
	}{
		{"eligible", fine(), screening.Result{Eligible: true}},
		{"not eligible", pregnant, screening.Result{Reasons: []screening.Reason{{
			Code: screening.ReasonDisqualifyingAnswer, Message: "the answer to q_pregnant disqualifies"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := screening.New(id, patientID, msc(), ra, tc.answers, born(1980, 5, 17), now, today)
			require.NoError(t, err)
			require.Equal(t, []screening.Event{screening.Completed{ScreeningID: id, PatientID: patientID,
				Version: s.Version(), At: now, Program: "msc", ScreeningVersion: "3", Result: tc.want}}, s.Events())
			require.EqualValues(t, 1, s.Version())

			evs := s.Events()
			if r := evs[0].(screening.Completed).Result; len(r.Reasons) > 0 {
				r.Reasons[0].Code = "changed"
			}
			require.Equal(t, tc.want, s.Events()[0].(screening.Completed).Result, "events are copies")
		})
	}
}
