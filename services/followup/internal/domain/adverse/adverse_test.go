package adverse_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/followup/internal/domain/adverse"
)

func TestNewValidatesTheGradeOnItsScale(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	ok := adverse.Input{PatientID: uuid.New(), CourseID: uuid.New(), Term: "Cytokine release syndrome", Scale: "ASTCT",
		Grade: 3, OnsetAt: now.Add(-time.Hour), ProductID: "G123426000001Y"}
	for _, tc := range []struct {
		name  string
		edit  func(*adverse.Input)
		field string
	}{
		{name: "valid", edit: func(*adverse.Input) {}},
		{name: "ASTCT 4", edit: func(in *adverse.Input) { in.Grade = 4 }},
		{name: "ASTCT 5", edit: func(in *adverse.Input) { in.Grade = 5 }, field: "grade"},
		{name: "CTCAE 5", edit: func(in *adverse.Input) { in.Scale, in.Grade = "CTCAE", 5 }},
		{name: "CTCAE 6", edit: func(in *adverse.Input) { in.Scale, in.Grade = "CTCAE", 6 }, field: "grade"},
		{name: "grade 0", edit: func(in *adverse.Input) { in.Grade = 0 }, field: "grade"},
		{name: "other scale", edit: func(in *adverse.Input) { in.Scale = "WHO" }, field: "scale"},
		{name: "no term", edit: func(in *adverse.Input) { in.Term = " " }, field: "term"},
		{name: "onset ahead", edit: func(in *adverse.Input) { in.OnsetAt = now.Add(time.Hour) }, field: "onset_at"},
		{name: "DIN without check character", edit: func(in *adverse.Input) { in.ProductID = "G123426000001" }, field: "product_id"},
		{name: "unknown outcome", edit: func(in *adverse.Input) { in.Outcome = "better" }, field: "outcome"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := ok
			tc.edit(&in)
			_, err := adverse.New(uuid.New(), in, now)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var ve *validation.Error
			require.ErrorAs(t, err, &ve)
			require.True(t, ve.Has(tc.field), ve.Error())
		})
	}
}

func TestReportableFromGradeThreeFatalAtCTCAEFive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scale             adverse.Scale
		grade             int
		reportable, fatal bool
	}{
		{adverse.CTCAE, 2, false, false}, {adverse.CTCAE, 3, true, false}, {adverse.CTCAE, 5, true, true},
		{adverse.ASTCT, 2, false, false}, {adverse.ASTCT, 3, true, false}, {adverse.ASTCT, 4, true, false},
	} {
		e := adverse.Event{Scale: tc.scale, Grade: tc.grade}
		require.Equal(t, tc.reportable, e.Reportable(), "%s %d", tc.scale, tc.grade)
		require.Equal(t, tc.fatal, e.Fatal(), "%s %d", tc.scale, tc.grade)
	}
}
