package consent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/pkg/validation/validationtest"

	"github.com/clinicops/clinicops/services/intake/internal/domain/consent"
)

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func treatment() consent.Input {
	return consent.Input{
		Kind: consent.KindTreatment, Program: "msc", FormVersion: "TC-2026-03",
		SignedAt: now.Add(-time.Hour), SignedBy: consent.SignedByPatient, ProtocolID: "IRB-2025-117",
	}
}

func TestParseKind(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"treatment", "data_processing", "research", "contact_sms", "contact_email"} {
		got, err := consent.ParseKind(k)
		require.NoError(t, err)
		require.Equal(t, consent.Kind(k), got)
	}
	for _, k := range []string{"", "Treatment", "contact", "sms", "treatment "} {
		_, err := consent.ParseKind(k)
		validationtest.RequireFields(t, err, "kind")
	}
}

func TestParseSignedBy(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"patient", "guardian"} {
		got, err := consent.ParseSignedBy(s)
		require.NoError(t, err)
		require.Equal(t, consent.SignedBy(s), got)
	}
	for _, s := range []string{"", "doctor", "Patient"} {
		_, err := consent.ParseSignedBy(s)
		validationtest.RequireFields(t, err, "signed_by")
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*consent.Input)
		fields []string
	}{
		{"treatment under a protocol", func(*consent.Input) {}, nil},
		{"treatment under a trial", func(in *consent.Input) { in.ProtocolID, in.TrialID = "", "NCT01234567" }, nil},
		{"signed by a guardian", func(in *consent.Input) { in.SignedBy = consent.SignedByGuardian }, nil},
		{"signed within the clock skew", func(in *consent.Input) { in.SignedAt = now.Add(5 * time.Minute) }, nil},
		{"research under a trial", func(in *consent.Input) {
			in.Kind, in.ProtocolID, in.TrialID = consent.KindResearch, "", "NCT01234567"
		}, nil},
		{"research without program", func(in *consent.Input) {
			in.Kind, in.Program, in.TrialID = consent.KindResearch, "", "NCT01234567"
		}, nil},
		{"data processing", func(in *consent.Input) { in.Kind, in.Program, in.ProtocolID = consent.KindDataProcessing, "", "" }, nil},
		{"contact by sms", func(in *consent.Input) { in.Kind, in.Program, in.ProtocolID = consent.KindContactSMS, "", "" }, nil},
		{"contact by e-mail", func(in *consent.Input) { in.Kind, in.Program, in.ProtocolID = consent.KindContactEmail, "", "" }, nil},
		{"unknown kind", func(in *consent.Input) { in.Kind = "marketing" }, []string{"kind"}},
		{"treatment without program", func(in *consent.Input) { in.Program = " " }, []string{"program"}},
		{"treatment with a malformed program", func(in *consent.Input) { in.Program = "MSC!" }, []string{"program"}},
		{"contact with a program", func(in *consent.Input) { in.Kind, in.ProtocolID = consent.KindContactSMS, "" }, []string{"program"}},
		{"data processing with a program", func(in *consent.Input) { in.Kind = consent.KindDataProcessing }, []string{"program"}},
		{"no form version", func(in *consent.Input) { in.FormVersion = "" }, []string{"form_version"}},
		{"long form version", func(in *consent.Input) { in.FormVersion = strings.Repeat("v", 51) }, []string{"form_version"}},
		{"not signed", func(in *consent.Input) { in.SignedAt = time.Time{} }, []string{"signed_at"}},
		{"signed in the future", func(in *consent.Input) { in.SignedAt = now.Add(5*time.Minute + time.Second) }, []string{"signed_at"}},
		{"no signer", func(in *consent.Input) { in.SignedBy = "" }, []string{"signed_by"}},
		{"unknown signer", func(in *consent.Input) { in.SignedBy = "nurse" }, []string{"signed_by"}},
		{"treatment without protocol or trial", func(in *consent.Input) { in.ProtocolID = "  " }, []string{"protocol_id"}},
		{"research without trial", func(in *consent.Input) { in.Kind = consent.KindResearch }, []string{"trial_id"}},
		{"everything wrong", func(in *consent.Input) {
			*in = consent.Input{Kind: consent.KindTreatment, SignedBy: "x"}
		}, []string{"program", "form_version", "signed_at", "signed_by", "protocol_id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := treatment()
			tc.modify(&in)
			id, patientID := uuid.New(), uuid.New()
			c, err := consent.New(id, patientID, in, now)
			if tc.fields != nil {
				validationtest.RequireFields(t, err, tc.fields...)
				return
			}
			require.NoError(t, err)
			require.Equal(t, id, c.ID())
			require.Equal(t, patientID, c.PatientID())
			require.Equal(t, in.Kind, c.Kind())
			require.Equal(t, strings.TrimSpace(in.Program), c.Program())
			require.Equal(t, in.FormVersion, c.FormVersion())
			require.Equal(t, in.SignedAt, c.SignedAt())
			require.Equal(t, in.SignedBy, c.SignedBy())
			require.Equal(t, in.ProtocolID, c.ProtocolID())
			require.Equal(t, in.TrialID, c.TrialID())
			require.Equal(t, consent.StatusActive, c.Status())
			require.True(t, c.Active())
			require.Equal(t, int64(1), c.Version())
			require.Equal(t, now, c.CreatedAt())
			require.Equal(t, now, c.UpdatedAt())
		})
	}
}

