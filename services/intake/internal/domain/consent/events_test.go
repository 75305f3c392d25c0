package consent_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/intake/internal/domain/consent"
)

// TestEvents checks that every command records exactly the events it
// causes, and none when it fails or changes nothing.
func TestEvents(t *testing.T) {
	t.Parallel()
	id, patientID := uuid.New(), uuid.New()
	later := now.Add(24 * time.Hour)
	stored := func(status consent.Status) *consent.Consent {
		return consent.UnmarshalConsentFromDatabase(id, patientID, treatment(), status, time.Time{}, "", 1, now, now)
	}
	sloppy := treatment()
	sloppy.Program = " msc "
	tests := []struct {
		name    string
		command func(*testing.T) *consent.Consent
		want    []consent.Event
	}{
		{"record", func(t *testing.T) *consent.Consent {
			c, err := consent.New(id, patientID, sloppy, now)
			require.NoError(t, err)
			return c
		}, []consent.Event{consent.Recorded{ConsentID: id, PatientID: patientID, Version: 1, At: now, Input: treatment()}}},
		{"loaded from the database", func(*testing.T) *consent.Consent { return stored(consent.StatusActive) }, nil},
		{"withdraw", func(t *testing.T) *consent.Consent {
			c := stored(consent.StatusActive)
			require.NoError(t, c.Withdraw(" moved abroad ", later))
			return c
		}, []consent.Event{consent.Withdrawn{ConsentID: id, PatientID: patientID, Version: 2, At: later,
			Kind: consent.KindTreatment, Program: treatment().Program, Reason: "moved abroad"}}},
		{"record then withdraw", func(t *testing.T) *consent.Consent {
			c, err := consent.New(id, patientID, treatment(), now)
			require.NoError(t, err)
			require.NoError(t, c.Withdraw("moved", later))
			require.ErrorIs(t, c.Withdraw("again", later), consent.ErrAlreadyWithdrawn)
			return c
		}, []consent.Event{
			consent.Recorded{ConsentID: id, PatientID: patientID, Version: 1, At: now, Input: treatment()},
			consent.Withdrawn{ConsentID: id, PatientID: patientID, Version: 2, At: later,
				Kind: consent.KindTreatment, Program: treatment().Program, Reason: "moved"},
		}},
		{"withdraw a withdrawn consent", func(t *testing.T) *consent.Consent {
			c := stored(consent.StatusWithdrawn)
			require.ErrorIs(t, c.Withdraw("again", later), consent.ErrAlreadyWithdrawn)
			return c
		}, nil},
		{"withdraw without a reason", func(t *testing.T) *consent.Consent {
			c := stored(consent.StatusActive)
			require.Error(t, c.Withdraw(" ", later))
			return c
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.command(t).Events())
		})
	}
}
