package program_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation/validationtest"

	"github.com/clinicops/clinicops/pkg/validation"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
)

func msc() program.Program {
	return program.Program{
		Code: "msc", Name: "Mesenchymal stromal cells", ProtocolVersion: "2026-03",
		Screening: program.Screening{
			Version: "3", AgeMin: 18, AgeMax: 70,
			Indications: []string{"M05", "M06", "M32", "E10", "K50", "K51", "M34", "G35"},
			Questions: []program.Question{
				{ID: "q_active_infection", Text: "Active infection?", Type: "boolean", DisqualifyingAnswer: true},
				{ID: "q_pregnant", Text: "Pregnant or breastfeeding?", Type: "boolean", DisqualifyingAnswer: true},
				{ID: "q_consents_to_follow_up", Text: "Will attend follow-up visits?", Type: "boolean", DisqualifyingAnswer: false},
			},
		},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*program.Program)
		fields []string
	}{
		{"valid", func(*program.Program) {}, nil},
		{"dashed code", func(p *program.Program) { p.Code = "nk-autologous" }, nil},
		{"prefix and subcategory indications", func(p *program.Program) {
			p.Screening.Indications = []string{"M0", "G35.A", "m05.79", "M1A"}
		}, nil},
		{"no questions", func(p *program.Program) { p.Screening.Questions = nil }, nil},
		{"same min and max age", func(p *program.Program) { p.Screening.AgeMin, p.Screening.AgeMax = 18, 18 }, nil},
		{"upper-case code", func(p *program.Program) { p.Code = "MSC" }, []string{"code"}},
		{"one-letter code", func(p *program.Program) { p.Code = "m" }, []string{"code"}},
		{"code starting with digit", func(p *program.Program) { p.Code = "1msc" }, []string{"code"}},
		{"long code", func(p *program.Program) { p.Code = "m" + strings.Repeat("s", 41) }, []string{"code"}},
		{"no name", func(p *program.Program) { p.Name = "" }, []string{"name"}},
		{"untrimmed name", func(p *program.Program) { p.Name = " MSC" }, []string{"name"}},
		{"no protocol version", func(p *program.Program) { p.ProtocolVersion = "" }, []string{"protocol_version"}},
		{"no screening version", func(p *program.Program) { p.Screening.Version = "" }, []string{"screening.version"}},
		{"min above max", func(p *program.Program) { p.Screening.AgeMin = 71 }, []string{"screening.age_max"}},
		{"negative min", func(p *program.Program) { p.Screening.AgeMin = -1 }, []string{"screening.age_min"}},
		{"absurd max", func(p *program.Program) { p.Screening.AgeMax = 151 }, []string{"screening.age_max"}},
		{"no indications", func(p *program.Program) { p.Screening.Indications = nil }, []string{"screening.indications"}},
		{"bad indications", func(p *program.Program) {
			p.Screening.Indications = []string{"M05", "M", "05", "M05.", "M0.5", "M05.12345", ""}
		}, []string{
			"screening.indications[1]", "screening.indications[2]", "screening.indications[3]",
			"screening.indications[4]", "screening.indications[5]", "screening.indications[6]",
		}},
		{"duplicate question", func(p *program.Program) { p.Screening.Questions[2].ID = "q_pregnant" }, []string{"screening.questions[2].id"}},
		{"question id with a dot", func(p *program.Program) { p.Screening.Questions[0].ID = "q.infection" }, []string{"screening.questions[0].id"}},
		{"question without text", func(p *program.Program) { p.Screening.Questions[1].Text = "" }, []string{"screening.questions[1].text"}},
		{"non-boolean question", func(p *program.Program) { p.Screening.Questions[1].Type = "text" }, []string{"screening.questions[1].type"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := msc()
			p.Screening.Questions = append([]program.Question(nil), p.Screening.Questions...)
			tc.modify(&p)
			err := p.Validate()
			if tc.fields == nil {
				require.NoError(t, err)
				return
			}
			validationtest.RequireFields(t, err, tc.fields...)
		})
	}
}

func TestParseICD10(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, system, code string
		want               program.Indication
		fields             []string
	}{
		{"category", "ICD-10", "M05", program.Indication{System: "ICD-10", Code: "M05"}, nil},
		{"subcategory", "ICD-10", "M05.79", program.Indication{System: "ICD-10", Code: "M05.79"}, nil},
		{"CM letter subcategory", "ICD-10-CM", "G35.A", program.Indication{System: "ICD-10-CM", Code: "G35.A"}, nil},
		{"CM letter category", "ICD-10-CM", "M1A.011", program.Indication{System: "ICD-10-CM", Code: "M1A.011"}, nil},
		{"CM seven characters", "ICD-10-CM", "S72.001A", program.Indication{System: "ICD-10-CM", Code: "S72.001A"}, nil},
		{"normalised", " icd-10 ", " m05.79 ", program.Indication{System: "ICD-10", Code: "M05.79"}, nil},
		{"dotless", "ICD-10", "M0579", program.Indication{System: "ICD-10", Code: "M05.79"}, nil},
		{"no system", "", "M05", program.Indication{}, []string{"indication.system"}},
		{"other system", "SNOMED-CT", "M05", program.Indication{}, []string{"indication.system"}},
		{"ICD-11", "ICD-11", "M05", program.Indication{}, []string{"indication.system"}},
		{"no code", "ICD-10", " ", program.Indication{}, []string{"indication.code"}},
		{"prefix only", "ICD-10", "M0", program.Indication{}, []string{"indication.code"}},
		{"digit first", "ICD-10", "05.7", program.Indication{}, []string{"indication.code"}},
		{"trailing dot", "ICD-10", "M05.", program.Indication{}, []string{"indication.code"}},
		{"misplaced dot", "ICD-10", "M0.57", program.Indication{}, []string{"indication.code"}},
		{"two dots", "ICD-10", "M05.7.9", program.Indication{}, []string{"indication.code"}},
		{"too long", "ICD-10-CM", "S72.001AB", program.Indication{}, []string{"indication.code"}},
		{"punctuation", "ICD-10", "M05-79", program.Indication{}, []string{"indication.code"}},
		{"both bad", "X", "?", program.Indication{}, []string{"indication.system", "indication.code"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := program.ParseICD10(tc.system, tc.code)
			if tc.fields == nil {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			validationtest.RequireFields(t, err, tc.fields...)
		})
	}
}

