package course_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation/validationtest"

	"github.com/clinicops/clinicops/services/intake/internal/domain/consent"
	"github.com/clinicops/clinicops/services/intake/internal/domain/course"
	"github.com/clinicops/clinicops/services/intake/internal/domain/program"
	"github.com/clinicops/clinicops/services/intake/internal/domain/screening"
)

var (
	now   = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	today = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	birth = time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC)
	ra    = program.Indication{System: "ICD-10", Code: "M05.79"}
)

func msc() program.Program {
	return program.Program{
		Code: "msc", Name: "Mesenchymal stromal cells", ProtocolVersion: "2026-03",
		Screening: program.Screening{
			Version: "3", AgeMin: 18, AgeMax: 70, Indications: []string{"M05", "G35"},
			Questions: []program.Question{
				{ID: "q_active_infection", Text: "Active infection?", Type: "boolean", DisqualifyingAnswer: true},
			},
		},
	}
}

func input() course.Input {
	return course.Input{Program: "msc", Indication: ra, PreferredStart: today.AddDate(0, 0, 14), Notes: "mornings only"}
}

// fixture is one patient's consents and screenings.
type fixture struct {
	patientID  uuid.UUID
	consents   []*consent.Consent
	screenings []*screening.Screening
}

func newFixture() *fixture { return &fixture{patientID: uuid.New()} }

func (f *fixture) consent(t *testing.T, prog string) *consent.Consent {
	t.Helper()
	c, err := consent.New(uuid.New(), f.patientID, consent.Input{
		Kind: consent.KindTreatment, Program: prog, FormVersion: "TC-3", SignedAt: now.Add(-time.Hour),
		SignedBy: consent.SignedByPatient, ProtocolID: "IRB-2025-117",
	}, now)
	require.NoError(t, err)
	f.consents = append(f.consents, c)
	return c
}

func (f *fixture) screening(t *testing.T, p program.Program, infection bool, completedAt time.Time) *screening.Screening {
	t.Helper()
	s, err := screening.New(uuid.New(), f.patientID, p, ra, map[string]bool{"q_active_infection": infection}, birth, completedAt, today)
	require.NoError(t, err)
	f.screenings = append(f.screenings, s)
	return s
}

func (f *fixture) request(in course.Input, maxAge time.Duration) (*course.Course, error) {
	return course.Request(uuid.New(), f.patientID, in, f.consents, f.screenings, msc(), maxAge, now, today)
}

func requireMissing(t *testing.T, err error, codes ...string) {
	t.Helper()
	var pe *course.PreconditionError
	require.True(t, errors.As(err, &pe), "want a precondition error, got %v", err)
	got := make([]string, len(pe.Missing))
	for i, m := range pe.Missing {
		got[i] = m.Code
		require.NotEmpty(t, m.Message)
	}
	require.Equal(t, codes, got)
}

func TestRequest(t *testing.T) {
	t.Parallel()
	f := newFixture()
	c := f.consent(t, "msc")
	f.screening(t, msc(), false, now.Add(-30*24*time.Hour))
	latest := f.screening(t, msc(), false, now.Add(-2*24*time.Hour))
	id := uuid.New()
	in := input()
	in.Indication = program.Indication{System: "icd-10", Code: "m0579"}
	in.PreferredStart = time.Date(2026, 12, 5, 15, 0, 0, 0, time.FixedZone("CST", 8*3600))
	in.Notes = "  mornings only\nvegetarian  "

	got, err := course.Request(id, f.patientID, in, f.consents, f.screenings, msc(), 0, now, today)
	require.NoError(t, err)
	require.Equal(t, id, got.ID())
	require.Equal(t, f.patientID, got.PatientID())
	require.Equal(t, "msc", got.Program())
	require.Equal(t, ra, got.Indication())
	require.Equal(t, time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), got.PreferredStart())
	require.Equal(t, "mornings only\nvegetarian", got.Notes())
	require.Equal(t, "2026-03", got.ProtocolVersion())
	require.Equal(t, c.ID(), got.ConsentID())
	require.Equal(t, latest.ID(), got.ScreeningID())
	require.Equal(t, course.StatusRequested, got.Status())
	require.Equal(t, int64(1), got.Version())
	require.Equal(t, now, got.CreatedAt())
	require.Equal(t, now, got.UpdatedAt())
}

func TestRequestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*course.Input)
		fields []string
	}{
		{"starts today", func(in *course.Input) { in.PreferredStart = today.Add(23 * time.Hour) }, nil},
		{"no notes", func(in *course.Input) { in.Notes = "" }, nil},
		{"notes of 2000 characters", func(in *course.Input) { in.Notes = strings.Repeat("注", 2000) }, nil},
		{"indication by prefix", func(in *course.Input) { in.Indication = program.Indication{System: "ICD-10-CM", Code: "G35.B"} }, nil},
		{"no preferred start", func(in *course.Input) { in.PreferredStart = time.Time{} }, []string{"preferred_start"}},
		{"preferred start yesterday", func(in *course.Input) { in.PreferredStart = today.AddDate(0, 0, -1) }, []string{"preferred_start"}},
		{"notes too long", func(in *course.Input) { in.Notes = strings.Repeat("注", 2001) }, []string{"notes"}},
		{"notes with control characters", func(in *course.Input) { in.Notes = "a\x07b" }, []string{"notes"}},
		{"no program", func(in *course.Input) { in.Program = "" }, []string{"program"}},
		{"another program", func(in *course.Input) { in.Program = "nk-autologous" }, []string{"program"}},
		{"invalid indication", func(in *course.Input) { in.Indication = program.Indication{System: "ICD-10", Code: "M05."} }, []string{"indication.code"}},
		{"no indication system", func(in *course.Input) { in.Indication.System = "" }, []string{"indication.system"}},
		{"indication not allowed", func(in *course.Input) { in.Indication = program.Indication{System: "ICD-10", Code: "E10"} }, []string{"indication.code"}},
		{"everything wrong", func(in *course.Input) {
			*in = course.Input{Indication: program.Indication{System: "ICD-10", Code: "K50"}, Notes: strings.Repeat("x", 2001)}
		}, []string{"program", "preferred_start", "notes", "indication.code"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture()
			f.consent(t, "msc")
			f.screening(t, msc(), false, now.Add(-time.Hour))
			in := input()
			tc.modify(&in)
			c, err := f.request(in, 0)
			if tc.fields == nil {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			validationtest.RequireFields(t, err, tc.fields...)
		})
	}
}

func TestRequestBadInputBeforePreconditions(t *testing.T) {
	t.Parallel()
	f := newFixture() // neither consent nor screening
	in := input()
	in.PreferredStart = time.Time{}
	_, err := f.request(in, 0)
	validationtest.RequireFields(t, err, "preferred_start")
}

func TestRequestPreconditions(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	newer := msc()
	newer.Screening.Version = "4"
	tests := []struct {
		name    string
		setup   func(*testing.T, *fixture)
		maxAge  time.Duration
		missing []string
	}{
		{"both present", func(t *testing.T, f *fixture) {
			f.consent(t, "msc")
			f.screening(t, msc(), false, now.Add(-day))
		}, 0, nil},
		{"nothing at all lists both", func(*testing.T, *fixture) {}, 0,
			[]string{course.MissingTreatmentConsent, course.MissingEligibleScreening}},
		{"no consent", func(t *testing.T, f *fixture) { f.screening(t, msc(), false, now) }, 0,
			[]string{course.MissingTreatmentConsent}},
		{"consent withdrawn", func(t *testing.T, f *fixture) {
			require.NoError(t, f.consent(t, "msc").Withdraw("changed mind", now))
			f.screening(t, msc(), false, now)
		}, 0, []string{course.MissingTreatmentConsent}},
		{"consent for another program", func(t *testing.T, f *fixture) {
			f.consent(t, "nk-autologous")
			f.screening(t, msc(), false, now)
		}, 0, []string{course.MissingTreatmentConsent}},
		{"consent of another patient", func(t *testing.T, f *fixture) {
			other := newFixture()
			f.consents = append(f.consents, other.consent(t, "msc"))
			f.screening(t, msc(), false, now)
		}, 0, []string{course.MissingTreatmentConsent}},
		{"no screening", func(t *testing.T, f *fixture) { f.consent(t, "msc") }, 0,
			[]string{course.MissingEligibleScreening}},
		{"ineligible screening", func(t *testing.T, f *fixture) {
			f.consent(t, "msc")
			f.screening(t, msc(), true, now)
		}, 0, []string{course.MissingEligibleScreening}},
		{"screening exactly 90 days old", func(t *testing.T, f *fixture) {
			f.consent(t, "msc")
			f.screening(t, msc(), false, now.Add(-90*day))
		}, 0, nil},
		{"screening older than 90 days", func(t *testing.T, f *fixture) {
			f.consent(t, "msc")
			f.screening(t, msc(), false, now.Add(-90*day-time.Second))
		}, 0, []string{course.MissingEligibleScreening}},
		{"configured shorter age", func(t *testing.T, f *fixture) {
			f.consent(t, "msc")
			f.screening(t, msc(), false, now.Add(-8*day))
		}, 7 * day, []string{course.MissingEligibleScreening}},
		{"configured longer age", func(t *testing.T, f *fixture) {
			f.consent(t, "msc")
			f.screening(t, msc(), false, now.Add(-120*day))
		}, 180 * day, nil},
		{"eligible then ineligible still counts the eligible one", func(t *testing.T, f *fixture) {
			f.consent(t, "msc")
			f.screening(t, msc(), false, now.Add(-10*day))
			f.screening(t, msc(), true, now.Add(-day))
		}, 0, nil},
		{"screening for another program", func(t *testing.T, f *fixture) {
			f.consent(t, "msc")
			p := msc()
			p.Code = "nk-autologous"
			f.screening(t, p, false, now)
		}, 0, []string{course.MissingEligibleScreening}},
		{"screening of an older checklist version", func(t *testing.T, f *fixture) {
			f.consent(t, "msc")
			f.screening(t, newer, false, now)
		}, 0, []string{course.MissingEligibleScreening}},
		{"screening of another patient", func(t *testing.T, f *fixture) {
			f.consent(t, "msc")
			other := newFixture()
			f.screenings = append(f.screenings, other.screening(t, msc(), false, now))
		}, 0, []string{course.MissingEligibleScreening}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture()
			tc.setup(t, f)
			c, err := f.request(input(), tc.maxAge)
			if tc.missing == nil {
				require.NoError(t, err)
				require.Equal(t, course.StatusRequested, c.Status())
				return
			}
			require.Nil(t, c)
			requireMissing(t, err, tc.missing...)
		})
	}
}