func TestWithdraw(t *testing.T) {
	t.Parallel()
	later := now.Add(24 * time.Hour)
	tests := []struct {
		name    string
		reason  string
		wantErr func(*testing.T, error)
	}{
		{"withdraws", "  patient moved abroad ", nil},
		{"multi-line reason", "moved\nabroad", nil},
		{"no reason", "  ", func(t *testing.T, err error) { validationtest.RequireFields(t, err, "reason") }},
		{"long reason", strings.Repeat("r", 501), func(t *testing.T, err error) { validationtest.RequireFields(t, err, "reason") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := consent.New(uuid.New(), uuid.New(), treatment(), now)
			require.NoError(t, err)
			err = c.Withdraw(tc.reason, later)
			if tc.wantErr != nil {
				tc.wantErr(t, err)
				require.True(t, c.Active())
				require.Equal(t, int64(1), c.Version())
				return
			}
			require.NoError(t, err)
			require.Equal(t, consent.StatusWithdrawn, c.Status())
			require.False(t, c.Active())
			require.Equal(t, strings.TrimSpace(tc.reason), c.WithdrawalReason())
			require.Equal(t, later, c.WithdrawnAt())
			require.Equal(t, int64(2), c.Version())
			require.Equal(t, later, c.UpdatedAt())

			require.ErrorIs(t, c.Withdraw("again", later), consent.ErrAlreadyWithdrawn)
			require.Equal(t, int64(2), c.Version())
		})
	}
}

func TestUnmarshalConsentFromDatabase(t *testing.T) {
	t.Parallel()
	id, patientID := uuid.New(), uuid.New()
	c := consent.UnmarshalConsentFromDatabase(id, patientID, treatment(), consent.StatusWithdrawn, now, "moved", 2, now.Add(-time.Hour), now)
	require.Equal(t, id, c.ID())
	require.Equal(t, treatment(), c.Input())
	require.False(t, c.Active())
	require.Equal(t, "moved", c.WithdrawalReason())
	require.Equal(t, int64(2), c.Version())
	require.ErrorIs(t, c.Withdraw("x", now), consent.ErrAlreadyWithdrawn)
}

func TestActiveTreatmentFor(t *testing.T) {
	t.Parallel()
	patientID := uuid.New()
	mk := func(modify func(*consent.Input)) *consent.Consent {
		in := treatment()
		modify(&in)
		c, err := consent.New(uuid.New(), patientID, in, now)
		require.NoError(t, err)
		return c
	}
	older := mk(func(in *consent.Input) { in.SignedAt = now.Add(-48 * time.Hour) })
	newer := mk(func(in *consent.Input) { in.SignedAt = now.Add(-24 * time.Hour) })
	withdrawn := mk(func(*consent.Input) {})
	require.NoError(t, withdrawn.Withdraw("changed mind", now))
	otherProgram := mk(func(in *consent.Input) { in.Program = "nk-autologous" })
	research := mk(func(in *consent.Input) { in.Kind, in.TrialID = consent.KindResearch, "NCT01234567" })

	tests := []struct {
		name     string
		consents []*consent.Consent
		program  string
		want     *consent.Consent
	}{
		{"none", nil, "msc", nil},
		{"the only one", []*consent.Consent{older}, "msc", older},
		{"the most recently signed", []*consent.Consent{older, newer, withdrawn}, "msc", newer},
		{"withdrawn does not count", []*consent.Consent{withdrawn}, "msc", nil},
		{"other program does not count", []*consent.Consent{otherProgram}, "msc", nil},
		{"research for the program does not count", []*consent.Consent{research}, "msc", nil},
		{"other program found", []*consent.Consent{older, otherProgram}, "nk-autologous", otherProgram},
		{"nil entries are skipped", []*consent.Consent{nil, older}, "msc", older},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Same(t, tc.want, consent.ActiveTreatmentFor(tc.consents, tc.program))
		})
	}
}