func TestParseICD10DoesNotLeakInput(t *testing.T) {
	t.Parallel()
	_, err := program.ParseICD10("SECRET-SYSTEM", "Q99.SECRET")
	ve := validationtest.RequireValidation(t, err, "indication.system", "indication.code")
	require.NotContains(t, ve.Error(), "SECRET")
}

func TestAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		indications []string
		code        string
		want        bool
	}{
		{"category allows itself", []string{"M05"}, "M05", true},
		{"category allows subcategory", []string{"M05"}, "M05.79", true},
		{"dotless code", []string{"M05"}, "M0579", true},
		{"lower-case code", []string{"M05"}, "m05.79", true},
		{"lower-case entry", []string{"m05"}, "M05.79", true},
		{"short prefix allows a family", []string{"M0"}, "M05.79", true},
		{"dotted entry", []string{"G35.A"}, "G35.A", true},
		{"dotted entry allows its children", []string{"M05.7"}, "M05.79", true},
		{"dotted entry does not allow its parent", []string{"M05.7"}, "M05", false},
		{"dotted entry does not allow its sibling", []string{"M05.7"}, "M05.69", false},
		{"code is not a prefix of the entry", []string{"M05"}, "M0", false},
		{"other category", []string{"M05"}, "M06.9", false},
		{"G35 allows the 2025 split", []string{"G35"}, "G35.D", true},
		{"split entry does not allow G35", []string{"G35.A", "G35.B"}, "G35", false},
		{"second entry", []string{"E10", "K50"}, "K50.1", true},
		{"invalid code", []string{"M05"}, "M05.", false},
		{"empty code", []string{"M05"}, "", false},
		{"empty entry allows nothing", []string{""}, "M05", false},
		{"one-letter entry allows nothing", []string{"M"}, "M05", false},
		{"no entries", nil, "M05", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := program.Screening{Indications: tc.indications}
			require.Equal(t, tc.want, s.Allows(tc.code))
		})
	}
}

func TestQuestion(t *testing.T) {
	t.Parallel()
	q, ok := msc().Screening.Question("q_pregnant")
	require.True(t, ok)
	require.True(t, q.DisqualifyingAnswer)
	_, ok = msc().Screening.Question("q_unknown")
	require.False(t, ok)
}

func FuzzParseICD10(f *testing.F) {
	for _, s := range []struct{ system, code string }{
		{"ICD-10", "M05"}, {"ICD-10", "M05.79"}, {"ICD-10-CM", "G35.A"}, {"icd-10-cm", "m1a.011"},
		{"ICD-10", "M0579"}, {"ICD-10", "M05."}, {"ICD-10", "ı05"}, {"", ""}, {"ICD-11", "\xff"},
	} {
		f.Add(s.system, s.code, "M0")
	}
	f.Fuzz(func(t *testing.T, system, code, entry string) {
		ind, err := program.ParseICD10(system, code)
		s := program.Screening{Indications: []string{entry}}
		if err != nil {
			var ve *validation.Error
			require.True(t, errors.As(err, &ve), "not a validation error: %v", err)
			require.NotEmpty(t, ve.Fields)
			for _, fe := range ve.Fields {
				require.Contains(t, []string{"indication.system", "indication.code"}, fe.Field)
			}
			if ve.Has("indication.code") {
				require.False(t, s.Allows(code), "an invalid code is never allowed")
			}
			return
		}
		require.Contains(t, []string{program.SystemICD10, program.SystemICD10CM}, ind.System)
		again, err := program.ParseICD10(ind.System, ind.Code)
		require.NoError(t, err)
		require.Equal(t, ind, again, "normalisation is idempotent")
		require.Equal(t, s.Allows(code), s.Allows(ind.Code))
		require.Equal(t, s.Allows(ind.Code), s.Allows(ind.Dotless()))
		// Every valid code is allowed by itself and by its category.
		require.True(t, program.Screening{Indications: []string{ind.Code}}.Allows(ind.Code))
		require.True(t, program.Screening{Indications: []string{ind.Code[:3]}}.Allows(ind.Code))
	})
}
