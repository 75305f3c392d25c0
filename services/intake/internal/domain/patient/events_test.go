package patient_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/clinicops/clinicops/services/intake/internal/domain/patient"
)

// TestEvents checks that every command records exactly the events it
// causes: one Registered for a new patient, one Updated per real change,
// none for a no-op, a stale version or bad input, none for a stored patient.
func TestEvents(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	stored := func() *patient.Patient {
		p, err := patient.NewPatient(id, valid(), now)
		require.NoError(t, err)
		return patient.UnmarshalPatientFromDatabase(id, p.Details(), 1, now, now)
	}
	moved := valid()
	moved.Phone = "+8613800138999"
	moved.TimeZone = "Europe/Berlin"
	movedNormalised := moved
	sloppy := valid()
	sloppy.FamilyName = "  王 "    // the same name once trimmed
	sloppy.PreferredLanguage = "" // the default, zh-CN
	bad := valid()
	bad.Email = "not-an-address"

	tests := []struct {
		name    string
		command func(*testing.T) *patient.Patient
		want    []patient.Event
	}{
		{"register", func(t *testing.T) *patient.Patient {
			p, err := patient.NewPatient(id, valid(), now)
			require.NoError(t, err)
			return p
		}, []patient.Event{patient.Registered{PatientID: id, Version: 1, At: now, Details: valid()}}},
		{"loaded from the database", func(*testing.T) *patient.Patient { return stored() }, nil},
		{"update", func(t *testing.T) *patient.Patient {
			p := stored()
			require.NoError(t, p.Update(moved, 1, later))
			return p
		}, []patient.Event{patient.Updated{PatientID: id, Version: 2, At: later, Details: movedNormalised}}},
		{"register then update", func(t *testing.T) *patient.Patient {
			p, err := patient.NewPatient(id, valid(), now)
			require.NoError(t, err)
			require.NoError(t, p.Update(moved, 1, later))
			return p
		}, []patient.Event{
			patient.Registered{PatientID: id, Version: 1, At: now, Details: valid()},
			patient.Updated{PatientID: id, Version: 2, At: later, Details: movedNormalised},
		}},
		{"two updates", func(t *testing.T) *patient.Patient {
			p := stored()
			require.NoError(t, p.Update(moved, 1, later))
			require.NoError(t, p.Update(valid(), 2, later.Add(time.Hour)))
			return p
		}, []patient.Event{
			patient.Updated{PatientID: id, Version: 2, At: later, Details: movedNormalised},
			patient.Updated{PatientID: id, Version: 3, At: later.Add(time.Hour), Details: valid()},
		}},
		{"no-op update", func(t *testing.T) *patient.Patient {
			p := stored()
			require.NoError(t, p.Update(valid(), 1, later))
			return p
		}, nil},
		{"no-op once normalised", func(t *testing.T) *patient.Patient {
			p := stored()
			require.NoError(t, p.Update(sloppy, 1, later))
			return p
		}, nil},
		{"stale version", func(t *testing.T) *patient.Patient {
			p := stored()
			require.ErrorIs(t, p.Update(moved, 7, later), patient.ErrVersionMismatch)
			return p
		}, nil},
		{"bad input", func(t *testing.T) *patient.Patient {
			p := stored()
			var ve *patient.ValidationError
			require.ErrorAs(t, p.Update(bad, 1, later), &ve)
			return p
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tc.command(t)
			require.Equal(t, tc.want, p.Events())
		})
	}
}

// TestEventsAreCopies: a caller cannot change what the patient recorded.
func TestEventsAreCopies(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	d := full()
	p, err := patient.NewPatient(uuid.New(), d, now)
	require.NoError(t, err)
	evs := p.Events()
	evs[0] = patient.Updated{}
	reg := p.Events()[0].(patient.Registered)
	reg.Details.Address.City = "changed"
	require.IsType(t, patient.Registered{}, p.Events()[0])
	require.Equal(t, "北京", p.Events()[0].(patient.Registered).Details.Address.City)
	require.Equal(t, "北京", p.Details().Address.City)
}