func TestPreconditionErrorMessages(t *testing.T) {
	t.Parallel()
	_, err := newFixture().request(input(), 0)
	var pe *course.PreconditionError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, []course.Missing{
		{Code: course.MissingTreatmentConsent, Message: "no active treatment consent for this program"},
		{Code: course.MissingEligibleScreening, Message: "no eligible screening for this program's current screening version in the last 90 days"},
	}, pe.Missing)
	require.Equal(t, "course preconditions not met: treatment_consent, eligible_screening", err.Error())
}

func TestCancel(t *testing.T) {
	t.Parallel()
	later := now.Add(time.Hour)
	tests := []struct {
		name    string
		reason  string
		wantErr func(*testing.T, error)
	}{
		{"cancels", " patient unwell ", nil},
		{"no reason", " ", func(t *testing.T, err error) { validationtest.RequireFields(t, err, "reason") }},
		{"long reason", strings.Repeat("r", 501), func(t *testing.T, err error) { validationtest.RequireFields(t, err, "reason") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture()
			f.consent(t, "msc")
			f.screening(t, msc(), false, now)
			c, err := f.request(input(), 0)
			require.NoError(t, err)
			err = c.Cancel(tc.reason, later)
			if tc.wantErr != nil {
				tc.wantErr(t, err)
				require.Equal(t, course.StatusRequested, c.Status())
				require.Equal(t, int64(1), c.Version())
				return
			}
			require.NoError(t, err)
			require.Equal(t, course.StatusCancelled, c.Status())
			require.Equal(t, "patient unwell", c.CancellationReason())
			require.Equal(t, later, c.CancelledAt())
			require.Equal(t, int64(2), c.Version())
			require.Equal(t, later, c.UpdatedAt())
			require.Equal(t, now, c.CreatedAt())

			require.ErrorIs(t, c.Cancel("again", later), course.ErrAlreadyCancelled)
			require.Equal(t, int64(2), c.Version())
		})
	}
}

func TestUnmarshalCourseFromDatabase(t *testing.T) {
	t.Parallel()
	id, patientID, consentID, screeningID := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	c := course.UnmarshalCourseFromDatabase(id, patientID, input(), "2026-03", consentID, screeningID,
		course.StatusCancelled, now, "unwell", 2, now.Add(-time.Hour), now)
	require.Equal(t, id, c.ID())
	require.Equal(t, patientID, c.PatientID())
	require.Equal(t, input(), c.Input())
	require.Equal(t, "2026-03", c.ProtocolVersion())
	require.Equal(t, consentID, c.ConsentID())
	require.Equal(t, screeningID, c.ScreeningID())
	require.Equal(t, course.StatusCancelled, c.Status())
	require.Equal(t, "unwell", c.CancellationReason())
	require.Equal(t, int64(2), c.Version())
	require.ErrorIs(t, c.Cancel("x", now), course.ErrAlreadyCancelled)
}
